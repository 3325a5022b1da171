"""The built-in offline model: an extractive reader that answers, summarises and checks support with sentences
it finds in the context, and never writes text of its own."""

from __future__ import annotations

import math
import re
import string
import sys
from collections import Counter
from typing import Any, NamedTuple

import msgspec
import numpy as np
from haystack import Document, component
from haystack.dataclasses import ChatMessage

from adapters.rag import antonyms, rows
from adapters.rag.decline import DeclineModel, load_model
from adapters.rag.text import CITATION, content_words, find_word, stem, stems
from domain.answering import DECLINE
from domain.chunking import ABBREVIATIONS, split_sentences

# A negation, contracted ones too: "can't", and "can ' t" as text tokenised with spaces writes it.
_NEGATION = re.compile(r"\b(?:not|never|no|none|neither|nor|without|cannot)\b|\Bn ?['\u2019] ?t\b", re.IGNORECASE)
# An identifier asked for by its kind ("the docket number", "what tag number", "which software version"): its
# answer is a code (07-1315, SJ4172-1, P12.1.2), not a count. The kind must be what is asked, not what names the
# entity ("the make of the pistol with serial number ..."): at most two words stand between "what" and it.
_ID_QUESTION = re.compile(
    r"\b(what|which)( is| was| are| were)?( the)?( (?!(of|with|for|in|on|by)\b)[\w/-]+){0,2}? "
    r"((docket|serial|case|file|tag|part|report|account|registration|licen[cs]e|reference|tracking|order|invoice|"
    r"policy|permit|parcel|claim|identification|model|flight|version) (number|no\b|#)|(software|firmware|program) "
    r"version)",
    re.I,
)
_TIME_QUESTION = re.compile(r"\b(when|what year|which year|what century|what decade|what date|what month)\b", re.I)
_COUNT_QUESTION = re.compile(
    r"\bhow (many|much|long|far|old|large|big|high|tall|often)\b|\bwhat (percentage|percent|number|amount)\b"
    r"|\b(what|which) (is|was|are|were) the ([a-z-]+ )?(number|amount|total|price|cost)\b",
    re.I,
)
_PERSON_QUESTION = re.compile(
    r"\b(who|whom|whose)\b|\b(which|what) (candidate|person|official|officer|employee|attorney|lawyer|judge)\b", re.I
)
_PLACE_QUESTION = re.compile(r"\bwhere\b|\b(which|what|in which) (city|state|country|county|town|place)\b", re.I)
_ORG_QUESTION = re.compile(
    r"\b(which|what) (company|companies|agency|agencies|organi[sz]ation|firm|employer|department|bureau|office)\b",
    re.I,
)
_ORG = re.compile(
    r"\b(inc|llc|ltd|co|corp|corporation|company|agency|department|bureau|association|university|office|"
    r"administration|commission|service|services|group)\b\.?",
    re.I,
)
# Answers with a shape of their own: (what the question says, what the answer looks like).
_CONTACTS = {
    "email": (re.compile(r"\be-?mail\b", re.I), re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")),
    "phone": (
        re.compile(r"\b(fax|phone|telephone) (number)?\b", re.I),
        re.compile(r"\(?\d{3}\)?[\s.\u2013-]+\d{3}[\s.\u2013-]+\d{4}\b"),
    ),
    "url": (re.compile(r"\b(website|web site|url|web address)\b", re.I), re.compile(r"\bhttps?://\S+|\bwww\.\S+")),
    # "the street address of ...", not "address the board": a number, a street's name and its kind, or a box
    "address": (
        re.compile(
            r"\b(the|an|its|their|his|her|whose|what|which) ((street|mailing|postal|physical|office|home|business|"
            r"return) )?address(es)?\b",
            re.I,
        ),
        re.compile(
            r"\b\d{1,6}\s+([A-Z][\w.'-]*\s+){1,4}(?i:street|st|avenue|ave|road|rd|boulevard|blvd|drive|dr|lane|ln|way|"
            r"court|ct|place|pl|parkway|pkwy|highway|hwy|square|sq|terrace|circle|plaza)\b|\b(?i:p\.?\s?o\.?\s+box)\s+\d+"
        ),
    ),
}
# "How many airplanes ..." is answered by a number of airplanes: "affects 73 airplanes of U.S. registry".
_COUNTED = re.compile(r"\bhow many ([a-z][a-z-]+)", re.I)
_CAPS = re.compile(r"\b[A-Z][A-Z'-]{2,}\b")
_TIME = re.compile(
    r"\b(1\d{3}|20\d{2}|\d{1,2}(st|nd|rd|th) century|january|february|march|april|may|june|july|august|"
    r"september|october|november|december|bc|ad|centur(y|ies)|decade)\b",
    re.I,
)
_COUNT = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion)\b", re.I)
_NAME = re.compile(r"(?<!^)(?<![.!?] )\b[A-Z][a-z]+")


def _answer_type(question: str) -> str | None:
    """The kind of answer a question asks for, when its wording says so."""
    for kind, (asks, _) in _CONTACTS.items():
        if asks.search(question):
            return kind
    if _ID_QUESTION.search(question):
        return "id"
    if _TIME_QUESTION.search(question):
        return "time"
    if _COUNT_QUESTION.search(question):
        return "count"
    if _ORG_QUESTION.search(question):
        return "org"
    if _PERSON_QUESTION.search(question) or _PLACE_QUESTION.search(question):
        return "name"
    return None


