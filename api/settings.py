"""Settings: every ``PARLEY_*`` environment variable, read once into one Struct by the composition root."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

from adapters.openai_llm import LLMBackend
from domain.errors import ConfigurationError


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    data_dir: Path = Path("./data")
    host: str = "127.0.0.1"
    port: int = 8000
    admin_api_key: str | None = None
    max_upload_mb: float = 100.0
    default_llm: str = "extractive"
    request_timeout_s: float = 600.0
    decline_threshold: float | None = None  # the extractive reader's confidence threshold; None: its tuned default
    max_llm_calls: int = 32  # per answer: caps all_data and rag+ map-reduce
    extractive_context_tokens: int = 4096  # the extractive model's context, as map-reduce packs it
    llm_backends: tuple[LLMBackend, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        if "PARLEY_DATA_DIR" in env:
            values["data_dir"] = Path(env["PARLEY_DATA_DIR"])
        if "PARLEY_HOST" in env:
            values["host"] = env["PARLEY_HOST"]
        if "PARLEY_PORT" in env:
            values["port"] = int(env["PARLEY_PORT"])
        if env.get("PARLEY_ADMIN_API_KEY"):
            values["admin_api_key"] = env["PARLEY_ADMIN_API_KEY"]
        if "PARLEY_DECLINE_THRESHOLD" in env:
            values["decline_threshold"] = float(env["PARLEY_DECLINE_THRESHOLD"])
        if "PARLEY_MAX_LLM_CALLS" in env:
            values["max_llm_calls"] = int(env["PARLEY_MAX_LLM_CALLS"])
        if "PARLEY_EXTRACTIVE_CONTEXT_TOKENS" in env:
            values["extractive_context_tokens"] = int(env["PARLEY_EXTRACTIVE_CONTEXT_TOKENS"])
        if "PARLEY_MAX_UPLOAD_MB" in env:
            values["max_upload_mb"] = float(env["PARLEY_MAX_UPLOAD_MB"])
        values["llm_backends"] = llm_backends(env)
        if env.get("PARLEY_LLM_DEFAULT"):
            values["default_llm"] = env["PARLEY_LLM_DEFAULT"]
        values.update({key: value for key, value in overrides.items() if value is not None})
        return msgspec.convert(values, cls, from_attributes=False, strict=False)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def llm_backends(env: Mapping[str, str]) -> tuple[LLMBackend, ...]:
    """OpenAI-compatible backends: ``PARLEY_LLM_BASE_URL`` and its siblings configure one (named ``llm``); each
    name in ``PARLEY_LLM_BACKENDS`` (comma-separated) configures another from ``PARLEY_LLM_<NAME>_BASE_URL``,
    ``_API_KEY``, ``_MODELS``, ``_GUIDED``, ``_CONTEXT_SIZE``, ``_CONTEXT_SIZES`` (``model=tokens,...``),
    ``_TIMEOUT_S`` and ``_MAX_RETRIES``."""
    prefixes = {"llm": "PARLEY_LLM_"} if env.get("PARLEY_LLM_BASE_URL") else {}
    for name in filter(None, (part.strip() for part in env.get("PARLEY_LLM_BACKENDS", "").split(","))):
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
