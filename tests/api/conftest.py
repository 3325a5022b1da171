from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import h2ogpte.rest_sync as rest
import pytest

from tests.server import ADMIN_KEY, ServerProcess


@pytest.fixture(scope="session")
def api(server: ServerProcess) -> rest.ApiClient:
    return rest.ApiClient(rest.Configuration(host=server.api_url, access_token=ADMIN_KEY))


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of its own, for tests that stop and restart it."""
    process = ServerProcess(tmp_path / "data")
    yield process
    if process.process is not None and process.process.poll() is None:
        process.stop()
