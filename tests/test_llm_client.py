"""The LLM client against a real HTTP server on 127.0.0.1, through the real ``openai`` SDK."""

from __future__ import annotations

import logging
from pathlib import Path

import openai
import pytest
from llmserver import Fault, ScriptedLLMServer, estimate_tokens

from autotrace.llm.client import LLM, LLMConfig, LLMError, LLMReply
from autotrace.llm.jsonfix import extract_json
from autotrace.store import ResponseCache

SECRET = "sk-test-DO-NOT-LEAK-0123456789abcdef"
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}, "reason": {"type": "string"}},
    "required": ["answer", "reason"],
    "additionalProperties": False,
}
MESSAGES = [
    {"role": "system", "content": "You answer in JSON."},
    {"role": "user", "content": "What is six times seven?"},
]
GOOD = {"answer": 42, "reason": "6*7"}


def make_llm(server: ScriptedLLMServer, cache: ResponseCache | None = None, **overrides: object) -> LLM:
    """A client with tiny timeouts so fault tests stay fast (the SDK waits 0.5 s, then 1 s, between tries)."""
    settings: dict = {
        "model": "test-model",
        "base_url": server.base_url,
        "api_key": SECRET,
        "timeout": 2.0,
        "max_retries": 3,
    }
    settings.update(overrides)
    return LLM(LLMConfig(**settings), cache)


def ask(llm: LLM, schema: dict | None = SCHEMA) -> LLMReply:
    return llm.complete_json(MESSAGES, schema, schema_name="product")


# -- request shape and accounting ----------------------------------------------------------------


def test_json_schema_request_carries_schema_and_settings(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(GOOD)
    reply = ask(make_llm(llm_server))

    assert reply.data == GOOD and reply.error is None and not reply.cached
    (request,) = llm_server.chat_requests
    body = request.json
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "product", "schema": SCHEMA, "strict": True},
    }
    assert body["model"] == "test-model"
    assert body["messages"] == MESSAGES
    assert (body["temperature"], body["seed"], body["max_tokens"]) == (0.0, 0, 1024)
    assert request.headers["authorization"] == f"Bearer {SECRET}"


def test_no_schema_asks_for_a_json_object(llm_server: ScriptedLLMServer) -> None:
    llm_server.script('{"x": 1}')
    assert ask(make_llm(llm_server), schema=None).data == {"x": 1}
    assert llm_server.chat_requests[0].json["response_format"] == {"type": "json_object"}


def test_token_counts_come_from_usage(llm_server: ScriptedLLMServer) -> None:
    text = '{"answer": 42, "reason": "six sevens are forty-two"}'
    llm_server.script(text)
    reply = ask(make_llm(llm_server))

    expected_prompt = sum(estimate_tokens(m["content"]) + 4 for m in MESSAGES)
    assert (reply.prompt_tokens, reply.completion_tokens) == (expected_prompt, estimate_tokens(text))
    assert reply.text == text
    assert 0 < reply.seconds < 2


# -- response_format fallback --------------------------------------------------------------------


def test_unsupported_json_schema_falls_back_to_json_object_and_is_remembered() -> None:
    with ScriptedLLMServer(supports_json_schema=False) as server:
        server.script(GOOD, GOOD)
        llm = make_llm(server)
        assert ask(llm).data == GOOD
        assert ask(llm).data == GOOD
        formats = [r.json.get("response_format", {}).get("type") for r in server.chat_requests]
        assert formats == ["json_schema", "json_object", "json_object"]


LIMITED = {**SCHEMA, "properties": {"answer": {"type": "integer"}, "reason": {"type": "string", "maxLength": 80}}}


