"""Shared test set-up: offline environment, and a real Parley server process on 127.0.0.1."""

from __future__ import annotations

import os

for _key, _value in {
    "HAYSTACK_TELEMETRY_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "OMP_THREAD_LIMIT": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_key, _value)
