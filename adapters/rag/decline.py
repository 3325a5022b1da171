"""When the extractive reader declines: a logistic regression over the reader's signals, fitted offline.

One confidence threshold did not separate answerable from unanswerable questions (balanced accuracy about 0.55
on held-out Disfl-QA). The reader now reports several signals for its best sentence (its score, the runner-up's,
the margin, the retrieval scores of the first chunks, how many of the question's content words, numbers and
names the sentence holds, what the question asks about that the context lacks, whether it holds the kind of
answer asked for, ...); ``bench/fit_decline.py`` fits a logistic regression on them (scikit-learn, with
cross-validation grouped by document, on the Disfl-QA and realdocs dev questions pooled) that estimates the
probability that the reader's answer is right (the question is answerable and the answer holds a gold span),
and writes its standardisation, coefficients and cutoff to ``decline_model.json``. Inference is a dot product
with numpy: the server does not need scikit-learn. (The usage stats call this probability
``answerable_probability``, the name it had when the model learned answerable questions.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import msgspec

MODEL_PATH = Path(__file__).with_name("decline_model.json")
STRUCTURED = 0.5  # a context with at least this share of table rows and form lines takes ``cutoff_structured``

# The signals, in the order the model reads them (``ExtractiveGenerator`` computes them). Those of the best
# sentence read the question without its pointer to a source ("according to the USDA Round-Up"); those of the
# context read it whole.
FEATURES = (
    "best",  # score of the best sentence
    "second",  # score of the runner-up (another sentence)
    "margin",  # best - second
    "doubt",  # the reader's doubts: question numbers or names missing from the sentence, an unmatched negation
    "chunk_top",  # retrieval score of the first context chunk
    "chunk_gap",  # first - second chunk's retrieval score
    "best_chunk_score",  # retrieval score of the best sentence's chunk
    "best_rank",  # rank of the best sentence's chunk
    "coverage",  # IDF-weighted share of the question's content words in the best sentence
    "chunk_coverage",  # share of the question's content words in the best sentence's chunk
    "context_coverage",  # share of the question's content words anywhere in the context
    "missing_salient",  # numbers and names of the question missing from the best sentence (at most 3)
    "missing_salient_context",  # numbers and names of the question missing from the whole context
    "type_wanted",  # the question asks for a kind of answer (a date, a number, a name, ...)
    "type_match",  # the best sentence holds that kind of answer
    "dense",  # cosine similarity of the best sentence to the question
    "focus_coverage",  # share of the question's lower-case content words (what it is about) in the best sentence
    "focus_context_coverage",  # the same, anywhere in the context
    "question_terms",  # how many content words the question has
    "same_chunk",  # the runner-up sentence is in the best sentence's chunk
    "row",  # the best sentence is a table row
    "cell",  # a cell of that row was chosen as the answer
    "focus_missing_context",  # lower-case content words of the question (light stems) nowhere in the context
    "focus_missing_chunk",  # the same, missing from the best sentence's chunk
    "focus_missing_sentence",  # the same, missing from the best sentence
    "numbers_missing",  # numbers of the question missing from the best sentence (at most 2)
    "numbers_missing_context",  # numbers of the question missing from the whole context (at most 2)
    "names_missing_context",  # capitalised words of the question missing from the whole context (at most 3)
    "structured",  # share of the context's units that are table rows or lines of a form
    "focus_missing_structured",  # focus_missing_context x structured
    "uncovered_structured",  # (1 - focus_context_coverage) x structured
    "antonym_chunk",  # words of the question whose antonym (WordNet) stands in the best sentence's chunk instead
    "antonym_context",  # the same, anywhere in the context
)


class DeclineModel(msgspec.Struct, frozen=True):
    """Standardised logistic regression: P(right answer) = sigmoid(intercept + coef . (x - mean) / scale)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    cutoff: float  # decline below this probability, on a context of prose
    # ... and on a context mostly of table rows and form lines, where the probabilities sit lower: a table's
    # right answer often misses words of the question that its headers hold only in part. None: ``cutoff``.
    cutoff_structured: float | None = None
    note: str = ""  # how it was fitted, and its cross-validated figures

    def cutoff_for(self, signals: dict[str, float]) -> float:
        structured = float(signals.get("structured", 0.0)) >= STRUCTURED
        return self.cutoff_structured if structured and self.cutoff_structured is not None else self.cutoff

    def probability(self, signals: dict[str, float]) -> float:
        z = self.intercept
        for name, mean, scale, coef in zip(self.features, self.mean, self.scale, self.coef, strict=True):
            z += coef * (float(signals.get(name, 0.0)) - mean) / (scale or 1.0)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def load_model(path: Path = MODEL_PATH) -> DeclineModel | None:
    """The fitted model, or None when none has been fitted (then the reader falls back to its confidence)."""
    if not path.exists():
        return None
    return msgspec.convert(json.loads(path.read_text()), DeclineModel)
