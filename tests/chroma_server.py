"""A real Chroma server for the tests: ``chroma run`` (the CLI in the chromadb package) on a free loopback port,
with its data in a temporary directory; one per test session (``chroma_url`` in tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.server import free_port


class ChromaServer:
    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="parley-chroma-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        chroma = Path(sys.executable).parent / "chroma"
        self.log = (self.directory / "chroma.log").open("wb")
        self.process = subprocess.Popen(
            [
                str(chroma),
                "run",
                "--path",
                str(self.directory / "data"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"chroma run did not start: {(self.directory / 'chroma.log').read_text()[-2000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)
