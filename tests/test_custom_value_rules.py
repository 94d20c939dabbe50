"""`check_value`, the rule every write path applies to a custom value: property tests on
both sides of each bound (bounded: a few hundred examples, no database)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.models.custom import Definition, check_value, check_values

FINITE = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)


@settings(max_examples=300, deadline=None)
@given(low=FINITE, width=st.floats(min_value=0, max_value=1e6), value=FINITE)
def test_a_number_is_kept_inside_its_range_and_refused_outside(low, width, value):
    high = low + width
    d = Definition("x", "patient", "number", "X", minimum=low, maximum=high)
    cleaned, message = check_value(d, value)
    if low <= value <= high:
        assert (cleaned, message) == (value, None)
    else:
        assert cleaned is None and message.startswith(("At least", "At most"))


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(FINITE, st.integers(-(10**6), 10**6), st.booleans(), st.text(max_size=5)))
def test_an_integer_field_takes_whole_numbers_only(value):
    cleaned, message = check_value(Definition("n", "course", "integer", "N"), value)
    whole = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and float(value).is_integer()
    )
    assert (message is None) == whole
    if whole:
        assert cleaned == int(value) and isinstance(cleaned, int)


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(st.text(max_size=6), st.integers(), st.booleans(), st.none()))
def test_a_choice_is_one_of_its_codes(value):
    d = Definition("c", "scan", "choice", "C", choices=(("a", "A"), ("b-1", "B")))
    cleaned, message = check_value(d, value)
    if value is None:
        assert (cleaned, message) == (None, None)
    else:
        assert (message is None) == (value in ("a", "b-1"))


def test_values_of_another_level_or_unknown_codes_are_named():
    definitions = {"x": Definition("x", "patient", "boolean", "X")}
    cleaned, errors = check_values("course", {"x": True, "y": 1, "z": None}, definitions)
    assert cleaned == {} and set(errors) == {"x", "y", "z"}  # an unknown code, even null
    assert check_values("patient", {"x": True, "q": None}, definitions)[1] == {
        "q": ["No custom field 'q' is defined."]
    }
    assert check_values("patient", [1], definitions)[1] == {
        "": ["Custom values are an object {code: value}."]
    }