def test_a_schema_with_length_limits_is_sent_as_it_is(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(GOOD)
    assert ask(make_llm(llm_server), LIMITED).data == GOOD
    assert llm_server.chat_requests[0].json["response_format"]["json_schema"]["schema"] == LIMITED


def test_refused_length_limits_are_dropped_from_the_schema_and_remembered() -> None:
    with ScriptedLLMServer(supports_length_limits=False) as server:
        server.script(GOOD, GOOD, GOOD)
        llm = make_llm(server)
        assert ask(llm, LIMITED).data == GOOD
        assert ask(llm, LIMITED).data == GOOD
        assert ask(llm, SCHEMA).data == GOOD  # a schema without limits keeps its json_schema format
        sent = [r.json["response_format"]["json_schema"]["schema"] for r in server.chat_requests]
        assert sent == [LIMITED, SCHEMA, SCHEMA, SCHEMA]  # one rejection, then never the limits again


def test_falls_back_to_no_response_format_when_json_object_is_unsupported_too() -> None:
    with ScriptedLLMServer(supports_json_schema=False, supports_json_object=False) as server:
        server.script(GOOD)
        assert ask(make_llm(server)).data == GOOD
        formats = [r.json.get("response_format", {}).get("type") for r in server.chat_requests]
        assert formats == ["json_schema", "json_object", None]


def test_stop_sequences_a_server_rejects_are_dropped_and_remembered() -> None:
    with ScriptedLLMServer(supports_stop=False) as server:
        server.script("one\n```\nafter", "two\n```\nafter")
        llm = make_llm(server)
        messages = [{"role": "user", "content": "hi"}]
        assert llm.complete_text(messages, stop=("\n```\n",)).text == "one\n```\nafter"
        assert llm.complete_text(messages, stop=("\n```\n",)).text == "two\n```\nafter"
        assert [r.json.get("stop") for r in server.chat_requests] == [["\n```\n"], None, None]


def test_stop_sequences_are_part_of_the_question(llm_server: ScriptedLLMServer) -> None:
    llm_server.script("answer\n```\nmore")
    llm = make_llm(llm_server)
    messages = [{"role": "user", "content": "hi"}]
    assert llm.complete_text(messages, stop=("\n```\n",)).text == "answer"
    assert llm.question_key(messages, None, text=True) != llm.question_key(messages, None, text=True, stop=("x",))


def test_a_400_for_every_format_is_a_reply_error_not_a_forgotten_format(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(Fault.status(400), Fault.status(400), Fault.status(400), GOOD)
    llm = make_llm(llm_server)
    reply = ask(llm)
    assert reply.data is None and "HTTP 400" in reply.error
    assert ask(llm).data == GOOD
    assert llm_server.chat_requests[-1].json["response_format"]["type"] == "json_schema"


# -- extracting JSON from what the model wrote ---------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        'Here you go:\n```json\n{"answer": 42, "reason": "6*7"}\n```\nAnything else?',
        'Sure. {"answer": 42, "reason": "6*7"} That is all.',
        '{"answer": 42, "reason": "6*7",}',
        "{'answer': 42, 'reason': '6*7'}",
    ],
    ids=["fenced", "prose", "trailing-comma", "single-quotes"],
)
def test_extracts_json_from_messy_answers(llm_server: ScriptedLLMServer, answer: str) -> None:
    llm_server.script(answer)
    reply = ask(make_llm(llm_server))
    assert reply.data == GOOD and reply.error is None and reply.text == answer


def test_truncated_answer_gives_no_data_and_says_why(llm_server: ScriptedLLMServer) -> None:
    llm_server.script({"answer": 42, "reason": "a long explanation " * 20})
    reply = ask(make_llm(llm_server, max_tokens=10))  # the server cuts the text at max_tokens
    assert reply.data is None
    assert "truncated" in reply.error and "max_tokens" in reply.error


def test_prose_only_answer_is_a_reply_error(llm_server: ScriptedLLMServer) -> None:
    llm_server.script("I think the answer is 42.")
    reply = ask(make_llm(llm_server))
    assert reply.data is None and reply.error == "no JSON object found in the answer"
    assert reply.text == "I think the answer is 42." and reply.completion_tokens > 0


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ('{"a": 1}', {"a": 1}),
        ("{'a': True, 'b': None, 'c': \"it's\"}", {"a": True, "b": None, "c": "it's"}),
        ('{"a": "}{", "b": [1, 2,],}', {"a": "}{", "b": [1, 2]}),
        ('Set {x} first, then: {"a": 2}', {"a": 2}),
        ('Use `if x {` here.\n```\n{"a": 3}\n```', {"a": 3}),
        ('{"code": "def f():\n    return {\'k\': 1}"}', {"code": "def f():\n    return {'k': 1}"}),
    ],
)
def test_extract_json_accepts(text: str, data: dict) -> None:
    assert extract_json(text) == (data, None)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "empty"),
        ("nothing here", "no JSON object"),
        ('{"a": {"b": 1}, "c": "cut off', "truncated"),
        ('{"a": nope}', "invalid JSON"),
    ],
)
def test_extract_json_rejects(text: str, error: str) -> None:
    data, reason = extract_json(text)
    assert data is None and error in reason


# -- faults and retries --------------------------------------------------------------------------


