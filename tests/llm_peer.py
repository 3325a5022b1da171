"""An OpenAI-compatible LLM test peer: a real HTTP server on 127.0.0.1 that speaks the chat-completions wire format.

It stands in for vLLM, Ollama or OpenAI itself, none of which can run in the test environment. It is standard
library only and imports nothing from Parley, so it checks Parley against the protocol, not against itself.

    with LLMPeer(models=["peer-small", "peer-large"], api_key="sk-peer") as peer:
        client = openai.OpenAI(base_url=peer.base_url, api_key="sk-peer")
        peer.script(["first reply"])
        ...
        assert peer.requests[-1]["temperature"] == 0.2

Endpoints (all under ``/v1``): ``GET /models``, ``GET /models/{id}``, ``POST /chat/completions`` (plain JSON, or
Server-Sent Events when ``"stream": true``), plus ``GET /health`` as vLLM has. Errors use OpenAI's body,
``{"error": {"message", "type", "param", "code"}}``.

Which reply a request gets, first match wins:

1. the next scripted reply (``peer.script([...])``), in order, each used once;
2. ``peer.responder(request_body) -> str`` when set;
3. the default rule, :func:`default_reply`: take the text of the last ``user`` message; if one of its lines starts
   (after leading whitespace) with ``ANSWER:``, the reply is the rest of the first such line, stripped; otherwise it
   is ``"peer answer to: "`` + the last 60 characters of that message with its whitespace runs collapsed to single
   spaces.

That text is then shaped by the request, in this order:

* ``guided_choice`` (or vLLM's newer ``structured_outputs.choice``): the reply if it is one of the choices, else the
  first choice;
* ``guided_json`` / ``structured_outputs.json`` / ``response_format`` ``json_schema``: the reply if it already is
  JSON, else a minimal instance of the schema whose string fields all hold the reply;
* ``response_format`` ``{"type": "json_object"}``: the reply if it already is a JSON object, else
  ``{"answer": reply}``;
* ``guided_regex`` / ``structured_outputs.regex`` are accepted and recorded but not enforced;
* ``stop``: the reply is cut before the first stop string found;
* ``max_completion_tokens`` / ``max_tokens`` and ``context_size``: the reply is cut to the token budget, with
  ``finish_reason`` ``"length"``.

The vLLM guided fields are refused with a 400 ("Unrecognized request argument", as OpenAI answers) while
``supports_guided`` is False.

Tokens are counted by whitespace: a prompt's tokens are the whitespace-separated words across the text of all its
messages (roles not counted), a reply's are its own whitespace-separated words. ``context_size`` bounds prompt plus
requested completion tokens (400 ``context_length_exceeded`` when exceeded, as OpenAI answers).

Streaming follows OpenAI: HTTP/1.1 chunked ``text/event-stream``, one ``data: {chat.completion.chunk}\\n\\n`` event
per chunk: a first chunk with ``delta.role`` "assistant" and empty content, one content delta per word (each word
keeps the whitespace after it, so the deltas concatenate to the full reply), a last chunk with an empty delta and
the ``finish_reason``, then, when ``stream_options.include_usage`` is set, a chunk with ``choices: []`` and the
usage (every other chunk then carries ``"usage": null``), and finally ``data: [DONE]\\n\\n``.

Faults, each consumed by the next chat-completion request(s) it applies to:

* ``fail_next(status, times)``: answer with that status and an OpenAI error body;
* ``stall_next(seconds, after_deltas=None)``: sleep before answering (or, for a stream, after that many content
  deltas), so that a client's read timeout fires;
* ``error_in_stream_after(n_deltas, message)``: on the next streamed request send ``n_deltas`` content deltas, then
  an error event ``data: {"error": {...}}`` (what vLLM and Ollama send when generation fails mid-stream);
* ``cut_stream_after(n_deltas)``: on the next streamed request send the role chunk and ``n_deltas`` content deltas,
  then close the socket mid-body, with no final chunk, no ``[DONE]`` and no closing zero-length HTTP chunk.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

__all__ = ["LLMPeer", "RecordedRequest", "Responder", "count_tokens", "default_reply", "split_deltas"]

Responder = Callable[[dict[str, Any]], str]

ANSWER_PREFIX = "ANSWER:"
DEFAULT_PREFIX = "peer answer to: "
GUIDED_FIELDS = ("guided_json", "guided_regex", "guided_choice", "guided_grammar", "structured_outputs")


# --- the deterministic rules -------------------------------------------------------------------------------------


def message_text(message: Any) -> str:
    """The text of one chat message: a string content, or the ``text`` parts of a list content."""
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def last_user_text(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message)
    return ""


def default_reply(body: dict[str, Any]) -> str:
    """The default answer: the rest of the first ``ANSWER:`` line of the last user message, else an echo of its tail."""
    text = last_user_text(body)
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(ANSWER_PREFIX):
            return stripped[len(ANSWER_PREFIX) :].strip()
    return DEFAULT_PREFIX + " ".join(text.split())[-60:]


def count_tokens(text: str) -> int:
    """The peer's token count: whitespace-separated words."""
    return len(text.split())