def _has_answer_type(kind: str, sentence: str, question_terms: set[str]) -> bool:
    if kind in _CONTACTS:
        return bool(_CONTACTS[kind][1].search(sentence))
    if kind == "time":
        return bool(_TIME.search(sentence))
    if kind == "count":
        return bool(_COUNT.search(sentence))
    if kind == "id":
        return bool(_codes(sentence) - question_terms)
    if kind == "org" and _ORG.search(sentence):
        return True
    names = _NAME.findall(sentence) + _CAPS.findall(sentence)  # "Mercer", and "MCDONNELL" in upper-case records
    return any(name.lower() not in question_terms for name in names)


_NOT_CODE = re.compile(r"\d{1,2}/\d{1,2}/\d{2,4}|\d{4}-\d{2}-\d{2}|[$€£].*|.*%")  # dates, money, shares
_NUMBERED = re.compile(r"\b(?:no|nos|number|#)[.:]?\s*#?:?\s*(\d[\w./\u2013-]*)", re.I)  # "No. 4521", "#: 88"


_CODE_CHARS = frozenset(string.ascii_letters + string.digits + "./#:-\u2013")


def _counts(sentence: str, counted: str, given: set[str]) -> bool:
    """The sentence gives a number of what the question counts (``counted``, the stem of the word after "how
    many"), not one of the numbers it ``given``: a number, at most two words, and the noun ("73 airplanes",
    "40,000 people had registered")."""
    for match in re.finditer(r"(\d[\d,.]*)((?:\s+[\w-]+){1,3})", sentence):
        if match.group(1) not in given and any(stem(word.lower()) == counted for word in match.group(2).split()):
            return True
    return False


def _codes(sentence: str) -> set[str]:
    """The identifiers of a sentence, lower-cased: words with a digit and a letter or an inner dash or slash
    (07-1315, SZH77919, Tag#:SJ3360-1, P12.1.2), and a number labelled as one ("No. 4521"); not dates or sums."""
    found = {match.lower() for match in _NUMBERED.findall(sentence)}
    for word in sentence.split():
        word = word.strip(".,;:()[]\"'")
        if not any(c.isdigit() for c in word) or not _CODE_CHARS.issuperset(word) or _NOT_CODE.fullmatch(word):
            continue
        inner = word[1:-1]
        if any(c.isalpha() for c in word) or any(c in "-\u2013/" for c in inner) or inner.count(".") >= 2:
            found.add(word.lower())
    return found


def _names_someone(sentence: str, question_terms: set[str]) -> bool:
    """The sentence holds a capitalised name the question does not (abbreviations such as "No." are none)."""
    names = _NAME.findall(sentence) + _CAPS.findall(sentence)
    return any(name.lower() not in question_terms and name.lower().rstrip(".") not in _ABBREVIATIONS for name in names)


def _value_fits(kind: str | None) -> Any:
    """Whether a table cell is the kind of value a question asks for."""
    if kind in ("count", "time", "id"):
        return lambda value: bool(re.search(r"\d", value))
    if kind in ("name", "org"):
        return lambda value: bool(re.search(r"[A-Za-z]{2}", value)) and not rows.is_numeric(value)
    return None


# The words that say what kind of answer is wanted ("how many", "the name"), the frame of a question ("what kind
# of ...", "which one was used ..."), and fillers that a repair left behind.
_GENERIC = frozenset(
    [
        "many", "much", "according", "given", "have", "has", "get", "got", "run", "called", "named", "name",
        "number", "type", "kind", "sort", "example", "one", "ones", "used", "use", "make", "made", "want", "like",
        "know", "known", "can", "could", "would", "should", "may", "might", "they", "them", "me", "not", "no",
        "other", "another", "also", "some", "any", "more", "most", "mean", "meant", "think", "say", "said", "tell",
        "scratch", "oops", "oh", "guess", "darn", "hmm", "okay", "actually", "sorry", "wait", "rather", "let",
    ]
)  # fmt: skip


def _focus(question: str) -> set[str]:
    """The question's lower-case content words: what the answer is about ("price", "straw", "email"), where its
    capitalised words and numbers mostly name the source or the entity ("USDA Ag Energy Round-Up"). A word just
    before a number or a name says what kind of entity that is ("precinct 0050003A", "the case Knowles v. ..."):
    a heading that names the entity holds it too, so it tells nothing about the answer."""
    words = [word.strip("?.,;:!()\"'") for word in question.split()]
    lower = {
        word
        for i, word in enumerate(words)
        if i > 0
        and word[:1].islower()
        and not (i + 1 < len(words) and (words[i + 1][:1].isupper() or words[i + 1][:1].isdigit()))
    }
    return {term for term in content_words(" ".join(lower)) if term not in _GENERIC}


def _salient(question: str) -> list[str]:
    """The question's numbers and names (words after the first that start with a digit or a capital)."""
    words = [word.strip("?.,;:!()\"'") for word in question.split()]
    return [w for i, w in enumerate(words) if w and (w[:1].isdigit() or (i > 0 and w[:1].isupper()))]


