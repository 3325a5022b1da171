"""compose.yaml stays true to the code: every Parley service runs a command the CLI has, with settings Parley
reads and accepts. (Docker is not on these machines; this is what can be checked without it.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from api.cli import build_parser
from api.settings import _VARIABLES, Settings

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = re.compile(r"\$\{(\w+):?[-?]([^}]*)\}")


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "compose.yaml").read_text()))


def resolved(environment: dict[str, str]) -> dict[str, str]:
    """The environment as compose gives it with nothing set outside: each ${VAR:-default} is its default."""
    values = {key: DEFAULT.sub(lambda m: "" if m.group(0).find(":?") > 0 else m.group(2), str(value))
              for key, value in environment.items()}  # fmt: skip
    values["PARLEY_ADMIN_API_KEY"] = "sk-compose"  # required (":?"): compose refuses to start without it
    return {key: value for key, value in values.items() if value}


def test_the_production_shape_has_its_services() -> None:
    services = compose()["services"]
    assert {"postgres", "kurrentdb", "chroma", "projector", "worker", "api", "gateway", "ollama"} <= set(services)
    assert services["api"]["deploy"]["replicas"] == 2 and "--no-projectors" in services["api"]["command"]
    assert all("healthcheck" in services[name] for name in ("postgres", "kurrentdb", "chroma", "api"))
    assert set(compose()["volumes"]) >= {"postgres", "kurrentdb", "chroma"}


def test_every_parley_command_is_one_the_cli_has() -> None:
    for name, service in compose()["services"].items():
        command = service.get("command")
        if command and command[0] == "parley":
            build_parser().parse_args(command[1:])  # exits (fails the test) on an unknown command or option
        if service.get("image") == "parley:latest" or "build" in service:
            assert command, name


def test_the_environment_is_settings_parley_reads_and_accepts() -> None:
    services = compose()["services"]
    known = set(_VARIABLES.values()) | {"PARLEY_LLM_BASE_URL", "PARLEY_LLM_MODELS"}
    environment = resolved(services["api"]["environment"])
    assert {key for key in environment if key.startswith("PARLEY_")} <= known
    settings = Settings.from_env(environment)
    assert (settings.event_store, settings.read_store, settings.vector_index) == ("kurrentdb", "postgres", "pgvector")
    assert settings.kurrentdb_url == "kurrentdb://kurrentdb:2113?tls=false"
    assert settings.postgres_url and settings.postgres_url.startswith("postgresql://")
    assert settings.ingestion == "workers" and services["worker"]["command"][:2] == ["parley", "worker"]
