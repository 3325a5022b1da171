"""Settings: every ``PARLEY_*`` environment variable, read once into one Struct by the composition root."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from adapters.openai_llm import LLMBackend
from domain.errors import ConfigurationError

Positive = Annotated[int, msgspec.Meta(ge=1)]
LOCAL_BACKEND = "local"  # the backend name of PARLEY_LLM=local
# The environment variable of each setting that has one (PARLEY_ADMIN_API_KEY is read only when not empty).
_VARIABLES = {
    "data_dir": "PARLEY_DATA_DIR",
    "event_store": "PARLEY_EVENT_STORE",
    "read_store": "PARLEY_READ_STORE",
    "vector_index": "PARLEY_VECTOR_INDEX",
    "postgres_url": "PARLEY_POSTGRES_URL",
    "kurrentdb_url": "PARLEY_KURRENTDB_URL",
    "chroma_url": "PARLEY_CHROMA_URL",
    "pgvector_ef_search": "PARLEY_PGVECTOR_EF_SEARCH",
    "projectors": "PARLEY_PROJECTORS",
    "ingestion": "PARLEY_INGESTION",
    "worker_lease_s": "PARLEY_WORKER_LEASE_S",
    "worker_max_attempts": "PARLEY_WORKER_MAX_ATTEMPTS",
    "request_timeout_s": "PARLEY_REQUEST_TIMEOUT_S",
    "host": "PARLEY_HOST",
    "port": "PARLEY_PORT",
    "admin_api_key": "PARLEY_ADMIN_API_KEY",
    "max_upload_mb": "PARLEY_MAX_UPLOAD_MB",
    "rate_limit_per_minute": "PARLEY_RATE_LIMIT_PER_MINUTE",
    "max_concurrent_answers": "PARLEY_MAX_CONCURRENT_ANSWERS",
    "default_llm": "PARLEY_LLM_DEFAULT",
    "decline_threshold": "PARLEY_DECLINE_THRESHOLD",
    "max_llm_calls": "PARLEY_MAX_LLM_CALLS",
    "extractive_context_tokens": "PARLEY_EXTRACTIVE_CONTEXT_TOKENS",
}


class LocalLLM(msgspec.Struct, frozen=True, kw_only=True):
    """``PARLEY_LLM=local``: Parley starts llama.cpp's server with SmolLM2-135M-Instruct and serves it as the
    backend ``local`` (``PARLEY_LLM_LOCAL_THREADS``, ``_CONTEXT_SIZE``, ``_TIMEOUT_S``)."""

    threads: Positive | None = None  # llama.cpp threads; None: every core
    context_size: Annotated[int, msgspec.Meta(ge=1024, le=8192)] = 8192  # SmolLM2 was trained on 8,192
    timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 120.0


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    data_dir: Path = Path("./data")
    # The engine of each store (api/bootstrap.py): the embedded ones in data_dir by default.
    event_store: Literal["sqlite", "postgres", "kurrentdb"] = "sqlite"
    read_store: Literal["sqlite", "postgres"] = "sqlite"
    vector_index: Literal["chroma", "pgvector"] = "chroma"
    # False: this process serves the API only, and projector processes (`parley project`) keep the read models
    # of the shared stores; a write still answers once they have applied it.
    projectors: bool = True
    # "workers": ingest jobs are queued in Postgres for `parley worker` processes instead of run in this one.
    ingestion: Literal["in-process", "workers"] = "in-process"
    worker_lease_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0  # a dead worker's item goes to another after this
    # A file that killed this many workers (a parser crash, memory) fails its item instead of killing the next one.
    worker_max_attempts: Annotated[int, msgspec.Meta(ge=1)] = 3
    postgres_url: str | None = None  # a libpq URL; one database may hold the events, read models and vectors
    kurrentdb_url: str | None = None  # kurrentdb://host:2113?tls=false
    chroma_url: str | None = None  # a Chroma server (http://host:8000); unset: Chroma embedded in data_dir
    pgvector_ef_search: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100  # HNSW candidates per pgvector search
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8000
    admin_api_key: str | None = None
    max_upload_mb: Annotated[float, msgspec.Meta(gt=0)] = 100.0
    # Per API key and replica; 0 turns the limit off. Admin keys are not limited.
    rate_limit_per_minute: Annotated[int, msgspec.Meta(ge=0)] = 600
    max_concurrent_answers: Annotated[int, msgspec.Meta(ge=0)] = 4
    default_llm: str = "extractive"
    request_timeout_s: float = 600.0
    # The extractive reader's decline cutoff: the probability, from its learned decline model
    # (adapters/rag/decline_model.json), that its answer is right, below which it answers "Not found in the
    # documents."; None: the model's fitted cutoff.
    decline_threshold: float | None = None
    max_llm_calls: Positive = 32  # per answer: caps all_data and rag+ map-reduce
    extractive_context_tokens: Annotated[int, msgspec.Meta(ge=512)] = 4096  # what its map-reduce calls are packed to
    llm_backends: tuple[LLMBackend, ...] = ()
    local_llm: LocalLLM | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``PARLEY_*`` variables (and ``overrides``, e.g. from the command line); a value that is not
        of its setting's type or range is a ConfigurationError naming the variable."""
        env = os.environ if env is None else env
        values: dict[str, object] = {field: env[name] for field, name in _VARIABLES.items() if env.get(name)}
        backends = llm_backends(env)
        values["llm_backends"] = backends
        values["local_llm"] = local_llm(env, backends)
        values.update({key: value for key, value in overrides.items() if value is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(str(values["data_dir"]))
        try:
            return msgspec.convert(values, cls, from_attributes=False, strict=False)
        except msgspec.ValidationError as error:
            field = str(error).rpartition("$.")[2].strip("`").split(".")[0].split("[")[0]
            raise ConfigurationError(f"{_VARIABLES.get(field, field)}: {error}") from error

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def local_llm(env: Mapping[str, str], backends: tuple[LLMBackend, ...]) -> LocalLLM | None:
    choice = env.get("PARLEY_LLM", "").strip().lower()
    if choice in ("", "extractive"):
        return None
    if choice != LOCAL_BACKEND:
        raise ConfigurationError(f"PARLEY_LLM={choice!r}: only 'local' (llama.cpp with SmolLM2) or unset")
    if any(backend.name == LOCAL_BACKEND for backend in backends):
        raise ConfigurationError("PARLEY_LLM=local names the backend 'local'; PARLEY_LLM_BACKENDS names it too")
    prefix = "PARLEY_LLM_LOCAL_"
    values = {
        key.lower(): env[prefix + key] for key in ("THREADS", "CONTEXT_SIZE", "TIMEOUT_S") if env.get(prefix + key)
    }
    try:
        return msgspec.convert(values, LocalLLM, strict=False)
    except msgspec.ValidationError as error:
        field = str(error).rpartition("$.")[2].strip("`").upper()
        raise ConfigurationError(f"{prefix}{field}: {error}") from error


def llm_backends(env: Mapping[str, str]) -> tuple[LLMBackend, ...]:
    """OpenAI-compatible backends: ``PARLEY_LLM_BASE_URL`` and its siblings configure one (named ``llm``); each
    name in ``PARLEY_LLM_BACKENDS`` (comma-separated) configures another from ``PARLEY_LLM_<NAME>_BASE_URL``,
    ``_API_KEY``, ``_MODELS``, ``_GUIDED``, ``_CONTEXT_SIZE``, ``_CONTEXT_SIZES`` (``model=tokens,...``),
    ``_TIMEOUT_S`` and ``_MAX_RETRIES``."""
    prefixes = {"llm": "PARLEY_LLM_"} if env.get("PARLEY_LLM_BASE_URL") else {}
    for name in filter(None, (part.strip() for part in env.get("PARLEY_LLM_BACKENDS", "").split(","))):
        if name in prefixes:
            raise ConfigurationError(f"PARLEY_LLM_BACKENDS names {name!r} twice (or the unnamed backend's name, llm)")
        prefixes[name] = f"PARLEY_LLM_{name.upper().replace('-', '_')}_"
    backends = []
    for name, prefix in prefixes.items():
        base_url = env.get(prefix + "BASE_URL")
        models = tuple(filter(None, (m.strip() for m in env.get(prefix + "MODELS", "").split(","))))
        if not base_url or not models:
            raise ConfigurationError(f"LLM backend {name!r} needs {prefix}BASE_URL and {prefix}MODELS")
        values: dict[str, object] = {"name": name, "base_url": base_url, "models": models}
        if env.get(prefix + "API_KEY"):
            values["api_key"] = env[prefix + "API_KEY"]
        if prefix + "GUIDED" in env:
            values["guided"] = env[prefix + "GUIDED"].strip().lower() in ("1", "true", "yes", "on")
        for key in ("CONTEXT_SIZE", "TIMEOUT_S", "MAX_RETRIES"):
            if prefix + key in env:
                values[key.lower()] = env[prefix + key]
        sizes = {}
        for pair in filter(None, env.get(prefix + "CONTEXT_SIZES", "").split(",")):
            model, _, tokens = pair.partition("=")
            sizes[model.strip()] = tokens.strip()
        values["context_sizes"] = sizes
        try:
            backends.append(msgspec.convert(values, LLMBackend, strict=False))
        except msgspec.ValidationError as error:
            raise ConfigurationError(f"LLM backend {name!r}: {error}") from error
    served = [model for backend in backends for model in backend.models]
    duplicated = sorted({model for model in served if served.count(model) > 1} | ({"extractive"} & set(served)))
    if duplicated:
        raise ConfigurationError(f"model names must be unique across LLM backends: {', '.join(duplicated)}")
    return tuple(backends)