def _answerable_unit(sentence: str) -> bool:
    """Not an empty or title row: at least two words, and a Markdown row with two filled cells or more."""
    if len(re.findall(r"[A-Za-z0-9]{2,}", sentence)) < 2:
        return False
    stripped = sentence.strip()
    if stripped.startswith("|"):
        return sum(1 for cell in stripped.strip("|").split("|") if cell.strip()) >= 2
    return True


# Abbreviations whose capital makes no name ("No. 07-1315"), nor does the "v." of a case.
_ABBREVIATIONS = ABBREVIATIONS | {"v"}


# A question's pointer to its source ("according to the USDA Round-Up", "on the district's agenda of April 6"):
# retrieval has found that source already; in the reader it would only favour the source's title line.
_SOURCE = re.compile(
    r",? *(according to\b[^,?]*|\b(in|on|from) the ((?!\b(in|on|from) the\b)([^,?]|, (?=\d{4})))*?"
    r"\b(report|agenda|bulletin|transcript|register|listing|"
    r"search|document|notice|minutes)\b( of [^,?]*(, \d{4})?)?)",
    re.I,
)


def _without_source(question: str) -> str:
    stripped = _SOURCE.sub("", question).strip()
    return stripped if len(content_words(stripped)) >= 2 else question


def _units(content: str) -> list[tuple[str, bool, str]]:
    """The units an answer can quote, each with whether it is structured (a table row, or a line of a block
    laid out as lines) rather than a sentence of prose, and for a line the block it is a line of.

    A table row is one unit whole (its headers may hold a full stop: "No. Of"). A sentence laid out on several
    lines (a form, a list of results) gives its lines as units too, so that a value in it is answered
    with its line, not with the whole block. A short line just before a table's rows is its caption: it is
    context for the rows, never an answer by itself.
    """
    units: list[tuple[str, bool, str]] = []
    block: list[str] = []

    def flush(before_rows: bool) -> None:
        if before_rows and block and len(block[-1]) <= 120:
            block.pop()  # the table's caption
        text = "\n".join(block)
        for sentence in (text[start:end] for start, end in split_sentences(text)):
            lines: list[str] = []
            for line in (line.strip() for line in sentence.split("\n")):
                if lines and line[:1].islower():
                    lines[-1] = f"{lines[-1]} {line}"  # a wrapped line of prose continues
                elif line:
                    lines.append(line)
            if len(sentence) <= 300 or len(lines) < 2:
                units.append((sentence, False, ""))
            if len(lines) >= 2 and (len(sentence) > 300 or len(lines) >= 4):
                units.extend((line, True, sentence) for line in lines)
        block.clear()

    for line in content.split("\n"):
        if _is_row(line):
            flush(before_rows=True)
            units.append((line.strip(), True, ""))
        else:
            block.append(line)
    flush(before_rows=False)
    return [unit for unit in units if _answerable_unit(unit[0])]


class _Headings:
    """The text of a chunk with its table rows blanked out, lower-cased, and where a word first occurs in it
    (looked up for a question's words only, and kept)."""

    def __init__(self, content: str) -> None:
        self.text = _without_rows(content).lower()
        self._first: dict[str, int] = {}

    def first(self, term: str) -> int:
        if term not in self._first:
            at = find_word(self.text, term)
            self._first[term] = at if at >= 0 else sys.maxsize
        return self._first[term]


class _Surroundings(NamedTuple):
    """What a unit is read with: the text above it in its chunk (the caption, the headings and the title of a
    row; what the sentences before one speak of), for a line of a block laid out as lines (a form, a caption)
    its block ("Knowles" : "v. : No. 07-1315" : "Mirzayance"), and the chunks before its chunk in its document.
    Only what is above counts besides: the lines below a title (its answers) would lend it their words."""

    position: int  # where the unit starts in its chunk (lower-cased); -1 when it cannot be found there
    structured: bool  # a table row or a line of a block laid out as lines, not a sentence of prose
    headings: _Headings
    block: frozenset[str]
    before: set[str]

    def holds(self, term: str) -> bool:
        return self.headings.first(term) < self.position or term in self.block or term in self.before


def _surroundings(
    content: str, units: list[tuple[str, bool, str]], headings: _Headings, before: set[str]
) -> list[_Surroundings]:
    """The surroundings of each unit of a chunk (``_units``), in reading order; ``headings`` is the chunk's."""
    lowered = content.lower()
    blocks: dict[str, frozenset[str]] = {}
    found: list[_Surroundings] = []
    start = 0
    for unit, structured, block in units:
        first = unit.split("\n", 1)[0].strip().lower()
        # a wrapped line was joined to the next one ("Petitioner :" + "v. : No. 07-1315"): its start is enough
        position = next((p for n in (40, 12) if (p := lowered.find(first[:n], start)) >= 0), -1) if first else -1
        start = max(start, position)  # units come in reading order: a repeated line is found where it is
        if block not in blocks:
            blocks[block] = frozenset(content_words(block))
        found.append(_Surroundings(position, structured, headings, blocks[block], before))
    return found


