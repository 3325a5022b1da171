"""The repair of disfluent questions: each kind of correction people type, and fluent questions left alone."""

from __future__ import annotations

import pytest

from adapters.rag.disfluency import repair


@pytest.mark.parametrize(
    ("asked", "meant"),
    [
        # A restart: only the new question counts.
        ("Who built or rather when was the lighthouse built ?", "when was the lighthouse built ?"),
        ("What did no When did the ferry service start ?", "When did the ferry service start ?"),
        ("What is , uh , I mean in what year did the mill close ?", "in what year did the mill close ?"),
        ("When did or what kinds of boats use the harbour ?", "what kinds of boats use the harbour ?"),
        ("Where is the pier and tell me what the keeper did there ?", "what the keeper did there ?"),
        ("Which keeper no wait I want to know who painted the tower ?", "who painted the tower ?"),
        ("What is the name of the bay no no can you tell me how deep it is ?", "how deep it is ?"),
        # The repair starts again at a word just before the editing terms.
        ("Was it closed in 1965 or no make that in 1987 ?", "Was it closed in 1987 ?"),
        (
            "How many boats sailed from the north uh sorry the south pier ?",
            "How many boats sailed from the south pier ?",
        ),
        # The repair ends like the reparandum: what differs is replaced.
        ("Which A grade or no make that B grade schools are public ?", "Which B grade schools are public ?"),
        ("What was Hansen ' s or er Olsen ' s theory of tides ?", "What was Olsen ' s theory of tides ?"),
        ("What is the most common uh sorry second most common fish ?", "What is the second most common fish ?"),
        # Names and numbers replace names and numbers.
        ("Where is Anna Berg sorry I mean Maria Lind from ?", "Where is Maria Lind from ?"),
        ("Whose boat sank near the pier until 1991 , uh I mean 2003 ?", "Whose boat sank near the pier until 2003 ?"),
        ("What did Norway uh rather Sweden build in 1920 ?", "What did Sweden build in 1920 ?"),
        # One word for one word, and editing terms beside each other are one interregnum.
        ("What kind of fuel no sorry , oh engines did the ferries use ?", "What kind of engines did the ferries use ?"),
        (
            "What percentage of public erm private schools teach sailing ?",
            "What percentage of private schools teach sailing ?",
        ),
        (
            "What are the three main ports or maybe harbours of the coast ?",
            "What are the three main harbours of the coast ?",
        ),
        ("Who designed the upper ugh dammit lower deck ?", "Who designed the lower deck ?"),
        # An article starts a noun phrase that replaces the one before.
        (
            "When was the idea of stone walls er no uh a breakwater proposed ?",
            "When was the idea of a breakwater proposed ?",
        ),
        # Two corrections in one question.
        ("What did no When did Peter uh rather Paul open the inn ?", "When did Paul open the inn ?"),
        # A trailing "rather" is dropped.
        ("Of what range are the North Hills no sorry the South Hills rather ?", "Of what range are the South Hills ?"),
    ],
)
def test_a_correction_is_repaired(asked: str, meant: str) -> None:
    assert repair(asked) == meant


@pytest.mark.parametrize(
    "fluent",
    [
        "When was the lighthouse built ?",
        "Why did no one rebuild the pier after the storm ?",
        "Is there no longer a ferry to the island ?",
        "Did the town choose a harbour rather than a bridge ?",
        "How long did passengers wait for the ferry ?",
        "Can you tell me when the mill closed ?",
        "Which is larger, the north pier or the south pier ?",
        "Was the answer yes or no ?",
        "What did they use instead of coal ?",
        "Maybe the keeper knew : what did the logbook say ?",
    ],
)
def test_a_fluent_question_is_left_as_asked(fluent: str) -> None:
    assert repair(fluent) == fluent


def test_a_question_of_editing_terms_only_is_left_as_asked() -> None:
    assert repair("uh sorry ?") == "uh sorry ?"
    assert repair("") == ""
