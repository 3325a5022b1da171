from domain import document, upload
from domain.document import (
    RecordFailedDocument,
    RecordIngestedDocument,
    RecordSuggestedQuestions,
    RecordSummary,
    RemoveDocument,
)
from domain.errors import AlreadyExists, InvalidCommand, NotFound
from domain.events import (
    Chunk,
    DocumentIngested,
    DocumentIngestionFailed,
    DocumentQuestionsSuggested,
    DocumentRemoved,
    DocumentSummarized,
    UploadReceived,
)
from domain.upload import ReceiveUpload
from tests.unit.scenario import given

HASH = "a" * 64


def test_an_upload_is_received_once() -> None:
    command = ReceiveUpload(upload_id="u1", filename="a.pdf", size=10, content_hash=HASH, owner="ann")
    received = UploadReceived(upload_id="u1", filename="a.pdf", size=10, content_hash=HASH, owner="ann")
    given(upload).when(command).then(received)
    given(upload, received).when(command).then_error(AlreadyExists, "u1")


def test_an_upload_needs_a_plain_file_name() -> None:
    for name in ("", "../etc/passwd", "a/b.txt", ".."):
        command = ReceiveUpload(upload_id="u1", filename=name, size=1, content_hash=HASH, owner="ann")
        given(upload).when(command).then_error(InvalidCommand, "plain file name")


CHUNK = Chunk(ordinal=0, text="hello", pages=(1,), start=0, end=5, content_hash=HASH, token_count=1)


def ingest(**changes: object) -> RecordIngestedDocument:
    values: dict[str, object] = {
        "document_id": "d1",
        "collection_id": "c1",
        "upload_id": "u1",
        "job_id": "j1",
        "name": "a.txt",
        "type": "txt",
        "size": 5,
        "content_hash": HASH,
        "page_count": 1,
        "chunks": (CHUNK,),
        "owner": "ann",
    }
    values.update(changes)
    return RecordIngestedDocument(**values)  # type: ignore[arg-type]


INGESTED = DocumentIngested(
    document_id="d1",
    collection_id="c1",
    upload_id="u1",
    job_id="j1",
    name="a.txt",
    type="txt",
    size=5,
    content_hash=HASH,
    page_count=1,
    chunks=(CHUNK,),
    metadata={},
    owner="ann",
)


def test_a_document_is_recorded_with_its_chunks_in_one_event() -> None:
    given(document).when(ingest()).then(INGESTED)


def test_a_document_without_chunks_is_refused() -> None:
    given(document).when(ingest(chunks=())).then_error(InvalidCommand, "no text")


def test_chunk_ordinals_run_without_gaps() -> None:
    second = Chunk(ordinal=2, text="x", pages=(1,), start=5, end=6, content_hash=HASH, token_count=1)
    given(document).when(ingest(chunks=(CHUNK, second))).then_error(InvalidCommand, "ordinals")


def test_chunk_pages_lie_within_the_document() -> None:
    beyond = Chunk(ordinal=0, text="x", pages=(3,), start=0, end=1, content_hash=HASH, token_count=1)
    given(document).when(ingest(chunks=(beyond,))).then_error(InvalidCommand, "pages")


def test_a_failed_document_needs_a_reason_and_is_final() -> None:
    failed = RecordFailedDocument(
        document_id="d1", collection_id="c1", upload_id="u1", job_id="j1", name="a.pdf", type="pdf", size=3,
        reason="the PDF is encrypted", owner="ann",
    )  # fmt: skip
    event = DocumentIngestionFailed(
        document_id="d1", collection_id="c1", upload_id="u1", job_id="j1", name="a.pdf", type="pdf", size=3,
        reason="the PDF is encrypted", owner="ann",
    )  # fmt: skip
    given(document).when(failed).then(event)
    given(document, event).when(ingest()).then_error(AlreadyExists, "d1")


def test_remove_only_from_its_own_collection() -> None:
    given(document, INGESTED).when(RemoveDocument(document_id="d1", collection_id="c1")).then(
        DocumentRemoved(document_id="d1", collection_id="c1")
    )
    given(document, INGESTED).when(RemoveDocument(document_id="d1", collection_id="c2")).then_error(NotFound, "d1")
    removed = DocumentRemoved(document_id="d1", collection_id="c1")
    given(document, INGESTED, removed).when(RemoveDocument(document_id="d1", collection_id="c1")).then_error(
        NotFound, "d1"
    )


def test_an_ingested_document_gets_a_summary_and_suggested_questions() -> None:
    summary = RecordSummary(document_id="d1", collection_id="c1", summary="It says hello.", llm="extractive")
    given(document, INGESTED).when(summary).then(
        DocumentSummarized(document_id="d1", collection_id="c1", summary="It says hello.", llm="extractive")
    )
    questions = RecordSuggestedQuestions(document_id="d1", collection_id="c1", questions=(" Why? ", ""), llm="m")
    given(document, INGESTED).when(questions).then(
        DocumentQuestionsSuggested(document_id="d1", collection_id="c1", questions=("Why?",), llm="m")
    )


def test_summaries_need_a_live_ingested_document_and_some_text() -> None:
    summary = RecordSummary(document_id="d1", collection_id="c1", summary="It says hello.", llm="extractive")
    given(document).when(summary).then_error(NotFound, "d1")
    given(document, INGESTED, DocumentRemoved(document_id="d1", collection_id="c1")).when(summary).then_error(
        NotFound, "d1"
    )
    failed = DocumentIngestionFailed(document_id="d1", collection_id="c1", upload_id="u1", job_id="j1",
                                     name="a.txt", type="txt", size=5, reason="corrupt", owner="ann")  # fmt: skip
    given(document, failed).when(summary).then_error(InvalidCommand, "failed ingestion")
    blank = RecordSummary(document_id="d1", collection_id="c1", summary="  ", llm="extractive")
    given(document, INGESTED).when(blank).then_error(InvalidCommand, "empty")
    none = RecordSuggestedQuestions(document_id="d1", collection_id="c1", questions=("",), llm="m")
    given(document, INGESTED).when(none).then_error(InvalidCommand, "no questions")