def _terms_before(documents: list[Document], headings: list[_Headings]) -> list[set[str]]:
    """For each context chunk, the content words of the context's chunks that come before it in its document
    (rows aside, as in each chunk's ``headings``): a table's title and headers are on its first page, its rows
    on the next ones."""
    keys = [(document.meta.get("document_id"), document.meta.get("ordinal")) for document in documents]
    earlier = [
        [
            rank
            for rank, (other_id, other_ordinal) in enumerate(keys)
            if document_id is not None
            and other_id == document_id
            and ordinal is not None
            and other_ordinal is not None
            and int(other_ordinal) < int(ordinal)
        ]
        for document_id, ordinal in keys
    ]
    needed = {rank for ranks in earlier for rank in ranks}
    words = {rank: set(content_words(headings[rank].text)) for rank in needed}
    return [set().union(*(words[rank] for rank in ranks)) for ranks in earlier]


def _without_rows(content: str) -> str:
    """``content`` with its table rows blanked out (in place: offsets stay): what a row is read with is its
    table's title, caption and headers, not the other rows, which name other entities."""
    return "\n".join(" " * len(line) if _is_row(line) else line for line in content.split("\n"))


def _is_row(line: str) -> bool:
    return ": " in line and "; " in line and rows.parse_row(line) is not None


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WORD_DATE = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})\b", re.I
)
_SLASH_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\b")


def _dates(text: str) -> set[tuple[int, int, int]]:
    """The (month, day, two-digit year) of the dates in ``text``: "March 3, 2017" and "03/03/17" are one date."""
    found = {(_MONTHS.index(m[:3].lower()) + 1, int(d), int(y) % 100) for m, d, y in _WORD_DATE.findall(text)}
    found |= {(int(m), int(d), int(y) % 100) for m, d, y in _SLASH_DATE.findall(text)}
    return found


def _unmatched_negation(question: str, sentence: str) -> bool:
    """The question negates ("what can't ...", "who never ...") and the sentence does not: the question asks
    about the opposite of what the sentence says, as unanswerable questions written on a passage often do."""
    return bool(_NEGATION.search(question)) and not _NEGATION.search(sentence)


class ReaderWeights(msgspec.Struct, frozen=True):
    """How the extractive reader scores a context sentence, and when it declines.

    The scoring weights were chosen on the Disfl-QA and realdocs dev questions; the decline is a
    logistic regression over the reader's signals (``decline.py``, fitted by ``bench/fit_decline.py``). Both
    assume score fusion (chunk scores in 0..1).
    """

    dense: float = 0.5  # cosine similarity to the repaired question
    dense_original: float = 0.2  # cosine similarity to the question as asked
    overlap: float = 0.5  # IDF-weighted share of the question's terms in the sentence
    answer_type: float = 0.02  # the sentence holds what the question asks for (a date for "when", ...)
    restatement: float = 0.08  # penalty: the sentence only repeats the question's words
    chunk_score: float = 0.3  # the retrieval score of the sentence's chunk
    chunk_rank: float = 0.01  # penalty per rank of the sentence's chunk
    missing_name: float = 0.1  # doubt per number or name of the question missing from the sentence (at most 2)
    missing_number: float = 0.05  # penalty per number of the question missing from the sentence (at most 2)
    cell: float = 0.2  # a table row that holds the question's entities and a cell whose header it names
    context: float = 0.5  # credit for a question term found above the sentence in its chunk, not in it
    context_name: float = 1.0  # ... for a number or name of the question found there: what the sentence is about
    no_focus: float = 0.1  # penalty: the sentence holds none of the question's lower-case content words (a title)
    no_shape: float = 0.5  # penalty: an email address, phone number or web address is asked and this is none
    no_number: float = 0.1  # penalty: a "how many" question, and the sentence has no number but the question's
    counted: float = 0.15  # a "how many X" question, and the sentence gives a number of X ("73 airplanes")
    no_code: float = 0.1  # penalty: an identifier is asked (a docket number, a software version), and it has none
    no_name: float = 0.1  # penalty: a "who" question, and the sentence names nobody the question does not
    negation: float = 0.3  # doubt when the question negates and the sentence does not
    # Decline below this probability that the answer is right; None: the fitted model's own cutoff
    # (``decline_model.json``). Without a fitted model, the confidence threshold of before (0.746) applies.
    threshold: float | None = None
    second_ratio: float = 0.9  # add the runner-up sentence when it scores this close to the best


TASKS = ("answer", "feedback", "map", "reduce", "reflect")
SUMMARY_SENTENCES = 5  # a reduce keeps at most this many sentences, more only to cover every document (<= 10)
SUPPORTED = 0.85  # cosine similarity at which an answer sentence counts as found in the context


