"""The REST API's views: facts (CRUD), computed results, imports and sign-in."""
