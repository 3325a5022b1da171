"""Shared test set-up: the offline environment Parley itself runs in, before anything imports Haystack."""

from __future__ import annotations

import os

from api.environment import OFFLINE_ENVIRONMENT

for _key, _value in OFFLINE_ENVIRONMENT.items():
    os.environ.setdefault(_key, _value)
