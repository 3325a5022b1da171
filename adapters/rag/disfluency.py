"""Repair of disfluent questions ("Where was or actually when was X?") before retrieval and reading.

People type the way they speak: they start, correct themselves, and go on. A correction has three parts, as in
the speech-repair literature: the reparandum (the words taken back), the interregnum (the editing terms: "uh",
"no sorry", "or rather", "scratch that", "I mean"), and the repair. The reparandum misleads the reader, so the
question is rebuilt from the repair:

- a restart ("... no sorry what does X do?") keeps only the repair;
- a repair that repeats a word just before the interregnum ("in 1565 or no make that in 1964") restarts there;
- a repair that ends like the reparandum ("B cells or no make that T cells") replaces what differs;
- a name or a number replaces the name or the number before it; a short repair ending the question replaces as
  many words; otherwise the repair replaces one word.

Editing terms next to each other are one interregnum ("uh sorry", "no wait I want to know"); the words that are
editing terms only beside another ("maybe", "I guess", "I want to know") count only there. Each interregnum is
repaired in turn, from the left.
"""

from __future__ import annotations

import re

# Fillers: no meaning of their own, an interregnum alone or beside another term.
_FILLERS = frozenset(
    (
        "uh", "uhh", "um", "umm", "er", "erm", "eh", "ah", "ahh", "oh", "oops", "ugh", "hmm", "hm", "ack", "shoot",
        "dammit", "darn", "whoops",
    )
)  # fmt: skip
# Words that start or join a phrase: a repair never replaces one of them alone.
_FUNCTION = frozenset(
    (
        "a", "an", "the", "of", "in", "on", "at", "to", "for", "by", "from", "with", "and", "or", "as", "is", "are",
        "was", "were", "its", "their", "his", "her",
    )
)  # fmt: skip
_ARTICLES = frozenset(("a", "an", "the"))
_PREPOSITIONS = frozenset(
    ("in", "on", "at", "to", "for", "by", "from", "of", "during", "after", "before", "since", "until")
)
# Editing terms that announce a correction by themselves.
_STRONG = tuple(
    tuple(phrase.split())
    for phrase in (
        "no sorry", "or sorry", "sorry", "or actually", "or rather", "no rather", "rather", "i mean", "i meant",
        "make that", "scratch that", "nevermind", "never mind", "no", "let me rephrase that", "let me rephrase",
        "let me actually ask", "or no", "or even", "no not that", "darn it", "wait",
    )
)  # fmt: skip
# Editing terms only beside a filler or a strong term: alone they are ordinary words ("maybe", "I guess").
_WEAK = tuple(
    tuple(phrase.split())
    for phrase in (
        "or", "actually", "instead", "maybe", "i guess", "i think", "like", "i want to know about",
        "i want to know", "i want to say is", "i want to say", "by saying that", "that should be", "actually tell me",
        "can you tell me", "just tell me", "and tell me", "tell me", "let me ask", "well", "okay", "ok",
    )
)  # fmt: skip
# The editing terms by their first word: the strong ones first, the longest first ("no sorry" before "no").
_BY_HEAD: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
for _phrase, _strong in sorted(((p, True) for p in _STRONG), key=lambda p: -len(p[0])) + sorted(
    ((p, False) for p in _WEAK), key=lambda p: -len(p[0])
):
    _BY_HEAD.setdefault(_phrase[0], []).append((_phrase, _strong))
# The words that, following "no", "rather" or "wait", make it an ordinary word ("no longer"), not an editing term.
_NOT_AFTER = {
    "no": {"longer", "one", "more", "less", "matter", "doubt", "other", "way"},
    "rather": {"than"},
    "wait": {"for", "until", "till", "to", "in", "on", "at", "?"},  # "how long did they wait for it?"
}
_RESTART = re.compile(r"^(is|are|was|were|did|does|do|can|could|has|have|had)$", re.IGNORECASE)
_WH = re.compile(r"^(what|who|whom|whose|when|where|why|which|how)$", re.IGNORECASE)
_NUMBER = re.compile(r"^\d[\d,.]*$")
_PUNCTUATION = ",.;:?!"


def _norm(word: str) -> str:
    return word.lower().strip(_PUNCTUATION)


def _term_at(words: list[str], norms: list[str], start: int) -> tuple[int, bool] | None:
    """The length of the editing term at ``start`` and whether it is strong; None when there is none."""
    head = norms[start]
    if head in _FILLERS:
        return 1, True
    for phrase, strong in _BY_HEAD.get(head, ()):
        end = start + len(phrase)
        if end <= len(words) and tuple(norms[start:end]) == phrase:
            following = words[end].lower().rstrip(",") if end < len(words) else "?"
            if following in _NOT_AFTER.get(phrase[-1], ()):
                continue
            # A strong term glued to a comma ("no," "sorry,") or standing alone between words is still a term.
            return len(phrase), strong
    return None


