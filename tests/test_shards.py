"""One evaluation's examples over several workers (``--jobs``): a program that calls an LLM waits on its model
for two examples at once, and the shards' results merged back are the one worker's whatever the number of
jobs: scores, feedback, graphs, the program's calls, tokens and cache. The program's model is the scripted
server on a real socket, reached through the real ``openai`` client from each worker process."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import OPENAI_APP, job_for, project_at
from inprocess import here, run
from llmserver import ScriptedLLMServer

from autotrace.evaluation import ExampleResult
from autotrace.llm.appcalls import CachedReply
from autotrace.llm.client import LLMConfig
from autotrace.llm.replies import reply_text
from autotrace.runners.app_model import AppModel, program_model
from autotrace.runners.executor import Executor
from autotrace.runners.forkserver import fork_supported
from autotrace.runners.job import Job, JobError
from autotrace.runners.optimize import Settings, prepare
from autotrace.runners.outcome import Crashed, Examples, SetupFailed, WorkerOutcome, outcome_to_json
from autotrace.runners.program_runs import evaluation_of
from autotrace.runners.sandbox import Limits
from autotrace.runners.shards import PAYS_FROM, Learnt, merged, pays, shares, split
from autotrace.store import ResponseCache, state_dir

#: Seconds a request waits at the server for another one before the test fails: only a failing test waits.
MEET_TIMEOUT = 60.0


class Meeting:
    """A scripted reply that holds each program request at the server until a second one is held too, then
    answers both "together"; a request left alone past :data:`MEET_TIMEOUT` is answered "alone"."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(2, timeout=MEET_TIMEOUT)

    def __call__(self, body: dict) -> str:
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            return "alone"
        return "together"


MEETING_JUDGE = '''\
def examples():
    return ["a", "b", "c", "d"]


def feedback(output, text):
    return (1.0, "met") if output == "together" else (0.0, f"answered {output!r}")
'''


@pytest.fixture
def user_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedLLMServer]:
    """The scripted server as the program's own endpoint (the user's ``OPENAI_*`` variables)."""
    with ScriptedLLMServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        monkeypatch.delenv("AUTOTRACE_APP_PROXY", raising=False)
        yield server


@pytest.mark.skipif(fork_supported() is not None, reason=str(fork_supported()))
def test_one_evaluation_on_the_fork_server_waits_on_two_model_calls_at_once(tmp_path, user_endpoint):
    """A step with one candidate: its four examples run as two shards whose model calls meet at the server."""
    user_endpoint.script(*[Meeting()] * 4)
    project = project_at(tmp_path, OPENAI_APP, MEETING_JUDGE)
    with Executor(Limits(timeout=120), kind="fork", jobs=2, say=pytest.fail) as executor:
        [outcome] = executor.run_many([job_for(tmp_path, project)])
    evaluation = evaluation_of(outcome)
    assert [e.output for e in evaluation.examples] == ["'together'"] * 4, evaluation.message()
    assert [e.example for e in evaluation.examples] == ["'a'", "'b'", "'c'", "'d'"]  # back in their order


def test_the_initial_evaluation_waits_on_two_model_calls_at_once(tmp_path, user_endpoint):
    """The initial values' evaluation (spawned workers, before the run's fork server) is split as well."""
    meeting = Meeting()
    user_endpoint.script(*[meeting] * 4)
    project_at(tmp_path, OPENAI_APP, MEETING_JUDGE)
    settings = Settings(target=tmp_path / "app.py", judge=tmp_path / "judge.py", jobs=2, isolated=True,
                        limits=Limits(timeout=120))
    with here(tmp_path):
        _, initial = prepare(settings)
    assert initial.score == 1.0, initial.message()
    assert len(user_endpoint.chat_requests) == 4


# -- the same whatever the number of jobs -----------------------------------------------------------------

ANSWER_YES, ALWAYS_YES = "Answer yes.", "Always answer yes."
#: Six examples, the first two the same: their one request is paid once, whichever worker asks first.
SIX_JUDGE = '''\
def examples():
    return ["a", "a", "b", "c", "d", "e"]


def feedback(output, text):
    return (1.0, "right") if output == "yes" else (0.0, f"answered {output!r} to {text!r}, wanted 'yes'")
'''


def dispatch(body: dict) -> str | dict:
    """The program's requests (a system prompt, one example) are answered from the prompt and the example;
    the optimizer's get the next prompt: first one that some examples answer yes to, then one all do."""
    messages = body["messages"]
    if len(messages) == 2 and messages[0]["content"] in ("Say something.", ANSWER_YES, ALWAYS_YES):
        prompt, text = messages[0]["content"], messages[1]["content"]
        return "yes" if prompt == ALWAYS_YES or (prompt == ANSWER_YES and text in "ab") else "maybe " + text
    asked = " ".join(str(m.get("content")) for m in messages)
    return {"reasoning": "ask for yes", "suggestion": {"app.PROMPT": ALWAYS_YES if ANSWER_YES in asked
                                                       else ANSWER_YES}}


