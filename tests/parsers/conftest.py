"""Fixtures shared by the parser tests."""

from __future__ import annotations

import pytest

from adapters.minilm import MiniLMTokenizer
from domain.ports import Tokenizer


@pytest.fixture(scope="session")
def tokenizer() -> Tokenizer:
    return MiniLMTokenizer()
