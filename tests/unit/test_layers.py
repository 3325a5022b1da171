"""The dependency rule, read from the source: the domain imports no other layer; projections and adapters
import no entry point; adapters import no projection (they meet only in the composition root, api/bootstrap.py)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "domain": ("adapters", "projections", "api"),
    "projections": ("adapters", "api"),
    "adapters": ("projections", "api"),
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
    assert violations() == set()


def test_the_rule_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The reader of imports finds both spellings, so the rule above cannot pass by not looking."""
    source = tmp_path / "module.py"
    source.write_text("import adapters.sqlite\nfrom projections.runner import ProjectionRunner\nfrom . import x\n")
    assert imports(source) == {"adapters.sqlite", "projections.runner"}
