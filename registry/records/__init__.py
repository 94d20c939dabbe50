"""The clinician's side: writing and correcting facts, and the patient pages.

Owns `save_fact`/`delete_fact` (validation, optimistic versions, the audit
trail through django-simple-history, recompute on commit), corrections and
response overrides, the pre-cycle checks, staff accounts, the selectors of the
patient list, page and history, the entry and correction forms, and their
views and URLs. Everything that writes a clinical fact goes through here.
"""