def prompt_tokens(body: dict[str, Any]) -> int:
    messages = body.get("messages")
    return sum(count_tokens(message_text(m)) for m in messages) if isinstance(messages, list) else 0


def split_deltas(text: str) -> list[str]:
    """The streamed pieces of a reply: each word with the whitespace after it; they concatenate back to ``text``."""
    return re.findall(r"^\s+|\S+\s*", text)


def truncate_tokens(text: str, budget: int) -> str:
    kept: list[str] = []
    used = 0
    for piece in split_deltas(text):
        if piece.strip():
            if used == budget:
                break
            used += 1
        kept.append(piece)
    return "".join(kept).rstrip()


def schema_instance(schema: Any, text: str, root: Any = None) -> Any:
    """A minimal value that satisfies a (simple) JSON schema, with ``text`` in every string position."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return text
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return schema_instance(target, text, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combinator)
        if isinstance(options, list) and options:
            return schema_instance(options[0], text, root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        return {name: schema_instance(sub, text, root) for name, sub in properties.items()}
    if kind == "array":
        return [schema_instance(schema.get("items", {}), text, root) for _ in range(int(schema.get("minItems", 0)))]
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return text


# --- state ------------------------------------------------------------------------------------------------------


class RecordedRequest(dict[str, Any]):
    """One received chat-completion request: the parsed JSON body, plus ``headers`` (lower-case names) and ``path``."""

    def __init__(self, body: dict[str, Any], headers: dict[str, str], path: str) -> None:
        super().__init__(body)
        self.headers = headers
        self.path = path
        self.received_at = time.time()


@dataclass(frozen=True)
class _Failure:
    status: int
    message: str | None
    retry_after: float | None


@dataclass(frozen=True)
class _Stall:
    seconds: float
    after_deltas: int | None


class PeerError(Exception):
    """Raised inside request handling; becomes an OpenAI-style error response."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or _error_type(status)
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def _error_type(status: int) -> str:
    if status == 429:
        return "requests"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


_DEFAULT_FAILURE_MESSAGES = {
    429: "Rate limit reached for requests",
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later",
}


# --- the server -------------------------------------------------------------------------------------------------