def test_timeout_is_retried(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(Fault.delay(1.0), GOOD)
    reply = ask(make_llm(llm_server, timeout=0.2))
    assert reply.data == GOOD
    assert len(llm_server.chat_requests) == 2


def test_retry_after_is_honoured(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(Fault.status(429, retry_after=0.4), GOOD)
    assert ask(make_llm(llm_server)).data == GOOD
    first, second = llm_server.chat_requests
    assert second.at - first.at >= 0.4


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried(llm_server: ScriptedLLMServer, status: int) -> None:
    llm_server.script(Fault.status(status), Fault.status(status), GOOD)
    assert ask(make_llm(llm_server)).data == GOOD
    assert len(llm_server.chat_requests) == 3


def test_a_bad_request_is_not_retried(llm_server: ScriptedLLMServer) -> None:
    """The SDK retries 408/409/429/5xx and dropped connections only: a 400 is the request's fault."""
    llm_server.script(Fault.status(400), GOOD)
    reply = make_llm(llm_server).complete_text(MESSAGES)
    assert reply.data is None and "rejected the request" in reply.error and "HTTP 400" in reply.error
    assert len(llm_server.chat_requests) == 1


def test_cut_connection_is_retried(llm_server: ScriptedLLMServer) -> None:
    llm_server.script(Fault.cut(), GOOD)
    assert ask(make_llm(llm_server)).data == GOOD
    assert len(llm_server.chat_requests) == 2


def test_exhausted_retries_raise_one_line_error_without_secrets(
    llm_server: ScriptedLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    llm_server.script(*[Fault.status(503)] * 3)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(LLMError) as info:
        ask(make_llm(llm_server, max_retries=2))
    message = str(info.value)
    assert "after 3 attempts" in message and "HTTP 503" in message and "\n" not in message
    assert SECRET not in message and SECRET not in caplog.text
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_refused_connection_raises_after_retries(llm_server: ScriptedLLMServer) -> None:
    llm = make_llm(llm_server, max_retries=1)
    llm_server.stop()
    with pytest.raises(LLMError, match="connection failed") as info:
        ask(llm)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("status", [401, 404])
def test_auth_and_not_found_raise_at_once(llm_server: ScriptedLLMServer, status: int) -> None:
    llm_server.script(Fault.status(status))
    with pytest.raises(LLMError, match=f"HTTP {status}") as info:
        ask(make_llm(llm_server))
    assert len(llm_server.chat_requests) == 1 and SECRET not in str(info.value)


def test_credentials_in_the_base_url_are_not_shown(llm_server: ScriptedLLMServer) -> None:
    url = llm_server.base_url.replace("http://", f"http://user:{SECRET}@")
    llm_server.script(Fault.status(404))
    with pytest.raises(LLMError) as info:
        ask(make_llm(llm_server, base_url=url))
    assert SECRET not in str(info.value) and "127.0.0.1" in str(info.value)
    assert SECRET not in repr(make_llm(llm_server).config)


# -- cache ---------------------------------------------------------------------------------------


def test_cache_hit_makes_no_request_and_stores_no_secret(llm_server: ScriptedLLMServer, tmp_path: Path) -> None:
    db = tmp_path / ".autotrace" / "autotrace.db"
    cache = ResponseCache(db)
    llm_server.script(GOOD)
    first = ask(make_llm(llm_server, cache))
    second = ask(make_llm(llm_server, cache))  # a new client: the hit comes from the database

    assert len(llm_server.chat_requests) == 1
    assert second.cached and not first.cached
    assert (second.data, second.text, second.prompt_tokens) == (first.data, first.text, first.prompt_tokens)
    cache.close()
    for file in db.parent.iterdir():
        assert SECRET.encode() not in file.read_bytes()


def test_cache_key_ignores_url_but_not_settings(llm_server: ScriptedLLMServer, tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "a.db")
    llm_server.script(GOOD, GOOD)
    ask(make_llm(llm_server, cache))
    assert ask(make_llm(llm_server, cache, base_url=llm_server.base_url + "/")).cached
    assert not ask(make_llm(llm_server, cache, temperature=0.7)).cached
    assert len(llm_server.chat_requests) == 2


def test_failed_answers_are_not_cached(llm_server: ScriptedLLMServer, tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "a.db")
    llm_server.script("not json", GOOD)
    llm = make_llm(llm_server, cache)
    assert ask(llm).data is None
    again = ask(llm)
    assert again.data == GOOD and not again.cached


# -- the scripted server itself ------------------------------------------------------------------


def test_server_streams_sse_and_serves_models(llm_server: ScriptedLLMServer) -> None:
    llm_server.script("streamed answer text, long enough for several chunks")
    client = openai.OpenAI(base_url=llm_server.base_url, api_key="k", max_retries=0)
    stream = client.chat.completions.create(
        model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "streamed answer text, long enough for several chunks"
    )
    assert chunks[-1].usage.completion_tokens > 0
    assert [m.id for m in client.models.list()] == ["scripted-model"]


def test_exhausted_script_fails_loudly(llm_server: ScriptedLLMServer) -> None:
    with pytest.raises(LLMError, match="script exhausted"):
        ask(make_llm(llm_server, max_retries=0))
