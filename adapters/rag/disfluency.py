"""Repair of disfluent questions ("Where was or actually when was X?") before retrieval and reading.

People type the way they speak: they start, correct themselves after a marker ("no sorry", "I mean", "or
rather", "uh"), and go on. The words before the correction (the reparandum) mislead both retrievers and the
reader, so the question is rebuilt from the correction: a restart ("... no sorry what does X do?") keeps
only what follows the last marker; a word-level fix ("in 1957 I mean 2007") replaces the corrected words.
"""

from __future__ import annotations

import re

# Longest first, so "or no make that" wins over "no".
_MARKERS = sorted(
    [
        "no sorry", "or sorry", "sorry", "or actually", "actually", "or rather", "no rather", "rather",
        "i mean", "i meant", "or i mean", "or no make that", "no make that", "make that", "no wait", "wait",
        "nevermind", "never mind", "no no", "or no", "no", "or uh", "uh", "um", "er", "ack", "or er",
        "instead", "uh nevermind", "actually tell me", "tell me", "or even", "sorry never",
    ],
    key=len,
    reverse=True,
)  # fmt: skip
_MARKER = re.compile(r"(?:^|\s|,)(" + "|".join(re.escape(m) for m in _MARKERS) + r")(?=\s|,|$)", re.IGNORECASE)
_RESTART = re.compile(
    r"^(what|who|whom|whose|when|where|why|which|how|in what|in which|on what|at what|for what|by how|"
    r"is|are|was|were|did|does|do|can|could)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"^\d[\d,.]*$")


def repair(question: str) -> str:
    """The question as the asker meant it; unchanged when it holds no correction marker."""
    text = question.strip()
    matches = list(_MARKER.finditer(text))
    # "no" and the fillers are markers only between two parts; a question that ends in one is left alone.
    matches = [m for m in matches if text[m.end() :].strip(" ,?")]
    if not matches:
        return text
    last = matches[-1]
    before = text[: last.start(1)].strip(" ,")
    after = text[last.end(1) :].strip(" ,")
    before = re.sub(r"\s+(or|,)$", "", before, flags=re.IGNORECASE).strip(" ,")
    words, fix = before.split(), after.split()
    if not words or (_RESTART.match(after) and len(fix) >= 3):
        return after
    lowered = [word.lower() for word in words]
    if fix[0].lower() in lowered[-6:]:  # "in 1565 or no make that in 1964": the fix restarts at a repeated word
        start = len(lowered) - 1 - lowered[::-1].index(fix[0].lower())
        return " ".join([*words[:start], *fix])
    if _NUMBER.match(fix[0]) and _NUMBER.match(words[-1]):
        return " ".join([*words[:-1], *fix])
    if fix[0][:1].isupper() and words[-1][:1].isupper():
        keep = len(words)
        while keep > 1 and words[keep - 1][:1].isupper():
            keep -= 1
        return " ".join([*words[:keep], *fix])
    return " ".join([*words[:-1], *fix])
