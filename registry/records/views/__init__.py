"""The clinician's pages: patient list and page, entry forms, corrections."""