@component
class ExtractiveGenerator:
    """The built-in offline model: it generates nothing; it selects and stitches context sentences.

    It reads the same prompt messages as any chat model, but works from the structured inputs beside them
    (the context documents, the question and its embedding). What each ``task`` does:

    - ``answer``: each sentence of the context chunks is scored against the question (see ``ReaderWeights``):
      embedding similarity to the question as asked and as repaired (sentence vectors are precomputed at
      ingestion), IDF-weighted term overlap (a word of the question found above the sentence, in its chunk or an
      earlier chunk of its document, counts too: fully for a name or number, half for another word), answer-type
      cues, and the retrieval score of its chunk. The best one
      or two sentences form the answer, each followed by the citation marker of its chunk (``[1]`` is the first
      context chunk). Below the confidence threshold the answer starts with exactly ``Not found in the
      documents.``; with no context at all (``llm_only``) it always declines: it has no knowledge of its own.
    - ``feedback``: HyDE's first pass as pseudo-relevance feedback: the top three sentences, with no threshold,
      stand in for the hypothetical answer it cannot write.
    - ``map``: extractive summarisation of one batch of chunks: the most salient sentence of each chunk (two for
      long chunks), salience being similarity to the question and to the batch's centroid.
    - ``reduce``: the most salient of the mapped sentences, covering every document first (up to ten), without
      near-duplicates, in citation order.
    - ``reflect``: a support check: each sentence of ``answer`` is located in the context documents, with its
      similarity and source, and the verdict is a ``Score: n/10`` line (the share of supported sentences).

    Usage::

        gen = ExtractiveGenerator(embedder)
        gen.run(messages=prompt, question="Who?", documents=docs, question_embedding=vec)["replies"][0].text
    """

    name = "extractive"

    def __init__(
        self, embedder: Any, weights: ReaderWeights | None = None, decline: DeclineModel | None = None
    ) -> None:
        self.embedder = embedder
        self.weights = weights or ReaderWeights()
        self.decline = decline if decline is not None else load_model()

    @component.output_types(replies=list[ChatMessage])
    def run(
        self,
        messages: list[ChatMessage],
        question: str = "",
        documents: list[Document] | None = None,
        question_embedding: np.ndarray | None = None,
        repaired_question: str | None = None,
        task: str = "answer",
        answer: str = "",
    ) -> dict[str, Any]:
        documents = documents or []
        if task == "reflect":
            return {"replies": [self._reflect(answer, documents)]}
        if not documents:
            text = f"{DECLINE} The extractive model answers only from documents, and none were given."
            return {"replies": [ChatMessage.from_assistant(text, meta={"sentences": []})]}
        asked = (
            np.asarray(question_embedding, dtype=np.float32)
            if question_embedding is not None
            else self.embedder.embed([question])[0]
        )
        if task in ("map", "reduce"):
            return {"replies": [self._summarise(question, asked, documents, task)]}
        units: list[tuple[int, float, str, bool]] = []
        # Each unit is read with what its chunk says above it: the caption, headings and title name the entities
        # of a table row ("NICS ... November 2015"), the sentences before one the subject it goes on about.
        contexts: list[_Surroundings] = []
        headings = [_Headings(document.content or "") for document in documents]
        befores = _terms_before(documents, headings)
        for rank, document in enumerate(documents):
            own = _units(document.content or "")
            units.extend((rank, float(document.score or 0.0), unit, structured) for unit, structured, _ in own)
            contexts.extend(_surroundings(document.content or "", own, headings[rank], befores[rank]))
        candidates = [(rank, score, unit) for rank, score, unit, _ in units]
        repaired = repaired_question or question
        meant = asked if repaired == question else self.embedder.embed([repaired])[0]
        scores, dense = self._score(repaired, meant, asked, candidates, contexts)
        order = sorted(range(len(candidates)), key=lambda i: -scores[i])
        if task == "feedback":
            top = list(dict.fromkeys(candidates[i][2].strip() for i in order))[:3]
            return {"replies": [ChatMessage.from_assistant(" ".join(top), meta={"pseudo_relevance_feedback": True})]}
        best = order[0] if order else None
        best_score = scores[best] if best is not None else 0.0
        confidence = best_score - self._doubt(repaired, candidates[best][2]) if best is not None else 0.0
        cell = None
        if best is not None:
            parsed = rows.parse_row(candidates[best][2])
            if parsed is not None:
                chosen_cell = rows.choose_cell(parsed, repaired, _value_fits(_answer_type(repaired)))
                if chosen_cell is not None:
                    cell = rows.cell_answer(parsed, *chosen_cell)
        structured = sum(flag for *_, flag in units) / (len(units) or 1)
        signals = self._signals(repaired, documents, candidates, scores, dense, order, cell is not None, structured)
        probability = None
        if self.decline is not None:
            probability = self.decline.probability(signals)
            cutoff = self.decline.cutoff_for(signals) if self.weights.threshold is None else self.weights.threshold
            declines = probability < cutoff
        else:
            declines = confidence < (0.746 if self.weights.threshold is None else self.weights.threshold)
        meta: dict[str, Any] = {"best_score": best_score, "confidence": confidence, "signals": signals}
        if probability is not None:
            meta["answerable_probability"] = probability
        if best is None or declines:
            closest = documents[0].meta
            text = (
                f"{DECLINE} The closest passage is in {closest.get('document_name')}"
                f" (page {closest.get('pages')}) [1], but it does not answer the question."
            )
            return {"replies": [ChatMessage.from_assistant(text, meta={"sentences": [], **meta})]}
        chosen = [best]
        if cell is None:  # a table cell answers alone; a neighbouring row would only blur it
            for other in order[1:3]:
                close = scores[other] >= self.weights.second_ratio * scores[best]
                if close and candidates[other][2] != candidates[best][2]:
                    chosen.append(other)
                    break
        chosen.sort(key=lambda i: (candidates[i][0], i))  # keep document order for readability
        text = " ".join(
            f"{cell if i == best and cell is not None else candidates[i][2].strip()} [{candidates[i][0] + 1}]"
            for i in chosen
        )
        meta["sentences"] = [{"chunk": candidates[i][0], "score": round(scores[i], 4)} for i in chosen]
        return {"replies": [ChatMessage.from_assistant(text, meta=meta)]}

    def _signals(
        self,
        question: str,
        documents: list[Document],
        candidates: list[tuple[int, float, str]],
        scores: list[float],
        dense: list[float],
        order: list[int],
        cell: bool,
        structured: float,
    ) -> dict[str, float]:
        """What the decline model reads (``decline.FEATURES``)."""
        chunk_scores = [float(document.score or 0.0) for document in documents]
        signals = {
            "structured": structured,
            "chunk_top": chunk_scores[0] if chunk_scores else 0.0,
            "chunk_gap": chunk_scores[0] - chunk_scores[1] if len(chunk_scores) > 1 else chunk_scores[0],
        }
        terms = set(content_words(question))
        salient = _salient(question)
        context = " ".join((document.content or "").lower() for document in documents)
        context_terms = set(content_words(context))
        signals["context_coverage"] = len(terms & context_terms) / (len(terms) or 1)
        focus = _focus(question)
        signals["focus_context_coverage"] = len(focus & context_terms) / len(focus) if focus else 1.0
        signals["question_terms"] = float(len(terms))
        signals["missing_salient_context"] = float(min(3, sum(w.lower() not in context for w in salient)))
        # Counted on light stems: what the question asks about ("rent", "statewide") is nowhere in the context.
        focus_stems = {stem(term) for term in focus}
        context_stems = {stem(term) for term in context_terms}
        signals["focus_missing_context"] = float(min(3, len(focus_stems - context_stems)))
        # Tables and forms label their values with the very words a question uses ("Permit", "Totals"), where
        # prose paraphrases: a word of the question missing from them says more (a product, for a linear model).
        signals["focus_missing_structured"] = signals["focus_missing_context"] * structured
        signals["uncovered_structured"] = (1.0 - signals["focus_context_coverage"]) * structured
        numbers = {w.lower().strip(".,") for w in salient if w[:1].isdigit()}
        names = {w.lower() for w in salient if not w[:1].isdigit()}
        # a date of the question counts as one number, in whatever form the context writes it
        dates = _dates(question)
        if dates:
            parts = {str(day) for _, day, _ in dates} | {
                f"{century}{year:02d}" for _, _, year in dates for century in (19, 20)
            }
            numbers = {n for n in numbers if n.strip(",") not in parts and "/" not in n}
        signals["numbers_missing_context"] = float(
            min(2, sum(n not in context for n in numbers) + len(dates - _dates(context)))
        )
        signals["names_missing_context"] = float(min(3, sum(n not in context for n in names)))
        question_words = antonyms.words_of(question)
        signals["antonym_context"] = float(min(2, antonyms.contrasts(question_words, antonyms.words_of(context))))
        wants = _answer_type(question)
        signals["type_wanted"] = float(wants is not None)
        if not order:
            return {
                **dict.fromkeys(("best", "second", "margin", "doubt", "best_chunk_score", "best_rank"), 0.0),
                "focus_missing_chunk": signals["focus_missing_context"],
                "focus_missing_sentence": signals["focus_missing_context"],
                "numbers_missing": signals["numbers_missing_context"],
                "antonym_chunk": signals["antonym_context"],
                **signals,
            }
        best = order[0]
        rank, chunk_score, sentence = candidates[best]
        second = next((i for i in order[1:] if candidates[i][2] != sentence), None)
        sentence_terms = set(content_words(sentence))
        # The answer need not name the source the question points to ("in the Bureau of Milwaukee Child Welfare
        # 90-day report"): the context must, and the signals above count it there.
        own = _without_source(question)
        own_terms = set(content_words(own))
        own_salient = _salient(own)
        own_focus = _focus(own)
        own_numbers = {n for n in numbers if n in own.lower()}
        chunk_terms = set(content_words(documents[rank].content or ""))
        lowered = sentence.lower()
        signals.update(
            best=scores[best],
            second=scores[second] if second is not None else 0.0,
            margin=scores[best] - (scores[second] if second is not None else 0.0),
            doubt=self._doubt(own, sentence),
            best_chunk_score=chunk_score,
            best_rank=float(rank),
            coverage=len(own_terms & sentence_terms) / (len(own_terms) or 1),
            focus_coverage=len(own_focus & sentence_terms) / len(own_focus) if own_focus else 1.0,
            same_chunk=float(second is not None and candidates[second][0] == rank),
            chunk_coverage=len(terms & chunk_terms) / (len(terms) or 1),
            missing_salient=float(min(3, sum(w.lower() not in lowered for w in own_salient))),
            type_match=float(wants is not None and _has_answer_type(wants, sentence, terms)),
            dense=dense[best],
            row=float(rows.parse_row(sentence) is not None),
            focus_missing_chunk=float(min(3, len(focus_stems - stems(documents[rank].content or "")))),
            focus_missing_sentence=float(min(3, len({stem(term) for term in own_focus} - stems(sentence)))),
            numbers_missing=float(min(2, sum(n not in lowered for n in own_numbers))),
            cell=float(cell),
            # "the smallest company" asked of a passage on the largest: an opposite in the answer's chunk
            antonym_chunk=float(
                min(2, antonyms.contrasts(question_words, antonyms.words_of(documents[rank].content or "")))
            ),
        )
        return {key: round(float(value or 0.0), 5) for key, value in signals.items()}

    def _summarise(self, question: str, asked: np.ndarray, documents: list[Document], task: str) -> ChatMessage:
        """Salient sentences: per chunk for ``map``, across the mapped sentences for ``reduce``."""
        items = [
            (int(document.meta.get("citation", rank + 1)), str(document.meta.get("document_id", "")), sentence)
            for rank, document in enumerate(documents)
            for sentence in [(document.content or "")[s:e] for s, e in split_sentences(document.content or "")]
            if sentence.strip()
        ]
        if not items:
            return ChatMessage.from_assistant("", meta={"sentences": []})
        vectors = self.embedder.embed([sentence for _, _, sentence in items])
        centroid = vectors.mean(axis=0)
        centroid = centroid / (np.linalg.norm(centroid) or 1.0)
        wanted = set(content_words(question))
        overlap = [len(wanted & set(content_words(sentence))) / (len(wanted) or 1) for _, _, sentence in items]
        salience = 0.5 * (vectors @ asked) + 0.3 * (vectors @ centroid) + 0.2 * np.asarray(overlap)
        if task == "map":
            chosen = []
            for citation in dict.fromkeys(citation for citation, _, _ in items):
                own = [i for i, item in enumerate(items) if item[0] == citation]
                own.sort(key=lambda i: -salience[i])
                chosen.extend(own[: 2 if len(own) >= 6 else 1])
        else:
            chosen = self._cover(items, vectors, salience)
        chosen.sort(key=lambda i: (items[i][0], i))
        sentences = [
            {
                "citation": items[i][0],
                "document_id": items[i][1],
                "text": " ".join(items[i][2].split()),
                "score": float(salience[i]),
            }
            for i in chosen
        ]
        text = "\n".join(f"- {s['text']} [{s['citation']}]" for s in sentences)
        return ChatMessage.from_assistant(text, meta={"sentences": sentences})

    @staticmethod
    def _cover(items: list[tuple[int, str, str]], vectors: np.ndarray, salience: np.ndarray) -> list[int]:
        """The best sentence of each document first (up to ten documents), then the most salient others, up to
        ``SUMMARY_SENTENCES`` in all, never two near-duplicates."""
        order = sorted(range(len(items)), key=lambda i: -salience[i])
        chosen: list[int] = []

        def fresh(i: int) -> bool:
            return all(float(vectors[i] @ vectors[j]) < 0.9 for j in chosen)

        seen: set[str] = set()
        for i in order:
            if items[i][1] not in seen and len(seen) < 10 and fresh(i):
                seen.add(items[i][1])
                chosen.append(i)
        for i in order:
            if len(chosen) >= SUMMARY_SENTENCES:
                break
            if i not in chosen and fresh(i):
                chosen.append(i)
        return chosen

    def _reflect(self, answer: str, documents: list[Document]) -> ChatMessage:
        """Locates every sentence of ``answer`` in the context; the verdict is the share found."""
        pieces = (CITATION.sub("", answer[s:e]).strip().removeprefix("- ").strip() for s, e in split_sentences(answer))
        # A decline claims nothing: its second sentence only points at the closest passage.
        claims = [] if answer.startswith(DECLINE) else [piece for piece in pieces if len(piece) > 2]
        context = [
            (rank, (document.content or "")[s:e].strip())
            for rank, document in enumerate(documents)
            for s, e in split_sentences(document.content or "")
        ]
        header = (
            "Support check by the extractive model (it cannot judge quality; it looks for each answer sentence"
            " in the context):"
        )
        if not claims:
            text = f"{header}\nThe answer makes no claim to check (it declines).\nScore: 10/10"
            return ChatMessage.from_assistant(text, meta={"claims": 0, "supported": 0})
        lines, supported = [header], 0
        claim_vectors = self.embedder.embed(claims)
        context_vectors = self.embedder.embed([sentence for _, sentence in context]) if context else None
        flat = " ".join(" ".join(sentence.lower().split()) for _, sentence in context)
        for number, claim in enumerate(claims, start=1):
            if context_vectors is None:
                lines.append(f'{number}. "{claim}": NOT SUPPORTED (there is no context)')
                continue
            similarities = context_vectors @ claim_vectors[number - 1]
            best = int(np.argmax(similarities))
            score = 1.0 if " ".join(claim.lower().split()) in flat else float(similarities[best])
            rank, sentence = context[best]
            meta = documents[rank].meta
            source = f"[{rank + 1}] {meta.get('document_name', 'context')} (page {meta.get('pages', '?')})"
            if score >= SUPPORTED:
                supported += 1
                lines.append(f'{number}. "{claim}": supported ({score:.2f}) by {source}')
            else:
                lines.append(f'{number}. "{claim}": NOT SUPPORTED; closest ({score:.2f}) is {source}: "{sentence}"')
        lines.append(
            f"Score: {round(10 * supported / len(claims))}/10 ({supported} of {len(claims)} sentences supported)"
        )
        return ChatMessage.from_assistant("\n".join(lines), meta={"claims": len(claims), "supported": supported})

    def _doubt(self, question: str, sentence: str) -> float:
        """How much to distrust the best sentence: the question names things it does not mention (numbers,
        names), or asks about a negation the sentence does not make. Both are how an unanswerable question
        differs from an answerable one about the same passage."""
        lowered = sentence.lower()
        words = question.split()
        salient = [w for i, w in enumerate(words) if w[:1].isdigit() or (i > 0 and w[:1].isupper())]
        missing = sum(1 for word in salient if word.lower() not in lowered)
        return self.weights.missing_name * min(missing, 2) + self.weights.negation * _unmatched_negation(
            question, sentence
        )

    def _score(
        self,
        question: str,
        meant: np.ndarray,
        asked: np.ndarray,
        candidates: list[tuple[int, float, str]],
        contexts: list[_Surroundings] | None = None,
    ) -> tuple[list[float], list[float]]:
        if not candidates:
            return [], []
        w = self.weights
        question = _without_source(question)
        vectors = self.embedder.embed([sentence for _, _, sentence in candidates])
        dense = vectors @ meant
        dense_asked = dense if asked is meant else vectors @ asked
        sentence_terms = [set(content_words(sentence)) for _, _, sentence in candidates]
        document_frequency: Counter[str] = Counter(term for terms in sentence_terms for term in terms)
        total = len(candidates)
        question_terms = set(content_words(question))
        idf = {term: math.log(1 + total / (1 + document_frequency[term])) for term in question_terms}
        weight = sum(idf.values()) or 1.0
        wants = _answer_type(question)
        fits = _value_fits(wants)
        numbers = [word.lower() for word in _salient(question) if word[:1].isdigit()]
        question_lowered = question.lower()
        focus = _focus(question)
        focus_stems = {stem(term) for term in focus}  # "total" is the "Totals" column
        named = set(content_words(" ".join(_salient(question))))  # its numbers and names, as terms
        person = wants == "name" and _PERSON_QUESTION.search(question) is not None
        counted_match = _COUNTED.search(question)
        counted = stem(counted_match.group(1).lower()) if counted_match else None
        given_numbers = set(re.findall(r"\d[\d,.]*", question_lowered))
        scores = []
        for index, terms in enumerate(sentence_terms):
            rank, chunk_score, sentence = candidates[index]
            overlap = sum(idf[term] for term in question_terms & terms) / weight
            if contexts:
                around = {term for term in question_terms - terms if contexts[index].holds(term)}
                overlap += w.context_name * sum(idf[term] for term in around & named) / weight
                overlap += w.context * sum(idf[term] for term in around - named) / weight
            has_kind = wants is not None and _has_answer_type(wants, sentence, question_terms)
            cue = w.answer_type if has_kind else 0.0
            restates = 0.0 if terms - question_terms else w.restatement
            lowered = sentence.lower()
            if focus and not focus & terms and not focus_stems & {stem(term) for term in terms}:
                restates += w.no_focus  # it names the question's entities only: a heading, a title
            if wants in _CONTACTS and not _CONTACTS[wants][1].search(sentence):
                restates += w.no_shape  # an email address, a fax number: the answer must have that shape
            if person and not _names_someone(sentence, question_terms):
                restates += w.no_name  # "Petitioner : v. : No. 07-1315" names no one who could have argued
            if wants == "count" and not any(n not in question_lowered for n in re.findall(r"\d[\d,.]*", lowered)):
                restates += w.no_number  # a title ("... November 2015") is no count
            if counted is not None and _counts(sentence, counted, given_numbers):
                cue += w.counted
            if wants == "id" and not has_kind:
                restates += w.no_code  # the hearing's date line holds no docket number
            # a number the question names (a flight, a count, a serial) must be in the answer's row or sentence
            # ... or, for a row or a line, above it: the date of the agenda, the precinct of the bulletin
            heading = contexts[index] if contexts and contexts[index].structured else None
            missing = w.missing_number * min(
                2, sum(number not in lowered and not (heading and heading.holds(number)) for number in numbers)
            )
            row = rows.parse_row(sentence) if ": " in sentence and "; " in sentence else None
            cell = 0.0
            if row is not None:
                found = rows.choose_cell(row, question, fits)
                cell = w.cell if found is not None and found[1] else 0.0
                # the row must hold the names the question gives (the company, the state), not only its numbers
                names = [word.lower() for word in _salient(question) if not word[:1].isdigit()]
                missing += w.missing_number * min(2, sum(name not in lowered for name in names))
            scores.append(
                float(
                    w.dense * dense[index]
                    + w.dense_original * dense_asked[index]
                    + w.overlap * overlap
                    + cue
                    - restates
                    - missing
                    + cell
                    + w.chunk_score * chunk_score
                    - w.chunk_rank * rank
                )
            )
        return scores, [float(value) for value in dense]
