"""A bounded schemathesis run over every operation of the OpenAPI document, with a valid key, against a server
of its own: no response is a 5xx, and every response's status, media type, headers and body are the ones the
document gives for that operation. ``PARLEY_FUZZ_EXAMPLES`` sets the examples per operation (``make fuzz`` runs
many more than the test suite's default)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.server import ADMIN_KEY, ServerProcess

EXAMPLES = int(os.environ.get("PARLEY_FUZZ_EXAMPLES", "25"))
FRAMING_HEADERS = {"content-length", "transfer-encoding", "host", "connection"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Its own server: what the fuzzer creates does not land in the other tests' collections and counts."""
    process = ServerProcess(tmp_path_factory.mktemp("fuzz") / "data").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def api_schema(fuzzed_server: ServerProcess) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzzed_server.base_url}/schema/openapi.json")


def test_every_operation_keeps_its_contract(api_schema: schemathesis.BaseSchema, fuzzed_server: ServerProcess) -> None:
    """Each operation in turn (schemathesis' pytest plugin does not run on this pytest); every failure is
    collected, so one run names every operation that breaks its contract."""
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation, mode in itertools.product(operations, list(GenerationMode)):
        # Negative cases break the schema on purpose: none may get a 5xx or an undocumented answer. (Schemathesis'
        # negative_data_rejection is not asked for: unknown query parameters are ignored, not refused, because the
        # h2ogpte client sends some this server has no use for.)

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def keeps_contract(case: schemathesis.Case) -> None:
            # The message framing belongs to the HTTP client: a fuzzed Content-Length tests uvicorn's parser (which
            # answers a malformed request itself, in plain text), not this server's contract.
            for name in [name for name in case.headers or {} if name.lower() in FRAMING_HEADERS]:
                del case.headers[name]  # type: ignore[union-attr]
            case.call_and_validate(
                base_url=fuzzed_server.base_url,
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                checks=CHECKS,
                timeout=60,
            )

        try:
            keeps_contract()
        except (Exception, BaseExceptionGroup) as error:  # a check failed: keep it, go on with the next operation
            failures[f"{operation.label} ({mode.value})"] = str(error)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{reason}" for label, reason in failures.items())


def test_the_document_lists_every_operation(api_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 34
    assert all("401" in operation.definition.raw["responses"] for operation in operations)
