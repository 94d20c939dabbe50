"""The project carries its own copies of what its tests need from ../shared (the
schemas and the published reference numbers); where ../shared is beside the project
(the developers' machines, CI), the copies must be byte-identical to it."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
COPIES = {
    "cohort.schema.json": ROOT / "registry/interchange/schema/cohort.schema.json",
    "cohort-v2.schema.json": ROOT / "registry/interchange/schema/cohort-v2.schema.json",
    **{
        f"reference/{name}": ROOT / "tests/reference" / name
        for name in (
            "ctcae_v5_vectors.json",
            "example_cohort.json",
            "example_expected.json",
            "km_aml.json",
        )
    },
}


@pytest.mark.parametrize("name", sorted(COPIES))
def test_the_project_has_its_copy(name):
    assert COPIES[name].stat().st_size > 100


@pytest.mark.parametrize("name", sorted(COPIES))
def test_copies_match_shared_when_it_is_there(name):
    if not (SHARED / name).exists():
        pytest.skip("../shared is not beside the project (only the developers' machines have it)")
    assert COPIES[name].read_bytes() == (SHARED / name).read_bytes()
