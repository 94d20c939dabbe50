"""The JSON Schemas of the interchange documents (CONTRACT.md).

`cohort.schema.json` (`lutetia-cohort/1`) and `cohort-v2.schema.json`
(`lutetia-cohort/2`, a superset) are byte-identical copies of the files in
`../shared/`; a test keeps them from drifting apart. The registry imports
both versions and exports version 2.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

FORMAT_V1 = "lutetia-cohort/1"
FORMAT_V2 = "lutetia-cohort/2"
FORMAT = FORMAT_V2  # what the registry writes
SCHEMA_FILES = {
    FORMAT_V1: Path(__file__).with_name("cohort.schema.json"),
    FORMAT_V2: Path(__file__).with_name("cohort-v2.schema.json"),
}
SCHEMA_PATH = SCHEMA_FILES[FORMAT_V1]


def version_of(doc: Any) -> str:
    """The format a document claims; anything but version 1 is checked as version 2
    (whose schema then names a wrong `format`)."""
    if isinstance(doc, dict) and doc.get("format") == FORMAT_V1:
        return FORMAT_V1
    return FORMAT_V2


@cache
def cohort_schema(fmt: str = FORMAT_V1) -> dict[str, Any]:
    return json.loads(SCHEMA_FILES[fmt].read_text())


@cache
def cohort_validator(fmt: str = FORMAT_V1) -> Draft202012Validator:
    """A validator that also checks `"format": "date"` (2020-12 only annotates it by default)."""
    schema = cohort_schema(fmt)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@cache
def fast_validators(fmt: str = FORMAT_V1) -> tuple[Any, Any] | None:
    """Compiled (Rust) validators for the whole document and for one patient, if installed.

    They only answer "valid or not", quickly: a 10,000-patient document is
    checked in a second. The messages still come from `cohort_validator`,
    run on the parts the fast check refused.
    """
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - an optional speed-up
        return None
    schema = cohort_schema(fmt)
    patient = {"$ref": "#/$defs/patient", "$defs": schema["$defs"]}
    return (
        jsonschema_rs.Draft202012Validator(schema, validate_formats=True),
        jsonschema_rs.Draft202012Validator(patient, validate_formats=True),
    )


@cache
def patient_validator(fmt: str = FORMAT_V1) -> Draft202012Validator:
    schema = cohort_schema(fmt)
    patient = {"$ref": "#/$defs/patient", "$defs": schema["$defs"]}
    return Draft202012Validator(patient, format_checker=Draft202012Validator.FORMAT_CHECKER)
