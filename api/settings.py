"""Settings: every ``PARLEY_*`` environment variable, read once into one Struct by the composition root."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    data_dir: Path = Path("./data")
    host: str = "127.0.0.1"
    port: int = 8000
    admin_api_key: str | None = None
    max_upload_mb: float = 100.0
    default_llm: str = "extractive"
    request_timeout_s: float = 600.0
    decline_threshold: float | None = None  # the extractive reader's confidence threshold; None: its tuned default

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
        if "PARLEY_MAX_UPLOAD_MB" in env:
            values["max_upload_mb"] = float(env["PARLEY_MAX_UPLOAD_MB"])
        values.update({key: value for key, value in overrides.items() if value is not None})
        return msgspec.convert(values, cls, from_attributes=False, strict=False)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)