def without_timings(value: Any) -> Any:
    """A stored evaluation's JSON without what the clock (``seconds``), the race to the cache between
    workers asking the same at once (``cached``: which of them paid) and the process (``thread``) decide."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in ("seconds", "cached", "thread")}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def as_json(outcome: WorkerOutcome) -> Any:
    """A worker's outcome as its JSON, without what the process decides (the recorded thread ids)."""
    return without_timings(json.loads(outcome_to_json(outcome)))


def optimized(folder: Path, jobs: int) -> tuple[Any, Any, list[tuple[str, str]]]:
    """A run of the OpenAI program with ``jobs`` workers, its model behind the run's recording proxy; the
    run, what the program's calls cost, and the cache's rows."""
    project_at(folder, OPENAI_APP, SIX_JUDGE)
    with ScriptedLLMServer() as server:
        server.script(*[dispatch] * 200)
        model = LLMConfig(model="scripted", base_url=server.base_url, api_key="test")
        with program_model(AppModel(), lambda: model, state_dir(folder) / "autotrace.db") as proxy:
            assert proxy is not None
            ran = run(folder, server, target="app.py", isolated=True, jobs=jobs, steps=3, target_score=1.0,
                      probe=False, measured_step=False, limits=Limits(timeout=120))
            usage = proxy.usage()
    db = state_dir(folder) / "autotrace.db"
    with contextlib.closing(sqlite3.connect(db)) as conn:  # the keys; the replies through the cache itself
        keys = [key for (key,) in conn.execute("SELECT key FROM responses WHERE key LIKE 'app:%' ORDER BY key")]
    cache = ResponseCache(db)
    try:
        return ran, usage, [(key, reply_text(CachedReply.from_json(cache.get(key)))) for key in keys]
    finally:
        cache.close()


def test_a_run_of_a_program_that_calls_its_model_is_the_same_whatever_the_number_of_jobs(tmp_path, monkeypatch):
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "AUTOTRACE_APP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    runs = {}
    for jobs in (1, 2):
        (tmp_path / str(jobs)).mkdir()
        runs[jobs] = optimized(tmp_path / str(jobs), jobs)
    (one, one_usage, one_cache), (two, two_usage, two_cache) = runs[1], runs[2]
    assert one.result.reached_target and [s.evaluation.score for s in one.steps] == [0.0, 0.5, 1.0]

    def stored(ran: Any, jobs: int) -> list[Any]:
        records = [(s.values, s.describe, s.candidate, s.note, s.evaluated, s.prompt, s.response,
                    without_timings(s.evaluation.to_record())) for s in ran.steps]
        return json.loads(json.dumps(records).replace(str(tmp_path / str(jobs)), "PROJECT"))  # the graphs' files

    assert stored(one, 1) == stored(two, 2)
    assert one.diff == two.diff
    graphs = [e.graph for s in two.steps for e in s.evaluation.examples]
    assert all(any(a.get("model_call") for a in graph["nodes"]) for graph in graphs if graph)  # calls recorded
    assert (one_usage.calls, one_usage.cached, one_usage.prompt_tokens, one_usage.completion_tokens) == \
        (two_usage.calls, two_usage.cached, two_usage.prompt_tokens, two_usage.completion_tokens)
    assert one_usage.cached >= 1  # the repeated example's request, at least, came from the cache
    assert one_cache == two_cache


# -- splitting and merging, without a model -----------------------------------------------------------------

PROGRAM = "RATE = 0.5  # autotrace: param\n\ndef main(x):\n    if x == 4:\n        raise ValueError('four')\n" \
          "    return x * RATE\n"
SPLIT_JUDGE = ("def examples():\n    return {'train': [1, 2, 3, 4, 5], 'val': [6, 7]}\n\n"
               "def feedback(output, x):\n    return -abs(output - 2 * x), f'wanted {2 * x}'\n")


@pytest.mark.parametrize("kind, jobs", [("fork", 3), ("spawn", 8)])
def test_shards_merge_into_the_one_workers_outcome(tmp_path, kind, jobs):
    """Seven examples (five to train on, one raising, two held out) over three workers, or eight (one worker
    with no example); the second evaluation, having shown that the examples run fast, in one worker."""
    if kind == "fork" and fork_supported() is not None:
        pytest.skip(str(fork_supported()))
    project = project_at(tmp_path, PROGRAM, SPLIT_JUDGE)
    job = job_for(tmp_path, project)
    with Executor(Limits(timeout=60), kind=kind, jobs=1, say=pytest.fail) as executor:
        alone = executor.run_many([job])[0]
    with Executor(Limits(timeout=60), kind=kind, jobs=jobs, say=pytest.fail) as executor:
        split_up = [executor.run_many([job])[0], executor.run_many([job])[0]]
    assert as_json(split_up[0]) == as_json(alone) and as_json(split_up[1]) == as_json(alone)
    evaluation = evaluation_of(split_up[0])
    assert [e.example for e in evaluation.examples] == ["1", "2", "3", "4", "5"]
    assert [e.example for e in evaluation.holdout] == ["6", "7"]  # each example on its own side, by its index
    assert evaluation.failures == 1 and "ValueError: four" in evaluation.examples[3].message


