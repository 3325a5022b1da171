"""The LLM test peer speaks the real OpenAI wire format: driven here by the real ``openai`` SDK and by Haystack."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest
from haystack.components.generators.chat import OpenAIChatGenerator
from haystack.dataclasses import ChatMessage, StreamingChunk
from haystack.utils import Secret

from tests.llm_peer import LLMPeer, default_reply, split_deltas

KEY = "sk-peer-test-key-0123456789"
MODELS = ["peer-small", "peer-large"]


@pytest.fixture
def peer() -> Iterator[LLMPeer]:
    with LLMPeer(models=MODELS, api_key=KEY) as running:
        yield running


@pytest.fixture
def client(peer: LLMPeer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=peer.base_url, api_key=KEY, max_retries=0, timeout=5) as sdk:
        yield sdk


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "You answer questions."}, {"role": "user", "content": text}]


def raw_post(peer: LLMPeer, body: bytes, path: str = "/v1/chat/completions") -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(peer.host, peer.port, timeout=5)
    try:
        connection.request(
            "POST", path, body=body, headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
        )
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


# --- the deterministic rule ---------------------------------------------------------------------------------------


def test_default_reply_rule() -> None:
    assert default_reply({"messages": user("Context: blah\n  ANSWER: forty two \nmore")}) == "forty two"
    question = "Some   long\ncontext " + "x" * 80 + " what is it?"
    expected = "peer answer to: " + " ".join(question.split())[-60:]
    assert default_reply({"messages": user(question)}) == expected
    parts = [{"type": "text", "text": "ANSWER: "}, {"type": "text", "text": "from parts"}]
    assert default_reply({"messages": [{"role": "user", "content": parts}]}) == "from parts"
    assert "".join(split_deltas("  a  b\nc ")) == "  a  b\nc "


# --- the openai SDK -----------------------------------------------------------------------------------------------


def test_lists_and_retrieves_models(client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == MODELS
    assert client.models.retrieve("peer-large").object == "model"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_non_streamed_completion(peer: LLMPeer, client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="peer-small", messages=user("Facts.\nANSWER: forty two"))

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "peer-small"
    [choice] = completion.choices
    assert (choice.index, choice.message.role, choice.finish_reason) == (0, "assistant", "stop")
    assert choice.message.content == "forty two"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (
        7,
        2,
        9,
    )

    echoed = client.chat.completions.create(model="peer-large", messages=user("What is the airspeed of a swallow?"))
    assert echoed.choices[0].message.content == "peer answer to: What is the airspeed of a swallow?"


def test_streamed_completion_concatenates_and_reports_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="peer-small",
        messages=user("ANSWER: the quick  brown fox\tjumps"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(deltas) == 5
    assert "".join(deltas) == "the quick  brown fox\tjumps"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert (usage_chunk.usage.prompt_tokens, usage_chunk.usage.completion_tokens) == (9, 5)
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_stream_without_include_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="peer-small", messages=user("ANSWER: a b"), stream=True))
    assert all(chunk.choices for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_sse_wire_format(peer: LLMPeer) -> None:
    body = {"model": "peer-small", "messages": user("ANSWER: a b"), "stream": True}
    status, headers, raw = raw_post(peer, json.dumps(body).encode())

    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["transfer-encoding"] == "chunked"
    events = raw.decode().split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    payloads = [json.loads(event.removeprefix("data: ")) for event in events[:-2]]
    assert all(event.startswith("data: {") for event in events[:-2])
    assert [p["choices"][0]["delta"] for p in payloads] == [
        {"role": "assistant", "content": "", "refusal": None},
        {"content": "a "},
        {"content": "b"},
        {},
    ]


def test_scripted_replies_then_responder_then_default(peer: LLMPeer, client: openai.OpenAI) -> None:
    peer.script(["first reply", "second reply"])

    def ask() -> str | None:
        return client.chat.completions.create(model="peer-small", messages=user("hi")).choices[0].message.content

    assert [ask(), ask(), ask()] == ["first reply", "second reply", "peer answer to: hi"]
    peer.responder = lambda body: f"{len(body['messages'])} messages"
    assert ask() == "2 messages"
    peer.responder = lambda body: body["no such key"]
    with pytest.raises(openai.InternalServerError, match="peer responder failed"):
        ask()


def test_fail_next_gives_internal_server_error_once(peer: LLMPeer, client: openai.OpenAI) -> None:
    peer.fail_next(status=500)

    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model="peer-small", messages=user("hi"))
    assert raised.value.status_code == 500
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["type"] == "server_error"
    assert client.chat.completions.create(model="peer-small", messages=user("hi")).choices[0].message.content


def test_fail_next_is_retried_by_the_sdk(peer: LLMPeer) -> None:
    peer.fail_next(status=503, times=2, retry_after=0.001)

    with openai.OpenAI(base_url=peer.base_url, api_key=KEY, max_retries=2) as retrying:
        completion = retrying.chat.completions.create(model="peer-small", messages=user("ANSWER: finally"))

    assert completion.choices[0].message.content == "finally"
    assert len(peer.requests) == 3


def test_stall_next_gives_a_client_timeout(peer: LLMPeer, client: openai.OpenAI) -> None:
    peer.stall_next(5)

    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.2).chat.completions.create(model="peer-small", messages=user("hi"))
    assert client.chat.completions.create(model="peer-small", messages=user("ANSWER: ok")).choices[0].message.content


def test_stall_mid_stream_times_out_while_iterating(peer: LLMPeer, client: openai.OpenAI) -> None:
    peer.stall_next(5, after_deltas=1)
    received: list[str] = []

    stream = client.with_options(timeout=0.2).chat.completions.create(
        model="peer-small", messages=user("ANSWER: one two three"), stream=True
    )
    with pytest.raises(openai.APITimeoutError):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "one "


def test_cut_stream_raises_connection_error_while_iterating(peer: LLMPeer, client: openai.OpenAI) -> None:
    peer.cut_stream_after(2)
    received: list[str] = []

    stream = client.chat.completions.create(
        model="peer-small", messages=user("ANSWER: one two three four"), stream=True
    )
    with pytest.raises(openai.APIConnectionError) as raised:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")

    assert not isinstance(raised.value, openai.APITimeoutError)
    assert "incomplete chunked read" in repr(raised.value.__cause__)
    assert "".join(received) == "one two "
    assert list(client.chat.completions.create(model="peer-small", messages=user("hi"), stream=True))


def test_guided_choice_json_and_response_format(peer: LLMPeer, client: openai.OpenAI) -> None:
    def content(**kwargs: Any) -> str | None:
        return (
            client.chat.completions.create(model="peer-small", messages=user("hi"), **kwargs).choices[0].message.content
        )

    assert content(extra_body={"guided_choice": ["yes", "no"]}) == "yes"
    peer.script(["no"])
    assert content(extra_body={"guided_choice": ["yes", "no"]}) == "no"
    schema = {"type": "object", "properties": {"answer": {"type": "string"}, "score": {"type": "integer"}}}
    assert json.loads(content(extra_body={"guided_json": schema}) or "") == {"answer": "peer answer to: hi", "score": 0}
    assert json.loads(content(response_format={"type": "json_object"}) or "") == {"answer": "peer answer to: hi"}
    assert peer.requests[0]["guided_choice"] == ["yes", "no"]

    peer.supports_guided = False
    with pytest.raises(openai.BadRequestError, match="guided_choice"):
        content(extra_body={"guided_choice": ["yes", "no"]})


def test_records_sampling_parameters_and_headers(peer: LLMPeer, client: openai.OpenAI) -> None:
    client.chat.completions.create(
        model="peer-large", messages=user("hi"), temperature=0.2, top_p=0.9, seed=42, max_tokens=64, stop=["\n\n"]
    )

    request = peer.last_request
    assert request["model"] == "peer-large"
    assert (request["temperature"], request["top_p"], request["seed"], request["max_tokens"]) == (0.2, 0.9, 42, 64)
    assert request["stop"] == ["\n\n"]
    assert request["messages"] == user("hi")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.path == "/v1/chat/completions"


def test_max_tokens_and_context_size(peer: LLMPeer, client: openai.OpenAI) -> None:
    truncated = client.chat.completions.create(model="peer-small", messages=user("ANSWER: a b c d e"), max_tokens=2)
    assert truncated.choices[0].message.content == "a b"
    assert truncated.choices[0].finish_reason == "length"

    peer.context_size = 10
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="peer-small", messages=user("ANSWER: a b"), max_tokens=8)
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["code"] == "context_length_exceeded"


def test_wrong_key_gives_401(peer: LLMPeer) -> None:
    with openai.OpenAI(base_url=peer.base_url, api_key="sk-wrong-key-000000", max_retries=0) as wrong:
        with pytest.raises(openai.AuthenticationError) as raised:
            wrong.chat.completions.create(model="peer-small", messages=user("hi"))
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()
    assert raised.value.status_code == 401
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["code"] == "invalid_api_key"


def test_unknown_model_and_malformed_body(peer: LLMPeer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="gpt-nonexistent", messages=user("hi"))
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["code"] == "model_not_found"

    status, headers, raw = raw_post(peer, b"{not json")
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert set(json.loads(raw)["error"]) == {"message", "type", "param", "code"}
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="peer-small", messages=[])


def test_concurrent_requests_are_all_recorded(peer: LLMPeer, client: openai.OpenAI) -> None:
    def ask(index: int) -> str | None:
        messages = user(f"ANSWER: reply {index}")
        return client.chat.completions.create(model="peer-small", messages=messages).choices[0].message.content

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(ask, range(16)))

    assert replies == [f"reply {index}" for index in range(16)]
    assert len(peer.requests) == 16


# --- Haystack's OpenAIChatGenerator ---------------------------------------------------------------------------------


def generator(peer: LLMPeer, **kwargs: Any) -> OpenAIChatGenerator:
    return OpenAIChatGenerator(
        api_key=Secret.from_token(KEY),
        model="peer-small",
        api_base_url=peer.base_url,
        generation_kwargs={"temperature": 0.1, "seed": 3},
        max_retries=0,
        timeout=5,
        **kwargs,
    )


def test_haystack_generator_non_streaming(peer: LLMPeer) -> None:
    result = generator(peer).run([ChatMessage.from_user("Context.\nANSWER: hello world")])

    [reply] = result["replies"]
    assert reply.text == "hello world"
    assert reply.meta["finish_reason"] == "stop"
    assert reply.meta["usage"]["completion_tokens"] == 2
    assert (peer.last_request["temperature"], peer.last_request["seed"]) == (0.1, 3)


def test_haystack_generator_streaming(peer: LLMPeer) -> None:
    received: list[StreamingChunk] = []

    result = generator(peer, streaming_callback=received.append).run([ChatMessage.from_user("ANSWER: hello big world")])

    assert result["replies"][0].text == "hello big world"
    assert result["replies"][0].meta["finish_reason"] == "stop"
    assert "".join(chunk.content for chunk in received) == "hello big world"
    assert len([chunk for chunk in received if chunk.content]) == 3
    assert peer.last_request["stream"] is True


def test_haystack_generator_on_cut_stream_and_stall(peer: LLMPeer) -> None:
    received: list[StreamingChunk] = []
    peer.cut_stream_after(1)
    with pytest.raises(openai.APIConnectionError):
        generator(peer, streaming_callback=received.append).run([ChatMessage.from_user("ANSWER: hello big world")])
    assert "".join(chunk.content for chunk in received) == "hello "

    peer.stall_next(5)
    slow = OpenAIChatGenerator(
        api_key=Secret.from_token(KEY), model="peer-small", api_base_url=peer.base_url, timeout=0.2, max_retries=0
    )
    with pytest.raises(openai.APITimeoutError):
        slow.run([ChatMessage.from_user("hi")])
