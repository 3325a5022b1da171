"""The dependency rule, read from the source: the domain imports no other layer; projections and adapters
import no entry point; adapters import no projection. The imports the read-side ports will remove (issue 12)
are listed by name, so a new one fails here and a removed one must be struck off."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "domain": ("adapters", "projections", "api"),
    "projections": ("adapters", "api"),
    "adapters": ("projections", "api"),
}
# Known debt: the read models are still SQLite-typed (no read-side port yet).
KNOWN = {
    ("projections/queries.py", "adapters.sqlite.read_store"),
    ("projections/read_model_projection.py", "adapters.sqlite.read_store"),
    ("projections/vector_projection.py", "adapters.sqlite.read_store"),
    ("adapters/rag/components.py", "projections.queries"),
    ("adapters/rag/pipeline.py", "projections.queries"),
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def violations() -> set[tuple[str, str]]:
    found = set()
    for layer, banned in FORBIDDEN.items():
        for path in (ROOT / layer).rglob("*.py"):
            for module in imports(path):
                if module.split(".")[0] in banned:
                    found.add((path.relative_to(ROOT).as_posix(), module))
    return found


def test_no_layer_imports_what_it_must_not() -> None:
    assert violations() - KNOWN == set()


def test_the_known_debt_is_still_owed() -> None:
    assert KNOWN - violations() == set(), "an import was removed: strike it off KNOWN"
