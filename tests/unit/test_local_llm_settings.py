"""``PARLEY_LLM=local`` and its ``PARLEY_LLM_LOCAL_*`` settings, read by the composition root's Settings."""

from __future__ import annotations

import pytest

from api.settings import LocalLLM, Settings
from domain.errors import ConfigurationError


def test_the_local_model_is_off_unless_asked_for() -> None:
    assert Settings.from_env({}).local_llm is None
    assert Settings.from_env({"PARLEY_LLM": "extractive"}).local_llm is None


def test_parley_llm_local_with_its_settings() -> None:
    assert Settings.from_env({"PARLEY_LLM": "local"}).local_llm == LocalLLM()
    env = {"PARLEY_LLM": "Local", "PARLEY_LLM_LOCAL_THREADS": "1", "PARLEY_LLM_LOCAL_CONTEXT_SIZE": "2048",
           "PARLEY_LLM_LOCAL_TIMEOUT_S": "30"}  # fmt: skip
    assert Settings.from_env(env).local_llm == LocalLLM(threads=1, context_size=2048, timeout_s=30.0)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PARLEY_LLM": "ollama"}, "PARLEY_LLM='ollama'"),
        ({"PARLEY_LLM": "local", "PARLEY_LLM_LOCAL_THREADS": "0"}, "PARLEY_LLM_LOCAL_THREADS"),
        ({"PARLEY_LLM": "local", "PARLEY_LLM_LOCAL_CONTEXT_SIZE": "32768"}, "PARLEY_LLM_LOCAL_CONTEXT_SIZE"),
        ({"PARLEY_LLM": "local", "PARLEY_LLM_BACKENDS": "local", "PARLEY_LLM_LOCAL_BASE_URL": "http://h/v1",
          "PARLEY_LLM_LOCAL_MODELS": "m"}, "names it too"),
    ],
)  # fmt: skip
def test_a_wrong_local_setting_is_a_configuration_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env(env)
    assert message in raised.value.message