def _interregnum(words: list[str], start: int) -> tuple[int, int] | None:
    """The first interregnum at or after ``start``: (first word, one past its last word)."""
    norms = [_norm(word) for word in words]
    index = start
    while index < len(words):
        run_start, cursor, strong, terms = index, index, False, 0
        while cursor < len(words):
            if words[cursor] == ",":
                cursor += 1
                continue
            term = _term_at(words, norms, cursor)
            if term is None:
                break
            cursor += term[0]
            terms += 1
            strong = strong or term[1] or terms >= 2  # "or maybe", "or wait": two ordinary words are a term
        # "When did or what types of groups avoided it?": an ordinary word that starts a new question is a restart.
        restart = (
            terms == 1
            and cursor < len(words)
            and _WH.match(norms[cursor]) is not None
            and _WH.match(norms[0]) is not None
            and len(words) - cursor >= 3
        )
        if (strong or restart) and cursor > run_start:
            while cursor > run_start and words[cursor - 1] == ",":
                cursor -= 1
            return run_start, cursor
        index = run_start + 1
    return None


def _capitalised(word: str) -> bool:
    return word[:1].isupper()


def _without_capitalised_run(words: list[str]) -> list[str]:
    """``words`` less the name they end in ("Where is Roger Rocka" -> "Where is")."""
    keep = len(words)
    while keep > 1 and _capitalised(words[keep - 1]):
        keep -= 1
    return words[:keep]


def _repair_one(before: list[str], fix: list[str]) -> list[str]:
    """The words once the reparandum at the end of ``before`` is replaced by the repair ``fix``."""
    content = [w for w in fix if w.strip(_PUNCTUATION)]
    if not before or not content:
        return fix if content else before + fix
    lowered = [_norm(w) for w in before]
    head = _norm(fix[0])
    if head in lowered[-8:]:  # "in 1565 or no make that in 1964": the repair starts again at a repeated word
        start = len(lowered) - 1 - lowered[::-1].index(head)
        return [*before[:start], *fix]
    second = _norm(fix[1]) if len(fix) > 1 else ""
    if len(content) >= 3 and (
        _WH.match(head)
        or (_RESTART.match(head) and _WH.match(lowered[0]))
        or (head in _PREPOSITIONS and _WH.match(second))
    ):  # "What did no When did the documentary air?", "... I mean in what century ...": the question starts again
        return fix
    fixed = [_norm(w) for w in fix]
    # "B cells or no make that T cells": the repair ends like the reparandum; what differs is replaced.
    for end in range(1, min(4, len(fixed))):
        if fixed[end] and fixed[end] == lowered[-1]:
            shared = 0
            while shared <= end and shared < len(lowered) and fixed[end - shared] == lowered[-1 - shared]:
                shared += 1
            prefix, rest = fix[: end - shared + 1], before[: len(before) - shared]
            if prefix and rest and _capitalised(prefix[-1]) and _capitalised(rest[-1]):
                return [*_without_capitalised_run(rest), *fix]
            if prefix and rest and _norm(rest[-1]) not in _FUNCTION:  # "B cells": one word differs
                rest = rest[:-1]
            return [*rest, *fix]  # "the most abundant uh sorry second most abundant": the repair adds a word
    if _NUMBER.match(fix[0]) and _NUMBER.match(before[-1]):
        return [*before[:-1], *fix]
    if _capitalised(fix[0]) and _capitalised(before[-1]):
        return [*_without_capitalised_run(before), *fix]
    if head in _ARTICLES:  # "the concept of physical barriers er no a social market economy": a noun phrase
        keep = len(before)
        while keep > 1 and len(before) - keep < 3 and lowered[keep - 1] not in _FUNCTION:
            keep -= 1
        return [*before[:keep], *fix]
    return [*before[:-1], *fix]


def repair(question: str) -> str:
    """The question as the asker meant it; unchanged when it holds no correction."""
    words = question.split()
    start = 0
    for _ in range(len(words)):
        found = _interregnum(words, start)
        if found is None:
            break
        first, last = found
        before, fix = words[:first], words[last:]
        while fix and fix[0] == ",":
            fix = fix[1:]
        if not [w for w in fix if w.strip(_PUNCTUATION)]:
            # Nothing after: a trailing "rather" is dropped; a question that ends in "no" is left alone.
            if [_norm(w) for w in words[first:last]] == ["rather"]:
                words = [*before, *fix]
            break
        while before and _norm(before[-1]) in {"", "or"}:
            before = before[:-1]
        repaired = _repair_one(before, fix)
        start = max(len(repaired) - len(fix), 0)
        words = repaired
    return " ".join(words)
