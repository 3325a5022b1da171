"""`parley ingest` against a live server: uploads, one job, a progress bar, failures named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h2ogpte.rest_sync as rest

from tests.server import ADMIN_KEY, ServerProcess


def test_ingest_command_creates_the_collection_and_reports_failures(
    server: ServerProcess, api: rest.ApiClient, tmp_path: Path
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("The red door opens with the brass key.")
    (folder / "b.md").write_text("# Garden\n\nThe greenhouse is heated in winter.")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7 not really")
    command = [sys.executable, "-m", "api.cli", "ingest", str(folder), "--collection", "cli-notes"]
    command += ["--url", server.base_url, "--api-key", ADMIN_KEY]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "2 of 3 files ingested into 'cli-notes'" in done.stdout
    assert "failed: broken.pdf:" in done.stderr
    assert "ingest" in done.stderr and "100%" in done.stderr  # the progress bar reached the end
    collections = rest.CollectionsApi(api)
    (collection,) = [c for c in collections.list_collections(limit=1000) if c.name == "cli-notes"]
    assert sorted(d.name for d in collections.list_documents_for_collection(collection.id)) == ["a.txt", "b.md"]


def test_ingest_command_without_a_key_says_why(server: ServerProcess, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    command = [sys.executable, "-m", "api.cli", "ingest", str(tmp_path / "a.txt"), "--collection", "c"]
    done = subprocess.run([*command, "--url", server.base_url], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "error 401" in done.stderr
