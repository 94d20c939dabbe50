"""The JSON Schema of the `lutetia-cohort/1` interchange document (CONTRACT.md).

`cohort.schema.json` is a byte-identical copy of `../shared/cohort.schema.json`;
a test keeps the two from drifting apart.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

FORMAT = "lutetia-cohort/1"
SCHEMA_PATH = Path(__file__).with_name("cohort.schema.json")


@cache
def cohort_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


@cache
def cohort_validator() -> Draft202012Validator:
    """A validator that also checks `"format": "date"` (2020-12 only annotates it by default)."""
    schema = cohort_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@cache
def fast_validators() -> tuple[Any, Any] | None:
    """Compiled (Rust) validators for the whole document and for one patient, if installed.

    They only answer "valid or not", quickly: a 10,000-patient document is
    checked in a second. The messages still come from `cohort_validator`,
    run on the parts the fast check refused.
    """
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - an optional speed-up
        return None
    schema = cohort_schema()
    patient = {"$ref": "#/$defs/patient", "$defs": schema["$defs"]}
    return (
        jsonschema_rs.Draft202012Validator(schema, validate_formats=True),
        jsonschema_rs.Draft202012Validator(patient, validate_formats=True),
    )


@cache
def patient_validator() -> Draft202012Validator:
    schema = cohort_schema()
    patient = {"$ref": "#/$defs/patient", "$defs": schema["$defs"]}
    return Draft202012Validator(patient, format_checker=Draft202012Validator.FORMAT_CHECKER)