def test_a_program_that_does_not_import_fails_the_same_split_or_not(tmp_path):
    project = project_at(tmp_path, "import nowhere_to_be_found\nRATE = 0.5  # autotrace: param\n"
                         "def main(x):\n    return x\n", SPLIT_JUDGE)
    job = job_for(tmp_path, project)
    problems = []
    for jobs in (1, 2):
        with Executor(Limits(timeout=60), kind="spawn", jobs=jobs, say=pytest.fail) as executor:
            problems.append(evaluation_of(executor.run_many([job])[0]).problem)
    assert problems[0] == problems[1] and "ModuleNotFoundError" in str(problems[0])


def test_no_split_examples_keeps_an_evaluations_examples_in_one_process(tmp_path):
    project = project_at(tmp_path, "import os\nRATE = 0.5  # autotrace: param\n\ndef main(x):\n"
                         "    return os.getpid()\n", "def examples():\n    return [1, 2, 3, 4]\n\n"
                         "def feedback(output, x):\n    return 0.0\n")
    processes = {}
    for split_examples in (True, False):
        with Executor(Limits(timeout=60), kind="spawn", jobs=2, split=split_examples, say=pytest.fail) as executor:
            evaluation = evaluation_of(executor.run_many([job_for(tmp_path, project)])[0])
        processes[split_examples] = [e.output for e in evaluation.examples]
    assert len(set(processes[True])) == 2 and processes[True][0] == processes[True][2]  # examples 1, 3 | 2, 4
    assert len(set(processes[False])) == 1


PID_JUDGE = "def examples():\n    return [1, 2, 3, 4]\n\ndef feedback(output, x):\n    return 0.0\n"


@pytest.mark.parametrize("pause, splits", [(0.0, [True, False, False]), (0.1, [True, True, True])])
def test_an_evaluation_is_split_again_only_when_its_examples_took_long_enough(tmp_path, pause, splits):
    """The first evaluation is split (nothing is known yet); after it, only examples that ran for
    :data:`PAYS_FROM` seconds or more (four of 0.1 s) are, as a shard's worker would cost more than it saves."""
    project = project_at(tmp_path, f"import os, time\nRATE = 0.5  # autotrace: param\n\ndef main(x):\n"
                         f"    time.sleep({pause})\n    return os.getpid()\n", PID_JUDGE)
    with Executor(Limits(timeout=60), kind="spawn", jobs=2, say=pytest.fail) as executor:
        outcomes = [executor.run_many([job_for(tmp_path, project)])[0] for _ in splits]
    assert all(isinstance(outcome, Examples) for outcome in outcomes)
    processes = [len({e.output for e in evaluation_of(outcome).examples}) for outcome in outcomes]
    assert processes == [2 if split else 1 for split in splits]
    assert (outcomes[0].seconds >= PAYS_FROM) == (pause > 0)  # type: ignore[union-attr]


def test_splitting_pays_until_the_examples_showed_they_run_fast():
    assert pays(None)
    assert not pays(Learnt(examples=4, seconds=PAYS_FROM / 2))
    assert pays(Learnt(examples=4, seconds=PAYS_FROM))


def result(n: int) -> ExampleResult:
    return ExampleResult(score=float(n), example=str(n))


def test_shares_give_the_free_workers_out_and_never_more_than_the_examples():
    assert shares(1, 4, None) == [4]
    assert shares(1, 4, 3) == [3]
    assert shares(3, 4, None) == [2, 1, 1]
    assert shares(2, 2, None) == [1, 1]
    assert shares(5, 2, 10) == [1] * 5
    assert shares(0, 4, None) == []


def test_merged_interleaves_the_shards_and_a_failed_shard_fails_the_whole():
    job = Job("app", "main", None, (), {}, (), {})
    assert [part.shard for part in split(job, 3)] == [(0, 3), (1, 3), (2, 3)]
    assert split(job, 1) == [job]
    shards = [Examples(examples=(result(0), result(3)), attempts=("wrote x",), seconds=0.5),
              Examples(examples=(result(1), result(4)), attempts=("wrote x", "wrote y"), seconds=0.25),
              Examples(examples=(result(2),))]
    whole = merged(shards)
    assert isinstance(whole, Examples) and [e.score for e in whole.examples] == [0, 1, 2, 3, 4]
    assert whole.seconds == 0.75  # the examples' seconds in all workers: what one worker would have taken
    assert whole.attempts == ("wrote x", "wrote y")
    failed = merged([shards[0], Crashed("timed out after 5 s"), SetupFailed("worse")])
    assert failed == Crashed("timed out after 5 s", attempts=("wrote x",))


def test_a_jobs_shard_crosses_its_json_and_a_wrong_one_is_refused():
    job = Job("app", "main", None, (), {}, (), {}, shard=(1, 3))
    assert Job.from_json(job.to_json()) == job
    assert Job.from_json(Job("app", "main", None, (), {}, (), {}).to_json()).shard == (0, 1)
    with pytest.raises(JobError, match=r"job.shard must be \[k, n\]"):
        Job.from_json(job.to_json().replace('"shard": [1, 3]', '"shard": [3, 3]'))
