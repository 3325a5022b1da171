"""Templates as files: ``parley template export`` writes one YAML file per template, ``parley template import``
reads a folder of them into another (fresh) server, unchanged files make no new version; and ``parley template
preview`` prints the prompt a template makes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.cli_templates import FIELDS
from tests.api.test_h2ogpte_client import raw
from tests.server import ADMIN_KEY, ServerProcess

MULTILINE = "Answer in one sentence.\nCite the page.\n"
CHAT_TEMPLATE = "<|system|>\n{{ system_prompt }}\n<|user|>\n{{ context }}\n{{ question }}"


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A fresh server to import into, started once for the module."""
    process = ServerProcess(tmp_path_factory.mktemp("parley-import") / "data").start()
    yield process
    process.stop()


def parley(server: ServerProcess, *args: str) -> str:
    command = [sys.executable, "-m", "api.cli", "template", *args, "--url", server.base_url, "--api-key", ADMIN_KEY]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def texts(server: ServerProcess) -> dict[str, dict[str, Any]]:
    """Every template users wrote, by name, as its fields read (without ids, owners and times)."""
    status, listed = raw(server, "GET", "/prompt_templates?limit=10000")
    assert status == 200 and isinstance(listed, list)
    return {t["name"]: {k: t[k] for k in FIELDS if k in t} for t in listed}


def versions(server: ServerProcess) -> dict[str, int]:
    status, listed = raw(server, "GET", "/prompt_templates?limit=10000")
    assert status == 200 and isinstance(listed, list)
    return {t["name"]: t["version"] for t in listed}


def create(server: ServerProcess, **fields: Any) -> dict[str, Any]:
    status, made = raw(server, "POST", "/prompt_templates", json.dumps(fields).encode())
    assert status == 201 and isinstance(made, dict), made
    return made


def test_export_then_import_into_a_fresh_server(server: ServerProcess, target: ServerProcess, tmp_path: Path) -> None:
    terse = create(server, name="Files: terse", description="one line", system_prompt=MULTILINE, lang="en",
                   default_sample_questions=["Who?", "When?"], chat_template=CHAT_TEMPLATE)  # fmt: skip
    create(server, name="Files: plain", prompt_query="Per the sources, ")
    raw(server, "PATCH", f"/prompt_templates/{terse['id']}", json.dumps({"prompt_summary": "Sum up: "}).encode())
    folder = tmp_path / "templates"

    assert "templates written" in parley(server, "export", str(folder))
    written = {path.name: path.read_text() for path in folder.glob("*.yaml")}
    assert {"files-terse.yaml", "files-plain.yaml"} <= set(written)
    assert "system_prompt: |\n  Answer in one sentence.\n  Cite the page.\n" in written["files-terse.yaml"]
    loaded = yaml.safe_load(written["files-terse.yaml"])
    assert loaded["id"] == terse["id"] and loaded["version"] == 2 and loaded["chat_template"] == CHAT_TEMPLATE

    source = texts(server)
    assert texts(target) == {}
    summary = parley(target, "import", str(folder))
    assert summary.strip() == f"{len(source)} created, 0 updated, 0 unchanged"
    assert texts(target) == source
    before = versions(target)
    assert set(before.values()) == {1}

    # Unchanged files: nothing new, not one version.
    assert parley(target, "import", str(folder)).strip() == f"0 created, 0 updated, {len(source)} unchanged"
    assert versions(target) == before

    # An edited file is one new version, and a field the file no longer holds is unset.
    edited = dict(loaded, system_prompt="Answer in two sentences.\n")
    del edited["lang"]
    (folder / "files-terse.yaml").write_text(yaml.safe_dump(edited, sort_keys=False))
    assert parley(target, "import", str(folder)).strip() == f"0 created, 1 updated, {len(source) - 1} unchanged"
    now = texts(target)["Files: terse"]
    assert now["system_prompt"] == "Answer in two sentences.\n" and "lang" not in now
    assert versions(target)["Files: terse"] == 2


def test_preview_on_the_command_line(server: ServerProcess) -> None:
    made = create(server, name="Files: previewed", system_prompt="Be brief.")
    out = parley(server, "preview", made["id"], "Why is the sky blue?")
    assert out.startswith(f"<|template|>\n{made['id']} version 1\n\n<|system|>\nBe brief.\n\n<|user|>\nWhy is")
    assert "llm_only with extractive; 0 chunks in the context" in out
