from domain import apikey, job
from domain.apikey import CreateApiKey, DeactivateApiKey
from domain.errors import AlreadyExists, InvalidCommand, NotFound
from domain.events import ApiKeyCreated, ApiKeyDeactivated, JobFinished, JobItemFinished, JobProgressed, JobStarted
from domain.job import FinishJob, FinishJobItem, ReportProgress, StartJob
from tests.unit.scenario import given

STARTED = JobStarted(
    job_id="j1", kind="IngestUploadsJob", name="n", collection_id="c1", items=("u1", "u2"), timeout=None, owner="ann"
)
U1_DONE = JobItemFinished(job_id="j1", item_id="u1", status="completed", document_id="d1", error=None)
U2_FAILED = JobItemFinished(job_id="j1", item_id="u2", status="failed", document_id="d2", error="b.pdf: encrypted")


def test_a_job_starts_with_distinct_items() -> None:
    start = StartJob(
        job_id="j1", kind="IngestUploadsJob", name="n", collection_id="c1", items=("u1", "u2"), owner="ann"
    )
    given(job).when(start).then(STARTED)
    given(job, STARTED).when(start).then_error(AlreadyExists, "j1")
    empty = StartJob(job_id="j1", kind="k", name="n", collection_id=None, items=(), owner="ann")
    given(job).when(empty).then_error(InvalidCommand, "at least one")
    twice = StartJob(job_id="j1", kind="k", name="n", collection_id=None, items=("u1", "u1"), owner="ann")
    given(job).when(twice).then_error(InvalidCommand, "twice")


def test_items_finish_once() -> None:
    finish = FinishJobItem(job_id="j1", item_id="u1", status="completed", document_id="d1")
    given(job, STARTED).when(finish).then(U1_DONE)
    given(job, STARTED, U1_DONE).when(finish).then_error(InvalidCommand, "not a pending item")
    given(job).when(finish).then_error(NotFound, "j1")


def test_a_failed_item_needs_its_error_line() -> None:
    failed = FinishJobItem(job_id="j1", item_id="u2", status="failed", document_id="d2")
    given(job, STARTED).when(failed).then_error(InvalidCommand, "error line")


def test_a_job_finishes_only_when_every_item_did() -> None:
    given(job, STARTED, U1_DONE).when(FinishJob(job_id="j1")).then_error(InvalidCommand, "still has 1")


def test_some_failures_complete_all_failures_fail() -> None:
    given(job, STARTED, U1_DONE, U2_FAILED).when(FinishJob(job_id="j1")).then(
        JobFinished(job_id="j1", status="completed")
    )
    u1_failed = JobItemFinished(job_id="j1", item_id="u1", status="failed", document_id="d1", error="a: x")
    given(job, STARTED, u1_failed, U2_FAILED).when(FinishJob(job_id="j1")).then(
        JobFinished(job_id="j1", status="failed")
    )
    finished = JobFinished(job_id="j1", status="completed")
    given(job, STARTED, U1_DONE, U2_FAILED, finished).when(FinishJob(job_id="j1")).then_error(InvalidCommand, "already")


def test_api_keys_are_hashes_and_deactivate_once() -> None:
    create = CreateApiKey(key_id="k1", name="ci", username="ann", secret_hash="f" * 64, hint="abcd")
    created = ApiKeyCreated(
        key_id="k1", name="ci", username="ann", secret_hash="f" * 64, hint="abcd", collection_id=None, is_admin=False
    )
    given(apikey).when(create).then(created)
    bad = CreateApiKey(key_id="k1", name="ci", username="ann", secret_hash="secret", hint="abcd")
    given(apikey).when(bad).then_error(InvalidCommand, "sha256")
    given(apikey, created).when(DeactivateApiKey(key_id="k1")).then(ApiKeyDeactivated(key_id="k1"))
    given(apikey, created, ApiKeyDeactivated(key_id="k1")).when(DeactivateApiKey(key_id="k1")).then()
    given(apikey).when(DeactivateApiKey(key_id="k1")).then_error(NotFound, "k1")


def test_progress_is_reported_for_a_pending_item_within_bounds() -> None:
    report = ReportProgress(job_id="j1", item_id="u1", done=3, total=10)
    given(job, STARTED).when(report).then(JobProgressed(job_id="j1", item_id="u1", done=3, total=10))
    given(job, STARTED, U1_DONE).when(report).then_error(InvalidCommand, "not a pending item")
    beyond = ReportProgress(job_id="j1", item_id="u1", done=11, total=10)
    given(job, STARTED).when(beyond).then_error(InvalidCommand, "done <= total")
