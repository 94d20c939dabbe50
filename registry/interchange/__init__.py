"""The cohort document (`lutetia-cohort`): schema, validation, import, export, jobs.

`documents.import_document`/`export_document` are the one all-or-nothing path
used by `manage.py import_cohort`, `POST /api/v1/imports/` (through `jobs` and
`tasks`) and the demo cohort (`demo`). `build` checks a document and turns it
into rows, `facts` reads and compares a patient's stored facts, `write`
stores them in bulk.
"""
