"""Row-aware extractive answers with the real MiniLM embedder: the row that holds the question's entities, the
cell of the column it asks for; never a title row; and the learned decline model's arithmetic."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from haystack import Document

from adapters.minilm import MiniLMEmbedder
from adapters.rag import extractive, rows
from adapters.rag.decline import FEATURES, DeclineModel, load_model
from adapters.rag.extractive import ExtractiveGenerator, ReaderWeights
from adapters.rag.text import content_words, find_word, stem

TABLE = "\n".join(
    [
        "Firearm Background Checks November - 2015.",
        "State: Illinois; Permit: 87,190; Handgun: 24,412; Long Gun: 17,227; Totals: 134,245.",
        "State: Indiana; Permit: 81,935; Handgun: 25,519; Long Gun: 20,227; Totals: 136,564.",
        "State: Kentucky; Permit: 264,140; Handgun: 12,155; Long Gun: 14,847; Totals: 295,891.",
        "State: Texas; Permit: 33,010; Handgun: 56,941; Long Gun: 44,131; Totals: 141,210.",
    ]
)
LAYOFFS = "\n".join(
    [
        "Notice Date: 10/12/2015; Company: Twitter, Inc.; City: San Francisco; No. Of Employees: 240.",
        "Notice Date: 07/29/2015; Company: Molycorp Minerals LLC; City: Mountain Pass; No. Of Employees: 474.",
        "Notice Date: 07/17/2015; Company: Boeing Company; City: Long Beach; No. Of Employees: 113.",
    ]
)


@pytest.fixture(scope="module")
def model() -> Iterator[ExtractiveGenerator]:
    embedder = MiniLMEmbedder()
    embedder.warm_up()
    yield ExtractiveGenerator(embedder, ReaderWeights(threshold=0.0))  # answer always: these tests are of choice


def answer(model: ExtractiveGenerator, question: str, content: str) -> str:
    documents = [Document(content=content, score=0.9, meta={"document_name": "t.pdf", "pages": "1"})]
    return model.run(messages=[], question=question, documents=documents)["replies"][0].text or ""


def test_a_row_cell_is_answered_in_its_row(model: ExtractiveGenerator) -> None:
    assert answer(model, "How many permit checks did Illinois run in November 2015?", TABLE).startswith(
        "Permit: 87,190 (State: Illinois) [1]"
    )
    assert answer(model, "How many handgun checks did Texas have?", TABLE).startswith("Handgun: 56,941 (State: Texas)")


def test_the_row_must_hold_the_number_or_name_of_the_question(model: ExtractiveGenerator) -> None:
    assert "Mountain Pass" in answer(model, "In which city did Molycorp Minerals LLC lay off 474 workers?", LAYOFFS)
    assert "240" in answer(model, "How many employees did Twitter lay off in San Francisco?", LAYOFFS)


def test_a_title_row_is_never_the_answer(model: ExtractiveGenerator) -> None:
    text = answer(model, "How many permit checks did Kentucky run?", TABLE)
    assert "264,140" in text and "Firearm Background Checks" not in text


def test_rows_parse_into_cells_and_a_cell_is_chosen_by_its_header() -> None:
    cells = rows.parse_row("State: Kentucky; Permit: 264,140; Totals: 295,891.")
    assert cells == [("State", "Kentucky"), ("Permit", "264,140"), ("Totals", "295,891")]
    assert rows.choose_cell(cells, "What were the total checks in Kentucky?", None) == (2, [0])
    assert rows.parse_row("An ordinary sentence; with a semicolon.") is None


def test_the_decline_model_is_a_standardised_logistic_regression() -> None:
    fitted = load_model()
    assert fitted is not None and fitted.features == FEATURES and 0.0 < fitted.cutoff < 1.0
    toy = DeclineModel(features=("best",), mean=(0.5,), scale=(0.1,), coef=(2.0,), intercept=0.0, cutoff=0.5)
    assert toy.probability({"best": 0.5}) == pytest.approx(0.5)
    assert toy.probability({"best": 0.6}) == pytest.approx(1 / (1 + 2.718281828**-2.0))
    assert toy.cutoff_for({"structured": 1.0}) == 0.5  # one cutoff when none was fitted for tables
    assert fitted.cutoff_structured is not None and 0.0 < fitted.cutoff_structured < 1.0
    assert fitted.cutoff_for({"structured": 0.9}) == fitted.cutoff_structured
    assert fitted.cutoff_for({"structured": 0.1}) == fitted.cutoff_for({}) == fitted.cutoff


def test_a_structured_context_is_told_apart_in_the_signals(model: ExtractiveGenerator) -> None:
    """The table and prose cutoffs follow the share of table rows and form lines in the context."""
    prose = "The Kestrel Point lighthouse was decommissioned in 1987. Its last keeper was Morwenna Tregarthen."
    table = signals_of(model, "How many rent checks did Kentucky run?", TABLE)
    told = signals_of(model, "When was the lighthouse decommissioned?", prose)
    assert table["structured"] >= 0.5 > told["structured"] == 0.0
    assert table["focus_missing_structured"] == table["focus_missing_context"] * table["structured"] > 0  # "rent"
    assert told["focus_missing_structured"] == told["uncovered_structured"] == 0.0


def signals_of(model: ExtractiveGenerator, question: str, content: str) -> dict[str, float]:
    documents = [Document(content=content, score=0.9, meta={"document_name": "t.pdf", "pages": "1"})]
    return dict(model.run(messages=[], question=question, documents=documents)["replies"][0].meta["signals"])


# Two chunks of a Federal Register notice, as the PDF parser reads them
# (``../shared/data/realdocs/pdfs/federal-register-2020-17221.pdf``).
NOTICE = "\n".join(
    [
        "This section of the FEDERAL REGISTER",
        "contains notices to the public of the proposed",
        "issuance of rules and regulations. The",
        "purpose of these notices is to give interested",
        "persons an opportunity to participate in the",
        "rule making prior to the adoption of the final",
        "rules.",
        "Proposed Rules Federal Register",
        "47698",
        "Vol. 85, No. 152",
        "Thursday, August 6, 2020",
        "DEPARTMENT OF TRANSPORTATION",
        "Federal Aviation Administration",
        "14 CFR Part 39",
        "[Docket No. FAA\u20132020\u20130686; Product",
        "Identifier 2019\u2013NM\u2013035\u2013AD]",
        "RIN 2120\u2013AA64",
        "Airworthiness Directives; The Boeing",
        "Company Airplanes",
        "AGENCY: Federal Aviation",
        "Administration (FAA), DOT.",
        "ACTION: Notice of proposed rulemaking",
        "(NPRM).",
        "SUMMARY: The FAA proposes to",
        "supersede Airworthiness Directive (AD)",
        "2018\u201323\u201351, which applies to all The",
        "Boeing Company Model 737\u20138 and 737\u2013",
        "9 (737 MAX) airplanes.",
    ]
)
ADDRESSES = "\n".join(
    [
        "DATES: The FAA must receive comments",
        "on this proposed AD by September 21,",
        "2020.",
        "ADDRESSES: You may send comments,",
        "using the procedures found in 14 CFR",
        "11.43 and 11.45, by any of the following",
        "methods:",
        "\u2022 Federal eRulemaking Portal: Go to",
        "https://www.regulations.gov. Follow the",
        "instructions for submitting comments.",
        "\u2022 Fax: 202\u2013493\u20132251.",
        "\u2022 Mail: U.S. Department of",
        "Transportation, Docket Operations, M\u2013",
        "30, West Building Ground Floor, Room",
        "W12\u2013140, 1200 New Jersey Avenue SE,",
        "Washington, DC 20590.",
        "\u2022 Hand Delivery: Deliver to Mail",
        "address above between 9 a.m. and 5",
        "p.m., Monday through Friday, except",
        "Federal holidays.",
    ]
)


def ranked(*chunks: tuple[str, float]) -> list[Document]:
    return [Document(content=c, score=s, meta={"document_name": "t.pdf", "pages": "1"}) for c, s in chunks]


def test_a_number_or_a_person_asked_for_by_name_is_the_answer_type() -> None:
    assert extractive._answer_type("What is the total number of NICS checks for Florida?") == "count"
    assert extractive._answer_type("Which candidate for Sheriff received 219 votes?") == "name"
    terms = set(content_words("Who argued on behalf of the petitioner in Knowles v. Mirzayance?"))
    assert not extractive._names_someone("Petitioner : v. : No. 07-1315", terms)  # "No." names nobody
    assert extractive._names_someone(
        "STEVEN E. MERCER, ESQ., Deputy Attorney General; on behalf of the Petitioner", terms
    )


def test_an_answer_of_a_shape_must_have_it(model: ExtractiveGenerator) -> None:
    # a fax number is asked: the notice's summary, first retrieved and closer in words, holds none
    question = "What fax number can comments on the FAA's proposed 737 MAX airworthiness directive be sent to?"
    documents = ranked((NOTICE, 1.0), (ADDRESSES, 0.56))
    text = model.run(messages=[], question=question, documents=documents)["replies"][0].text or ""
    assert "202\u2013493\u20132251" in text, text


def test_the_noun_before_an_entity_names_its_kind_not_what_is_asked() -> None:
    assert extractive._focus("How many registered voters does precinct 0050003A in Acton have?") == {
        "registered",
        "voters",
    }
    assert extractive._focus("What is the docket number of the case Knowles v. Mirzayance?") == {"docket"}


def test_a_date_is_one_date_in_any_form() -> None:
    assert (
        extractive._dates("the week ending March 3, 2017") == extractive._dates("week ending 03/03/17") == {(3, 3, 17)}
    )
    assert extractive._dates("02/24/2017") == {(2, 24, 17)}
    assert stem("sentenced") == stem("sentence") and stem("checks") == stem("check") and stem("rent") == "rent"


def test_the_reader_reports_what_is_missing_from_the_context(model: ExtractiveGenerator) -> None:
    documents = [Document(content=TABLE, score=0.9, meta={"document_name": "t.pdf", "pages": "1"})]
    question = "How much rent did Kentucky pay on December 3, 2015?"
    signals = model.run(messages=[], question=question, documents=documents)["replies"][0].meta["signals"]
    assert signals["focus_missing_context"] >= 1  # "rent" is nowhere
    assert signals["numbers_missing_context"] == 1  # nor is that date (its "2015" and "3" are no match)
    assert set(FEATURES) <= set(signals)


def test_the_reader_reports_a_question_that_asks_the_opposite_of_its_passage(model: ExtractiveGenerator) -> None:
    passage = "Formed in 1990 by a merger, BSkyB became the UK's largest digital subscription television company."
    documents = [Document(content=passage, score=0.9, meta={"document_name": "sky.txt", "pages": "1"})]

    def signals(question: str) -> dict[str, float]:
        reply = model.run(messages=[], question=question, documents=documents)["replies"][0]
        return dict(reply.meta["signals"])

    opposite = signals("Which is the UK's smallest digital subscription television company?")
    assert opposite["antonym_chunk"] == opposite["antonym_context"] == 1.0
    assert signals("Which is the UK's largest digital subscription television company?")["antonym_chunk"] == 0.0


def test_a_sentence_is_read_with_the_names_of_the_sentences_above_it(model: ExtractiveGenerator) -> None:
    documents = [
        Document(
            content="The Marlow Bridge crosses the river Teme at Ludlow. It was opened in 1823 and rebuilt in 1887.",
            score=0.9,
            meta={"document_name": "bridges.pdf", "pages": "1", "document_id": "b", "ordinal": 0},
        ),
        Document(
            content="Further downstream, the Ledwyche footbridge was opened in 1901 by the parish.",
            score=0.8,
            meta={"document_name": "walks.pdf", "pages": "3", "document_id": "w", "ordinal": 4},
        ),
    ]
    reply = model.run(messages=[], question="In what year was the Marlow Bridge opened?", documents=documents)
    assert "1823" in (reply["replies"][0].text or "")


def test_a_line_of_a_form_is_read_with_what_the_document_said_before_it(model: ExtractiveGenerator) -> None:
    # The precinct's name is in the first chunk, its results in the next: the title block that names the
    # precinct is no answer to who got the votes.
    meta = {"document_name": "bulletin.pdf", "pages": "1", "document_id": "p"}
    title = Document(
        content="PRECINCT BULLETINS\nPRECINCT 0050003A ACTON\nGENERAL ELECTION 11/04/14\n1100 REGISTERED VOTERS",
        score=0.8,
        meta={**meta, "ordinal": 0},
    )
    results = [
        "GOVERNOR", "EDMUND G BROWN DEM 201", "NEEL KASHKARI REP 247",
        "SECRETARY OF STATE", "ALEX PADILLA DEM 150", "PETE PETERSON REP 280",
        "SHERIFF", "JIM MCDONNELL 219", "PAUL TANAKA 101",
        "ASSESSOR", "JOHN MORRIS 136", "JEFFREY PRANG 190",
        "STATE MEASURE 45", "YES 140", "NO 185",
    ]  # fmt: skip
    documents = [
        Document(
            content="\n".join(results),
            score=0.9,
            meta={**meta, "ordinal": 1},
        ),
        title,
    ]
    question = "Which candidate for Sheriff received 219 votes in the Acton precinct 0050003A?"
    reply = model.run(messages=[], question=question, documents=documents)["replies"][0].text or ""
    assert "JIM MCDONNELL 219" in reply and "PRECINCT BULLETINS" not in reply, reply


def test_a_word_is_found_only_as_a_whole_word() -> None:
    assert find_word("laid off 474 in 2015", "474") == 9
    assert find_word("in 2015", "0") == -1 and find_word("action act", "act") == 7
    assert find_word("sj4172-1 tag", "sj4172") == 0 and find_word("under_score", "score") == -1


def test_an_identifier_asked_for_by_its_kind_is_a_code_not_a_count() -> None:
    assert extractive._answer_type("What is the docket number of the case Knowles v. Mirzayance?") == "id"
    assert extractive._answer_type("Which FCC OPS software version does the directive require?") == "id"
    assert extractive._answer_type("What tag number does the Sears Roebuck rifle have?") == "id"
    # the serial number names the entity here; what is asked is its make
    assert extractive._answer_type("What is the make of the pistol with serial number SZH77919?") is None
    assert extractive._codes("Petitioner : v. : No. 07-1315") == {"07-1315"}
    assert extractive._codes("install software version P12.1.2, part number 2274\u2013COL\u2013AC2\u201326") == {
        "p12.1.2",
        "2274\u2013col\u2013ac2\u201326",
    }
    # dates, sums, plain numbers and section references are no codes
    assert not extractive._codes("Tuesday, January 13, 2009, 05/24/2016, $5.50, 7.65, 3.5%, 106(g), 40113")


def test_a_docket_number_is_answered_with_the_line_that_holds_one(model: ExtractiveGenerator) -> None:
    # the hearing's date line is as close in words, and holds numbers, but no docket number
    caption = "\n".join(
        [
            *(str(number) for number in range(1, 26)),  # the transcript's line numbers
            "Official - Subject to Final Review",
            "IN THE SUPREME COURT OF THE UNITED STATES",
            "- - - - - - - - - - - - - - - - - x",
            "MICHAEL A. KNOWLES, :",
            "WARDEN, :",
            "Petitioner :",
            "v. : No. 07-1315",
            "ALEXANDRE MIRZAYANCE. :",
            "- - - - - - - - - - - - - - - - - x",
            "Washington, D.C.",
            "Tuesday, January 13, 2009",
            "The above-entitled matter came on for oral",
            "argument before the Supreme Court of the United States",
            "at 1:01 p.m.",
            "APPEARANCES:",
            "STEVEN E. MERCER, ESQ., Deputy Attorney General, Los",
            "Angeles, Cal.; on behalf of the Petitioner.",
        ]
    )
    question = "What is the docket number of the Supreme Court case Knowles v. Mirzayance?"
    text = model.run(messages=[], question=question, documents=ranked((caption, 0.9)))["replies"][0].text or ""
    assert "07-1315" in text and "January 13" not in text, text


def test_a_row_whose_column_is_the_asked_word_in_another_form_is_no_title(model: ExtractiveGenerator) -> None:
    # "total" is asked, the column is "Totals": the row must not take the penalty of a title line that holds
    # none of the words asked about
    question = "What was the total number of NICS firearm background checks for Florida in November 2015?"
    row = [(0, 0.9, "State: Florida; Permit: 15,907; Handgun: 50,796; Totals: 103,532.")]
    vector = model.embedder.embed([question])[0]
    unpenalised = ExtractiveGenerator(model.embedder, ReaderWeights(threshold=0.0, no_focus=0.0))
    assert model._score(question, vector, vector, row)[0] == unpenalised._score(question, vector, vector, row)[0]


def test_a_value_that_repeats_its_header_is_the_answer_not_an_entity_named() -> None:
    # "Shelf 5" under "Shelf": the question's "shelf" asks for that column; "Reagent Q" is what it names
    cells = rows.parse_row("Code: R-116; Reagent: Reagent Q; Shelf: Shelf 5; Expiry: 2028-08.")
    assert cells is not None
    assert rows.choose_cell(cells, "On which shelf is Reagent Q kept?", None) == (2, [1])