class LLMPeer:
    """An OpenAI-compatible chat-completions server on a free loopback port; use it as a context manager.

    Settable at any time, read on every request: ``models`` (the ids served; others get 404 ``model_not_found``),
    ``api_key`` (None: no check; else ``Authorization: Bearer <key>`` is required, 401 ``invalid_api_key``),
    ``context_size`` (None: unbounded), ``supports_guided`` (the vLLM ``guided_*`` / ``structured_outputs`` fields),
    ``responder`` (``callable(request_body) -> str``; an exception in it becomes a 500) and ``stream_delay``
    (seconds between streamed deltas).

    ``requests`` lists every chat-completion request whose body parsed as a JSON object, in arrival order, including
    those then refused (401, injected failure, validation error); each is a :class:`RecordedRequest`.
    """

    def __init__(
        self,
        models: Sequence[str] = ("peer-small",),
        *,
        api_key: str | None = None,
        context_size: int | None = None,
        supports_guided: bool = True,
        responder: Responder | None = None,
        stream_delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.models: list[str] = list(models)
        self.api_key = api_key
        self.context_size = context_size
        self.supports_guided = supports_guided
        self.responder = responder
        self.stream_delay = stream_delay
        self.requests: list[RecordedRequest] = []
        self.created = int(time.time())
        self._host = host
        self._requested_port = port
        self._lock = threading.Lock()
        self._script: deque[str] = deque()
        self._failures: deque[_Failure] = deque()
        self._stalls: deque[_Stall] = deque()
        self._cuts: deque[int] = deque()
        self._stream_errors: deque[tuple[int, str]] = deque()
        self._request_ids = itertools.count(1)
        self._completion_ids = itertools.count(1)
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> LLMPeer:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self._host, self._requested_port), _Handler)
        server.peer = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, name=f"llm-peer-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes stalled handlers
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:  # idle keep-alive connections would otherwise hold their threads
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> LLMPeer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the peer is not running")
        port: int = self._server.server_address[1]
        return port

    @property
    def url(self) -> str:
        """The server root, ``http://127.0.0.1:PORT``."""
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as ``base_url``: ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    # scripting and faults

    def script(self, replies: Iterable[str]) -> None:
        """Queue replies for the next chat-completion requests, one each, in order (before responder and default)."""
        with self._lock:
            self._script.extend(replies)

    def fail_next(
        self, status: int = 500, times: int = 1, *, message: str | None = None, retry_after: float | None = None
    ) -> None:
        """Answer the next ``times`` chat-completion requests with ``status`` and an OpenAI error body.

        ``retry_after`` (seconds) is sent as ``retry-after-ms``, which the openai SDK honours between its retries.
        """
        with self._lock:
            self._failures.extend([_Failure(status, message, retry_after)] * times)

    def stall_next(self, seconds: float, times: int = 1, *, after_deltas: int | None = None) -> None:
        """Sleep ``seconds`` before answering the next ``times`` chat-completion requests.

        With ``after_deltas``, a streamed request sleeps after that many content deltas instead (a request that is
        not streamed still sleeps before answering). Closing the peer cuts every sleep short.
        """
        with self._lock:
            self._stalls.extend([_Stall(seconds, after_deltas)] * times)

    def cut_stream_after(self, n_deltas: int, times: int = 1) -> None:
        """Drop the connection of the next ``times`` streamed requests after ``n_deltas`` content deltas.

        The role chunk always goes out first; a reply with fewer deltas is cut just before its finish chunk.
        Requests that are not streamed leave this pending.
        """
        with self._lock:
            self._cuts.extend([n_deltas] * times)

    def error_in_stream_after(self, n_deltas: int, message: str = "model crashed") -> None:
        """On the next streamed request, after ``n_deltas`` content deltas send an error event, as vLLM and Ollama
        do when generation fails mid-stream (``data: {"error": {...}}``), then end the stream."""
        with self._lock:
            self._stream_errors.append((n_deltas, message))

    def reset(self) -> None:
        """Forget recorded requests, scripted replies and pending faults."""
        with self._lock:
            self.requests.clear()
            self._script.clear()
            self._failures.clear()
            self._stalls.clear()
            self._cuts.clear()
            self._stream_errors.clear()

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            if not self.requests:
                raise AssertionError("the peer has received no chat-completion request")
            return self.requests[-1]

    # internals used by the handler

    def _pop(self, queue: deque[Any]) -> Any:
        with self._lock:
            return queue.popleft() if queue else None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_request_id(self) -> str:
        with self._lock:
            return f"req_peer_{next(self._request_ids):06d}"

    def _next_completion_id(self) -> str:
        with self._lock:
            return f"chatcmpl-peer{next(self._completion_ids):06d}"

    def _reply_for(self, body: dict[str, Any]) -> str:
        scripted = self._pop(self._script)
        if scripted is not None:
            return str(scripted)
        responder = self.responder
        if responder is not None:
            try:
                return str(responder(body))
            except Exception as error:
                raise PeerError(500, f"peer responder failed: {error!r}") from error
        return default_reply(body)

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    peer: LLMPeer


