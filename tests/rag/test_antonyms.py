"""WordNet's antonyms, and a question that asks the opposite of what its passage says."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.rag import antonyms
from adapters.rag.antonyms import base_forms, contrasts, words_of


def test_the_stored_pairs_are_wordnets_with_its_license() -> None:
    text = antonyms.DATA_PATH.read_text()
    assert "WordNet 3.1 Copyright 2011 by Princeton University" in text
    pairs = antonyms.antonyms()
    assert {"small"} <= pairs["large"] and {"large"} <= pairs["small"]
    assert "asynchronous" in pairs["synchronous"] and "defeat" in pairs["victory"] and "lose" in pairs["win"]
    assert all("_" not in word and " " not in word for word in pairs)


@pytest.mark.parametrize(
    ("word", "base"),
    [("largest", "large"), ("smaller", "small"), ("earliest", "early"), ("won", "win"), ("stopped", "stop")],
)
def test_an_inflected_word_has_its_base_form(word: str, base: str) -> None:
    assert base in base_forms(word) and word in base_forms(word)


def test_a_question_asking_the_opposite_of_its_passage_is_seen() -> None:
    passage = words_of("Formed in 1990, BSkyB became the UK's largest digital subscription television company.")
    assert contrasts(words_of("Who is the UK's smallest digital subscription company?"), passage) == 1
    assert contrasts(words_of("Who is the UK's largest digital subscription company?"), passage) == 0
    routed = words_of("Packets are normally forwarded by intermediate nodes asynchronously.")
    assert contrasts(words_of("How are the packets forwarded synchronously?"), routed) == 1


def test_a_passage_that_holds_both_words_is_no_contrast() -> None:
    both = words_of("The largest city grew while the smallest town shrank.")
    assert contrasts(words_of("What did the smallest town do?"), both) == 0
    assert contrasts(words_of("What did the small town do?"), both) == 0  # another form of a word it holds


def test_the_pairs_are_written_again_from_a_wordnet_dict_folder(tmp_path: Path) -> None:
    # Two synsets of a WordNet data file, in its format: offset, file, type, words, pointers ("!" an antonym).
    dict_dir = tmp_path / "dict"
    dict_dir.mkdir()
    header = "  1 This software and database is being provided to you\n  2 WordNet 3.1 Copyright 2011\n"
    adjectives = (
        "00001740 00 a 01 able 0 001 ! 00002098 a 0101 | (usually followed by `to') having the means\n"
        "00002098 00 a 01 unable 0 001 ! 00001740 a 0101 | (usually followed by `to') not having the means\n"
        "00002312 00 a 02 long_ago 0 far 0 001 ! 00001740 a 0101 | a lemma of two words is left out\n"
    )
    (dict_dir / "data.adj").write_text(header + adjectives)
    for part in ("adv", "noun", "verb"):
        (dict_dir / f"data.{part}").write_text(header)
    assert antonyms.read_wordnet(dict_dir) == [("able", "unable")]
    assert antonyms.read_license(dict_dir) == [
        "This software and database is being provided to you",
        "WordNet 3.1 Copyright 2011",
    ]
