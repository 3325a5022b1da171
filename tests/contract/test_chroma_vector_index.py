from pathlib import Path

import pytest

from adapters.chroma import ChromaVectorIndex
from domain.errors import ConfigurationError
from tests.chroma_server import ChromaServer
from tests.contract.vector_index_contract import VectorIndexContract


class TestEmbeddedChromaVectorIndex(VectorIndexContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path

    def make_index(self) -> ChromaVectorIndex:
        return ChromaVectorIndex(self.directory / "chroma")


class TestChromaServerVectorIndex(VectorIndexContract):
    """Client mode: the same contract against a real ``chroma run`` server."""

    @pytest.fixture(autouse=True)
    def _server(self, chroma_server: ChromaServer) -> None:
        self.url = chroma_server.url

    def make_index(self) -> ChromaVectorIndex:
        return ChromaVectorIndex.server(self.url)


@pytest.mark.parametrize("url", ["chroma.internal:8000", "http://127.0.0.1:9"])
def test_a_wrong_or_unreachable_chroma_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="PARLEY_CHROMA_URL"):
        ChromaVectorIndex.server(url)