def _number(body: dict[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PeerError(400, f"Invalid type for '{name}': expected a number.", param=name)
    if not low <= value <= high:
        raise PeerError(400, f"Invalid '{name}': {value} is not between {low:g} and {high:g}.", param=name)


def _positive_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PeerError(400, f"Invalid type for '{name}': expected an integer.", param=name)
    if value < 1:
        raise PeerError(400, f"Invalid '{name}': integer below minimum value. Expected a value >= 1.", param=name)
    return value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked transfer, as the real servers
    server_version = "llm-peer/1.0"
    server: _Server

    @property
    def peer(self) -> LLMPeer:
        return self.server.peer

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without this, Nagle plus delayed ACKs add ~40 ms a response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.peer._lock:
            self.peer._connections.add(self.connection)

    def finish(self) -> None:
        with self.peer._lock:
            self.peer._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (TimeoutError, OSError):  # the client went away (timed out, cancelled) or the peer is closing
            self.close_connection = True

    # routing

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        self._request_id = self.peer._next_request_id()
        self._streaming = False
        path = urlsplit(self.path).path.rstrip("/")
        try:
            body = self._read_body() if method == "POST" else None
            if method == "GET" and path == "/health":
                self._send_json(200, {})
                return
            if method == "POST" and path == "/v1/chat/completions":
                assert body is not None
                self._chat_completions(body)
                return
            if method == "GET" and path == "/v1/models":
                self._check_auth()
                self._send_json(200, {"object": "list", "data": [self._model(m) for m in self.peer.models]})
                return
            if method == "GET" and path.startswith("/v1/models/"):
                self._check_auth()
                model = path[len("/v1/models/") :]
                if model not in self.peer.models:
                    raise self._model_not_found(model)
                self._send_json(200, self._model(model))
                return
            raise PeerError(404, f"Invalid URL ({method} {urlsplit(self.path).path})")
        except PeerError as error:
            self._send_json(error.status, error.body(), error.headers)
        except OSError:
            raise
        except Exception as error:  # a bug in the peer: say so loudly, on stderr and to the client
            traceback.print_exc()
            if self._streaming:
                self.close_connection = True
            else:
                self._send_json(500, PeerError(500, f"llm peer bug: {error!r}").body())

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        try:
            size = int(length) if length is not None else -1
        except ValueError:
            size = -1
        if size < 0:
            self.close_connection = True
            raise PeerError(400, "We could not parse the JSON body of your request: no valid Content-Length.")
        return self.rfile.read(size)

    def _check_auth(self) -> None:
        expected = self.peer.api_key
        if expected is None:
            return
        header = self.headers.get("Authorization", "")
        if not header:
            raise PeerError(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header using "
                "Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or key.strip() != expected:
            shown = key.strip()
            shown = f"{shown[:3]}*****{shown[-4:]}" if len(shown) > 8 else "*****"
            raise PeerError(401, f"Incorrect API key provided: {shown}.", code="invalid_api_key")

    def _model(self, model: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": model, "object": "model", "created": self.peer.created, "owned_by": "llm-peer"}
        if self.peer.context_size is not None:
            entry["max_model_len"] = self.peer.context_size  # vLLM's extra field
        return entry

    @staticmethod
    def _model_not_found(model: str) -> PeerError:
        return PeerError(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )

    # chat completions

    def _chat_completions(self, raw: bytes) -> None:
        peer = self.peer
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise PeerError(400, f"We could not parse the JSON body of your request. ({error})") from error
        if not isinstance(body, dict):
            raise PeerError(400, "We could not parse the JSON body of your request: expected a JSON object.")
        headers = {name.lower(): value for name, value in self.headers.items()}
        peer._record(RecordedRequest(body, headers, self.path))
        self._check_auth()

        stall: _Stall | None = peer._pop(peer._stalls)
        streaming = body.get("stream") is True
        if stall is not None and (stall.after_deltas is None or not streaming):
            peer._wait(stall.seconds)
            stall = None

        failure: _Failure | None = peer._pop(peer._failures)
        if failure is not None:
            extra = {"retry-after-ms": f"{failure.retry_after * 1000:g}"} if failure.retry_after is not None else {}
            message = failure.message or _DEFAULT_FAILURE_MESSAGES.get(
                failure.status, f"Injected failure ({failure.status})"
            )
            raise PeerError(failure.status, message, headers=extra)

        n, budget, prompt = self._validate(body)
        text = self._shape(peer._reply_for(body), body)
        finish_reason = "stop"
        stops = body.get("stop")
        for stop in [stops] if isinstance(stops, str) else stops or []:
            if stop and stop in text:
                text = text[: text.index(stop)]
        if budget is not None and count_tokens(text) > budget:
            text, finish_reason = truncate_tokens(text, budget), "length"

        completion_id = peer._next_completion_id()
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": n * count_tokens(text),
            "total_tokens": prompt + n * count_tokens(text),
        }
        if streaming:
            cut: int | None = peer._pop(peer._cuts)
            error: tuple[int, str] | None = peer._pop(peer._stream_errors)
            self._stream(body, completion_id, text, finish_reason, n, usage, cut, stall, error)
            return
        choices: list[dict[str, Any]] = [
            {
                "index": index,
                "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
            for index in range(n)
        ]
        self._send_json(
            200,
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": choices,
                "usage": usage,
                "system_fingerprint": "fp_llm_peer",
            },
        )

    def _validate(self, body: dict[str, Any]) -> tuple[int, int | None, int]:
        """Check the request as OpenAI would; returns (n, completion token budget, prompt tokens)."""
        peer = self.peer
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise PeerError(400, "you must provide a model parameter", param="model")
        if model not in peer.models:
            raise self._model_not_found(model)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise PeerError(400, "Invalid 'messages': expected a non-empty array.", param="messages")
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise PeerError(
                    400, f"Invalid 'messages[{index}]': expected an object with a 'role'.", param="messages"
                )
        if "stream" in body and not isinstance(body["stream"], bool | None):
            raise PeerError(400, "Invalid type for 'stream': expected a boolean.", param="stream")
        if body.get("stream_options") is not None and body.get("stream") is not True:
            raise PeerError(
                400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param="stream_options"
            )
        if not peer.supports_guided:
            for field in GUIDED_FIELDS:
                if field in body:
                    raise PeerError(400, f"Unrecognized request argument supplied: {field}")
        _number(body, "temperature", 0, 2)
        _number(body, "top_p", 0, 1)
        _number(body, "presence_penalty", -2, 2)
        _number(body, "frequency_penalty", -2, 2)
        if body.get("seed") is not None and (isinstance(body["seed"], bool) or not isinstance(body["seed"], int)):
            raise PeerError(400, "Invalid type for 'seed': expected an integer.", param="seed")
        stop = body.get("stop")
        if stop is not None and not (
            isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
        ):
            raise PeerError(400, "Invalid type for 'stop': expected a string or an array of strings.", param="stop")
        n = _positive_int(body, "n") or 1
        limit = _positive_int(body, "max_completion_tokens")
        if limit is None:
            limit = _positive_int(body, "max_tokens")
        prompt = prompt_tokens(body)
        budget = limit
        if peer.context_size is not None:
            wanted = prompt + (limit or 0)
            if prompt >= peer.context_size or wanted > peer.context_size:
                raise PeerError(
                    400,
                    f"This model's maximum context length is {peer.context_size} tokens. However, you requested "
                    f"{max(wanted, prompt)} tokens ({prompt} in the messages, {limit or 0} in the completion). "
                    "Please reduce the length of the messages or completion.",
                    param="messages",
                    code="context_length_exceeded",
                )
            room = peer.context_size - prompt
            budget = room if budget is None else min(budget, room)
        return n, budget, prompt

    def _shape(self, text: str, body: dict[str, Any]) -> str:
        """Apply guided decoding and response_format to the raw reply."""
        outputs = body.get("structured_outputs")
        outputs = outputs if isinstance(outputs, dict) else {}
        choice = body.get("guided_choice", outputs.get("choice"))
        if choice is not None:
            if not isinstance(choice, list) or not choice or not all(isinstance(c, str) for c in choice):
                raise PeerError(400, "Invalid 'guided_choice': expected a non-empty array of strings.")
            return text if text in choice else choice[0]
        schema = body.get("guided_json", outputs.get("json"))
        if schema is not None:
            return self._json_reply(text, schema, "guided_json")
        response_format = body.get("response_format")
        if response_format is None:
            return text
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind == "text":
            return text
        if kind == "json_object":
            try:
                if isinstance(json.loads(text), dict):
                    return text
            except json.JSONDecodeError:
                pass
            return json.dumps({"answer": text})
        if kind == "json_schema":
            spec = response_format.get("json_schema")
            if not isinstance(spec, dict) or not isinstance(spec.get("schema", {}), dict):
                raise PeerError(400, "Invalid 'response_format.json_schema'.", param="response_format")
            return self._json_reply(text, spec.get("schema", {}), "response_format")
        raise PeerError(400, f"Invalid 'response_format.type': {kind!r}.", param="response_format")

    @staticmethod
    def _json_reply(text: str, schema: Any, field: str) -> str:
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except json.JSONDecodeError as error:
                raise PeerError(400, f"Invalid '{field}': not a JSON schema.") from error
        try:
            json.loads(text)
            return text
        except json.JSONDecodeError:
            return json.dumps(schema_instance(schema, text))

    # writing

    def _send_json(self, status: int, payload: Any, extra_headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", self._request_id)
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _event(self, payload: Any) -> None:
        self._write_chunk(b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n")

    def _stream(
        self,
        body: dict[str, Any],
        completion_id: str,
        text: str,
        finish_reason: str,
        n: int,
        usage: dict[str, int],
        cut: int | None,
        stall: _Stall | None,
        error: tuple[int, str] | None = None,
    ) -> None:
        peer = self.peer
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        created = int(time.time())

        def chunk(index: int, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            payload: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": body["model"],
                "system_fingerprint": "fp_llm_peer",
                "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if include_usage:
                payload["usage"] = None
            return payload

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("x-request-id", self._request_id)
        self.end_headers()
        self._streaming = True

        sent = 0
        for index in range(n):
            self._event(chunk(index, {"role": "assistant", "content": "", "refusal": None}, None))
            for piece in split_deltas(text):
                if cut is not None and sent >= cut:
                    self._cut()
                    return
                if error is not None and sent >= error[0]:
                    failure = {"error": {"message": error[1], "type": "server_error", "param": None, "code": 500}}
                    self._event(failure)
                    self._write_chunk(b"data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    return
                if stall is not None and stall.after_deltas is not None and sent >= stall.after_deltas:
                    peer._wait(stall.seconds)
                    stall = None
                peer._wait(peer.stream_delay)
                self._event(chunk(index, {"content": piece}, None))
                sent += 1
            if cut is not None and sent >= cut:
                self._cut()
                return
            self._event(chunk(index, {}, finish_reason))
        if include_usage:
            self._event(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": body["model"],
                    "system_fingerprint": "fp_llm_peer",
                    "choices": [],
                    "usage": usage,
                }
            )
        self._write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        """Close the socket mid-body: no final chunk, no [DONE], no terminating zero-length HTTP chunk."""
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
