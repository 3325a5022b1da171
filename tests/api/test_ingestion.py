"""Ingestion of real documents through the h2ogpte client: a PDF table, a scanned PDF page and an image read by
OCR, each answered and cited with its page; bad files that fail alone with their reason; the upload size limit;
and job progress.

OCR costs about 1.4 s per A4 page on two cores, so scans here are strips of an A4 page at 300 dpi (a few lines of
12 pt type) except for the one full-page PNG.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import h2ogpte.rest_sync as rest
import pytest
from h2ogpte.rest_sync.exceptions import ApiException, BadRequestException

from tests.documents import (
    PROSE,
    bomb_png,
    encrypted_pdf,
    image_bytes,
    mixed_pdf,
    table_pdf,
    text_image,
    text_pdf,
    truncated_pdf,
)
from tests.server import ADMIN_KEY, ServerProcess

STRIP = (2480, 700)  # the top of an A4 page at 300 dpi: a few lines of print, quick to OCR

PARTS = [
    ["Part", "Stock", "Bin"],
    ["Copper valve", "4812", "A7"],
    ["Brass hinge", "239", "C2"],
    ["Steel bracket", "1577", "F9"],
]
INVENTORY = "Warehouse inventory of spare parts, as counted by the stores team."
INVENTORY_AFTER = "The counts are checked again at the end of every quarter."
SCANNED_FACT = "The lighthouse keeper's cat is named Biscuit and weighs six kilograms."
PRINTED_FACT = "Invoice number 4471 was paid in full on the third of March by bank transfer."
ORCHARD = b"The orchard behind the old mill grows forty-two varieties of pear, the oldest planted in 1873."
# A table longer than one chunk (200 tokens): with keep_tables_as_one_chunk it stays one chunk all the same.
LONG_TABLE = [["Code", "Reagent", "Shelf", "Expiry"]] + [
    [f"R-{100 + n}", f"Reagent {chr(65 + n)}", f"Shelf {n % 6 + 1}", f"20{27 + n % 4}-0{n % 9 + 1}"] for n in range(22)
]


@dataclass
class Apis:
    collections: rest.CollectionsApi
    ingestion: rest.DocumentIngestionApi
    documents: rest.DocumentsApi
    chat: rest.ChatApi
    jobs: rest.JobsApi


def apis(api: rest.ApiClient) -> Apis:
    return Apis(
        rest.CollectionsApi(api),
        rest.DocumentIngestionApi(api),
        rest.DocumentsApi(api),
        rest.ChatApi(api),
        rest.JobsApi(api),
    )


def new_collection(a: Apis, name: str) -> str:
    collection_id: str = a.collections.create_collection(rest.CollectionCreateRequest(name=name, description="")).id
    return collection_id


def upload(a: Apis, files: dict[str, bytes]) -> dict[str, str]:
    """Upload each file; returns upload id by filename."""
    return {name: a.ingestion.upload_file(file=(name, data)).id for name, data in files.items()}


def follow(a: Apis, job_id: str, timeout: float = 120.0) -> tuple[rest.JobDetails, list[tuple[str, float]]]:
    """Poll a job until it leaves ``in progress``; returns its last details and every (status, progress) seen."""
    seen: list[tuple[str, float]] = []
    deadline = time.monotonic() + timeout
    while True:
        details = a.jobs.get_job(job_id)
        seen.append((details.overall_status, details.progress))
        if details.overall_status != "in progress":
            return details, seen
        assert time.monotonic() < deadline, f"job {job_id} still in progress after {timeout} s: {details}"
        time.sleep(0.02)


def ask(a: Apis, collection_id: str, question: str) -> tuple[str, list[rest.ChatMessageReference]]:
    session = a.chat.create_chat_session(collection_id=collection_id)
    answer = a.chat.get_completion(session.id, rest.ChatCompletionRequest(message=question))
    return answer.body, a.chat.get_message_references(answer.message_id)


@dataclass
class Library:
    """A collection ingested by one job: a table PDF, a PDF with a scanned page, a full-page PNG, a text file."""

    collection_id: str
    job: rest.JobDetails
    seen: list[tuple[str, float]]
    upload_ids: dict[str, str]


@pytest.fixture(scope="module")
def library(api: rest.ApiClient) -> Library:
    a = apis(api)
    collection_id = new_collection(a, "Real documents")
    ids = upload(
        a,
        {
            "parts.pdf": table_pdf(INVENTORY, PARTS, INVENTORY_AFTER),  # the table is on page 2
            "keeper.pdf": mixed_pdf(PROSE, text_image(SCANNED_FACT, STRIP)),  # page 2 is only a scan
            "invoice.png": image_bytes(text_image(PRINTED_FACT + "\n" + PROSE), "PNG"),  # a full A4 page
            "orchard.txt": ORCHARD,
        },
    )
    job = a.ingestion.create_ingest_upload_job(list(ids.values()), collection_id=collection_id)
    assert isinstance(job, rest.JobDetails) and job.overall_status == "in progress"
    details, seen = follow(a, job.id)
    return Library(collection_id, details, seen, ids)


def test_real_documents_are_listed_with_their_pages(api: rest.ApiClient, library: Library) -> None:
    a = apis(api)
    assert library.job.overall_status == "completed", library.job.errors
    assert library.job.errors == [] and library.job.files_total == 4 and library.job.files_failed == 0
    documents = {d.name: d for d in a.collections.list_documents_for_collection(library.collection_id)}
    assert {name: d.page_count for name, d in documents.items()} == {
        "parts.pdf": 3,
        "keeper.pdf": 2,
        "invoice.png": 1,
        "orchard.txt": 1,
    }
    assert all(d.status == "completed" for d in documents.values())
    assert {name: d.type for name, d in documents.items()}["invoice.png"] == "png"


def test_a_table_cell_is_answered_and_cited_with_the_table_page(api: rest.ApiClient, library: Library) -> None:
    body, references = ask(apis(api), library.collection_id, "How many copper valves are in stock?")
    assert "4812" in body and "[1]" in body, body
    top = references[0]
    assert (top.document_name, top.pages) == ("parts.pdf", "2")
    assert "Part: Copper valve; Stock: 4812; Bin: A7." in (top.content or "")  # a row reads alone, with headers


def test_a_scanned_pdf_page_is_read_by_ocr_and_cited_as_page_2(api: rest.ApiClient, library: Library) -> None:
    body, references = ask(apis(api), library.collection_id, "What is the name of the lighthouse keeper's cat?")
    assert "Biscuit" in body and "[1]" in body, body
    top = references[0]
    assert (top.document_name, top.pages) == ("keeper.pdf", "2")
    assert "six kilograms" in (top.content or "")


def test_an_image_of_printed_text_is_read_by_ocr_and_cited_as_page_1(api: rest.ApiClient, library: Library) -> None:
    body, references = ask(apis(api), library.collection_id, "When was invoice number 4471 paid?")
    assert "third of March" in body, body
    top = references[0]
    assert (top.document_name, top.pages) == ("invoice.png", "1")


def test_job_progress_never_falls_and_reaches_one_only_when_completed(library: Library) -> None:
    seen = library.seen
    progress = [value for _, value in seen]
    assert progress == sorted(progress), seen
    assert all(0.0 <= value < 1.0 for status, value in seen if status == "in progress"), seen
    assert seen[-1] == ("completed", 1.0)
    assert any(0.0 < value < 1.0 for value in progress), f"no intermediate progress seen: {seen}"
    assert library.job.passed_percentage == 1.0 and library.job.failed_percentage == 0.0


def test_keep_tables_as_one_chunk_keeps_a_long_table_whole(api: rest.ApiClient) -> None:
    a = apis(api)
    collection_id = new_collection(a, "Reagents")
    ids = upload(a, {"reagents.pdf": table_pdf("Reagent store, cold room two.", LONG_TABLE, INVENTORY_AFTER)})
    a.ingestion.ingest_upload(list(ids.values()), collection_id=collection_id, keep_tables_as_one_chunk=True)
    body, references = ask(a, collection_id, "On which shelf is Reagent Q kept?")
    assert "Shelf 5" in body, body
    top = references[0]
    assert (top.document_name, top.pages) == ("reagents.pdf", "2")
    table = top.content or ""
    assert (
        table.startswith("Code: R-100; Reagent: Reagent A; Shelf: Shelf 1;")
        and "Code: R-121; Reagent: Reagent V;" in table
    )


def test_bad_files_fail_alone_each_with_its_reason(api: rest.ApiClient) -> None:
    a = apis(api)
    collection_id = new_collection(a, "Mixed bag")
    good = {"orchard.txt": ORCHARD, "planning.pdf": text_pdf([PROSE, "The new office opens on the ninth floor."])}
    bad = {  # filename: what its error line must say
        "locked.pdf": (encrypted_pdf(PROSE), "encrypted"),
        "cut-off.pdf": (truncated_pdf(PROSE), "truncated"),
        "empty.txt": (b"", "empty"),
        "picture.pdf": (image_bytes(text_image("Not a PDF at all.", STRIP), "PNG"), "PNG image"),
        "bomb.png": (bomb_png(), "decompression bomb"),
        "slides.xyz": (b"plain words in a file of an unknown kind", "unsupported file type"),
    }
    files = {"orchard.txt": good["orchard.txt"], **{name: data for name, (data, _) in bad.items()}}
    files["planning.pdf"] = good["planning.pdf"]  # good files first and last, the bad ones between
    ids = upload(a, files)

    job = a.ingestion.create_ingest_upload_job(list(ids.values()), collection_id=collection_id)
    details, _ = follow(a, job.id)

    assert details.overall_status == "completed"
    assert details.files_total == len(files) and details.files_failed == len(bad)
    assert len(details.errors) == len(bad), details.errors
    for name, (_, reason) in bad.items():
        lines = [line for line in details.errors if line.startswith(f"{name}: ")]
        assert len(lines) == 1, (name, details.errors)
        assert reason in lines[0], lines[0]
    statuses = {status.id: status.status for status in details.statuses}
    assert statuses == {ids[name]: "completed" if name in good else "failed" for name in files}

    # The good documents are listed, counted and searchable; the bad ones are not in the collection.
    listed = sorted(d.name for d in a.collections.list_documents_for_collection(collection_id))
    assert listed == sorted(good)
    assert a.collections.get_document_count_for_collection(collection_id).count == len(good)
    assert a.collections.get_collection(collection_id).document_count == len(good)
    body, references = ask(a, collection_id, "How many varieties of pear grow in the orchard?")
    assert "forty-two" in body and references[0].document_name == "orchard.txt", body
    body, references = ask(a, collection_id, "On which floor does the new office open?")
    assert "ninth floor" in body and (references[0].document_name, references[0].pages) == ("planning.pdf", "2")

    # The server keeps serving after the bomb and the rest.
    assert a.collections.get_collection_count().count >= 1
    assert a.ingestion.upload_file(file=("after.txt", b"Still here.")).filename == "after.txt"


def test_a_job_whose_files_all_fail_ends_failed(api: rest.ApiClient) -> None:
    a = apis(api)
    collection_id = new_collection(a, "Nothing readable")
    ids = upload(a, {"locked.pdf": encrypted_pdf(PROSE), "empty.txt": b""})
    job = a.ingestion.create_ingest_upload_job(list(ids.values()), collection_id=collection_id)
    details, seen = follow(a, job.id)
    assert details.overall_status == "failed"
    assert details.passed_percentage == 0.0 and details.failed_percentage == 1.0 and details.files_failed == 2
    assert sorted(line.split(":")[0] for line in details.errors) == ["empty.txt", "locked.pdf"]
    assert seen[-1] == ("failed", 1.0)
    assert a.collections.get_document_count_for_collection(collection_id).count == 0


def test_an_unknown_tesseract_language_is_refused_before_the_job_starts(api: rest.ApiClient) -> None:
    """A language Tesseract does not have is a 400 naming it, the installed ones and the package to add; no job
    is created. The installed language is accepted."""
    a = apis(api)
    collection_id = new_collection(a, "Unknown language")
    ids = upload(a, {"scan.png": image_bytes(text_image(PRINTED_FACT, STRIP), "PNG"), "orchard.txt": ORCHARD})
    jobs_before = len(a.jobs.list_jobs())
    with pytest.raises(BadRequestException) as raised:
        a.ingestion.create_ingest_upload_job(list(ids.values()), collection_id=collection_id, tesseract_lang="xyz")
    message = json.loads(raised.value.body)["message"]
    assert "no language xyz installed" in message and "eng" in message and "tesseract-ocr-xyz" in message, message
    assert len(a.jobs.list_jobs()) == jobs_before
    assert a.collections.list_documents_for_collection(collection_id) == []

    job = a.ingestion.create_ingest_upload_job(list(ids.values()), collection_id=collection_id, tesseract_lang="eng")
    details, _ = follow(a, job.id)
    assert details.overall_status == "completed" and details.files_failed == 0


def stored(data_dir: Path) -> tuple[list[tuple[str, int]], int]:
    """What the server has kept: its blob files (name, size) and the number of events in its log."""
    blobs = sorted((path.name, path.stat().st_size) for path in (data_dir / "blobs").rglob("*") if path.is_file())
    with sqlite3.connect(f"file:{data_dir / 'events.sqlite3'}?mode=ro", uri=True) as conn:
        (events,) = conn.execute("SELECT count(*) FROM events").fetchone()
    return blobs, int(events)


def test_an_upload_over_the_limit_gets_413_and_nothing_is_stored(fresh_server: ServerProcess) -> None:
    fresh_server.extra_env = {"PARLEY_MAX_UPLOAD_MB": "1"}
    server = fresh_server.start()
    a = apis(rest.ApiClient(rest.Configuration(host=server.api_url, access_token=ADMIN_KEY)))
    before, documents_before = stored(server.data_dir), a.documents.get_document_count().count

    for name, size in (("two-megabytes.txt", 2 * 1024 * 1024), ("one-and-a-half.txt", 1536 * 1024)):
        with pytest.raises(ApiException) as refused:
            a.ingestion.upload_file(file=(name, b"The vault code is 7731.\n" + b"x" * size))
        assert refused.value.status == 413, (name, refused.value)
        error = json.loads(refused.value.body)
        assert error["code"] == 413 and isinstance(error["message"], str) and error["message"], error
    assert "1 MB upload limit" in error["message"], error  # the last one reached Parley's own check

    assert stored(server.data_dir) == before
    assert a.documents.get_document_count().count == documents_before

    # Half a megabyte is under the limit: stored, ingested and answered.
    half = b"The vault code is 7731.\n" + b" " * (512 * 1024)
    uploaded = a.ingestion.upload_file(file=("half.txt", half))
    assert uploaded.filename == "half.txt"
    collection_id = new_collection(a, "Limits")
    a.ingestion.ingest_upload([uploaded.id], collection_id=collection_id)
    (document,) = a.collections.list_documents_for_collection(collection_id)
    assert document.name == "half.txt" and document.size == len(half)
    body, _ = ask(a, collection_id, "What is the vault code?")
    assert "7731" in body, body
