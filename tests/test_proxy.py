"""The recording proxy in front of the program's model (:mod:`autotrace.llm.proxy`), driven by the real
``openai`` client (sync, async, streamed) against the scripted server, on real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from llmserver import ScriptedLLMServer

from autotrace.llm.appcalls import AppUsage
from autotrace.llm.proxy import RecordingProxy, Upstream
from autotrace.runners.model_calls import ModelCalls

MESSAGES = [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": "Sky colour?"}]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / ".autotrace" / "autotrace.db"


def proxy_for(server: ScriptedLLMServer, store: Path | None, model: str | None = "served") -> RecordingProxy:
    return RecordingProxy(lambda: Upstream(server.base_url, "upstream-key", model), store)


@pytest.fixture
def proxy(llm_server: ScriptedLLMServer, store: Path) -> Iterator[RecordingProxy]:
    with proxy_for(llm_server, store) as running:
        yield running


def client(proxy: RecordingProxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url, api_key="anything", max_retries=0)


def test_any_model_name_is_answered_by_the_upstreams_and_a_repeat_comes_from_the_cache(
        llm_server: ScriptedLLMServer, proxy: RecordingProxy) -> None:
    llm_server.script("blue")
    first = client(proxy).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0)
    again = client(proxy).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0)

    assert first.choices[0].message.content == again.choices[0].message.content == "blue"
    assert len(llm_server.chat_requests) == 1
    request = llm_server.chat_requests[0]
    assert request.json["model"] == "served" and request.headers["authorization"] == "Bearer upstream-key"
    usage = proxy.usage()
    assert (usage.calls, usage.cached) == (2, 1)
    assert (usage.prompt_tokens, usage.completion_tokens) == (first.usage.prompt_tokens, first.usage.completion_tokens)


def test_a_streamed_answer_is_relayed_counted_and_replayed(llm_server: ScriptedLLMServer, proxy: RecordingProxy) -> None:
    llm_server.script("a rather long answer that comes in several chunks")

    def streamed() -> tuple[str, list]:
        chunks = list(client(proxy).chat.completions.create(
            model="m", messages=MESSAGES, temperature=0, stream=True, stream_options={"include_usage": True}))
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks

    text, chunks = streamed()
    replayed, _ = streamed()

    assert text == replayed == "a rather long answer that comes in several chunks"
    assert len(llm_server.chat_requests) == 1
    usage = chunks[-1].usage
    assert proxy.usage() == AppUsage(2, 1, usage.prompt_tokens, usage.completion_tokens, proxy.usage().seconds)


def test_the_async_client_goes_through_it_too(llm_server: ScriptedLLMServer, proxy: RecordingProxy) -> None:
    llm_server.script("green")

    async def ask() -> str:
        async with openai.AsyncOpenAI(base_url=proxy.base_url, api_key="x", max_retries=0) as async_client:
            reply = await async_client.chat.completions.create(model="m", messages=MESSAGES, temperature=0)
            return reply.choices[0].message.content or ""

    assert asyncio.run(ask()) == "green"
    assert proxy.usage().calls == 1


def test_sampled_requests_sample_within_a_run_and_replay_in_the_next(llm_server: ScriptedLLMServer,
                                                                       store: Path) -> None:
    llm_server.script("one", "two")
    with proxy_for(llm_server, store) as first_run:
        answers = [client(first_run).chat.completions.create(model="m", messages=MESSAGES, temperature=0.8)
                   .choices[0].message.content for _ in range(2)]
    with proxy_for(llm_server, store) as second_run:
        replayed = [client(second_run).chat.completions.create(model="m", messages=MESSAGES, temperature=0.8)
                    .choices[0].message.content for _ in range(2)]

    assert answers == replayed == ["one", "two"]
    assert len(llm_server.chat_requests) == 2


def test_the_users_endpoint_gets_the_programs_own_credentials_and_model(llm_server: ScriptedLLMServer,
                                                                        store: Path) -> None:
    """``forward_key``: the key and OpenAI headers the program sends go upstream, the model it names too."""
    llm_server.script("blue")
    with RecordingProxy(lambda: Upstream(llm_server.base_url, "users-key", forward_key=True), store) as proxy:
        programs = openai.OpenAI(base_url=proxy.base_url, api_key="programs-key", organization="org-1", max_retries=0)
        programs.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0)

    request = llm_server.chat_requests[0]
    assert request.headers["authorization"] == "Bearer programs-key"
    assert request.headers["openai-organization"] == "org-1" and request.json["model"] == "gpt-4o-mini"


def test_a_sampled_request_is_keyed_by_its_evaluations_example_and_sample_index(llm_server: ScriptedLLMServer,
                                                                                  proxy: RecordingProxy) -> None:
    """Evaluations (tags) name their example: the same example and draw meet the same samples in any
    evaluation, another draw samples anew; calls before any example (at import) count per evaluation."""
    llm_server.script("s0", "s1", "d1", "import")
    address = proxy.base_url.removesuffix("/v1")

    def asked(tag: str, example: str | None, times: int = 1) -> list[str | None]:
        if example is not None:
            ModelCalls(address, tag).begin(example)
        routed = openai.OpenAI(base_url=f"{address}/r/{tag}/v1", api_key="x", max_retries=0)
        return [routed.chat.completions.create(model="m", messages=MESSAGES, temperature=0.7).choices[0].message.content
                for _ in range(times)]

    assert asked("candidate-a", "7:0", times=2) == ["s0", "s1"]
    assert asked("candidate-b", "7:0", times=2) == ["s0", "s1"]  # the same draw: the same samples, cached
    assert asked("candidate-b", "8:0") == ["d1"]  # another draw: a sample of its own
    assert asked("import-a", None) == asked("import-b", None) == ["import"]
    assert len(llm_server.chat_requests) == 4


def test_without_a_cache_every_request_is_sent(llm_server: ScriptedLLMServer) -> None:
    llm_server.script("a", "b")
    with proxy_for(llm_server, None, model=None) as uncached:
        for _ in range(2):
            client(uncached).chat.completions.create(model="program-model", messages=MESSAGES, temperature=0)

    assert [r.json["model"] for r in llm_server.chat_requests] == ["program-model"] * 2  # no model given: kept


def test_an_upstream_that_does_not_answer_is_an_error_the_program_sees(llm_server: ScriptedLLMServer,
                                                                        store: Path) -> None:
    url = llm_server.base_url
    llm_server.stop()
    with RecordingProxy(lambda: Upstream(url, "k"), store) as proxy:
        with pytest.raises(openai.InternalServerError, match="did not answer"):
            client(proxy).chat.completions.create(model="m", messages=MESSAGES, temperature=0)
        assert proxy.usage().calls == 1


def test_a_model_that_cannot_start_is_tried_once_and_each_request_told_why() -> None:
    starts = []

    def broken() -> Upstream:
        starts.append(1)
        raise RuntimeError("no model file")

    with RecordingProxy(broken) as proxy:
        for _ in range(2):
            with pytest.raises(openai.APIStatusError, match="could not start the program's model: no model file"):
                client(proxy).chat.completions.create(model="m", messages=MESSAGES, temperature=0)
    assert len(starts) == 1
