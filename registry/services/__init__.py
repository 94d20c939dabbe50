"""Write paths and shared reads: the browser, the API, the import and the admin all go here."""
