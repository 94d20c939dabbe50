"""Scheduling the recomputation of derived results (DESIGN.md, "How data flows")."""

from __future__ import annotations

from collections.abc import Iterable


def schedule_recompute(patient_ids: Iterable[int]) -> None:
    """Mark the patients stale and queue their recomputation after commit.

    Placeholder until the recompute pipeline lands (issue 4).
    """
    return None
