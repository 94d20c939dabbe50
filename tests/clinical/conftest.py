"""Shared helpers of the clinical-engine tests (pure Python, no Django)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REFERENCE = Path(__file__).resolve().parents[1] / "reference"  # the project's own copies


def load_reference(name: str) -> Any:
    return json.loads((REFERENCE / name).read_text())
