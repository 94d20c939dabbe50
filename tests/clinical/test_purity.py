"""registry/clinical is plain Python: no Django import anywhere (STYLE.md, issue 3)."""

from __future__ import annotations

import ast
from pathlib import Path

CLINICAL = Path(__file__).resolve().parents[2] / "registry" / "clinical"


def test_no_django_import() -> None:
    modules = sorted(CLINICAL.glob("*.py"))
    assert len(modules) >= 9
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(("django", "rest_framework", "celery")), (path, name)
                assert not name.startswith("registry.") or name.startswith("registry.clinical"), (
                    path,
                    name,
                )


def test_public_functions_name_their_section() -> None:
    import inspect

    import registry.clinical as package

    for path in sorted(CLINICAL.glob("*.py")):
        if path.stem in ("__init__", "facts"):
            continue
        module = __import__(f"{package.__name__}.{path.stem}", fromlist=["_"])
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or fn.__module__ != module.__name__:
                continue
            assert fn.__doc__ and "§" in fn.__doc__, f"{path.stem}.{name}"
