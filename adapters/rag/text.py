"""Words of a text for lexical matching: lower-cased, without the stopwords of English questions."""

from __future__ import annotations

import re
from functools import lru_cache

CITATION = re.compile(r"\s*\[\d+\]")  # a citation marker in an answer, "[3]", with the space before it

WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "their",
        "there",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def content_words(text: str) -> list[str]:
    return [word for word in WORD.findall(text.lower()) if word not in STOPWORDS]


def find_word(text: str, word: str) -> int:
    """Where ``word`` first occurs in ``text`` as a whole ("474" in "laid off 474", not the "0" in "2015"), or -1.
    A plain search: a regular expression per word would churn the ``re`` module's cache."""
    at = text.find(word)
    while at >= 0:
        end = at + len(word)
        if (at == 0 or not _is_word(text[at - 1])) and (end == len(text) or not _is_word(text[end])):
            return at
        at = text.find(word, at + 1)
    return -1


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


_SUFFIXES = ("ing", "ed", "es", "s", "e")


@lru_cache(maxsize=1 << 16)  # a pure function of a word, asked for the same words of every context again
def stem(word: str) -> str:
    """A light stem, enough to match "sentenced" with "sentence" and "checks" with "check" (words of three
    letters or fewer stay as they are)."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def stems(text: str) -> set[str]:
    return {stem(word) for word in content_words(text)}
