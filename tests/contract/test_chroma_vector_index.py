from pathlib import Path

import pytest

from adapters.chroma import ChromaVectorIndex
from tests.contract.vector_index_contract import VectorIndexContract


class TestEmbeddedChromaVectorIndex(VectorIndexContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.directory = tmp_path

    def make_index(self) -> ChromaVectorIndex:
        return ChromaVectorIndex(self.directory / "chroma")
