"""The program's sampled model calls (temperature > 0) in the recording proxy's cache: keyed with the example
(the draw's seed and its index) and the request's sample index within that example's evaluation, so that
another draw of an example (``--repeats``) samples anew, another candidate asking the same on the same draw
meets the same sample, and a second identical run replays every reply, whatever ``--jobs`` and however the
evaluation was split. Temperature 0 keeps one reply per request. The program is the real ``openai`` client
in the evaluation's worker process; its model the scripted server, on real sockets."""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import OPENAI_APP, project_at
from llmserver import ScriptedLLMServer
from test_app_model import autotrace, clean_env

from autotrace.llm.client import LLMConfig
from autotrace.project import Project
from autotrace.runners.app_model import AppModel, program_model
from autotrace.runners.executor import Executor
from autotrace.runners.optimize import draw_seed
from autotrace.runners.program_runs import evaluation_of, make_job
from autotrace.runners.sandbox import Limits
from autotrace.store import state_dir

#: Each example asks the same sampled question twice: the two are two samples.
SAMPLED_APP = OPENAI_APP.replace("temperature=0,", "temperature=0.8,").replace(
    "    return reply.choices[0].message.content", '''\
    again = client.chat.completions.create(
        model="gpt-4o-mini", temperature=0.8,
        messages=[{"role": "system", "content": PROMPT}, {"role": "user", "content": text}])
    return reply.choices[0].message.content + " " + again.choices[0].message.content''')
#: The same program asking at temperature 0.
GREEDY_APP = SAMPLED_APP.replace("temperature=0.8,", "temperature=0,")
#: Two examples alike: the same request made for two examples.
JUDGE = '''\
def examples():
    return ["a", "a", "b", "c"]


def feedback(output, text):
    first, second = output.split()
    return int(first) / 1000 + int(second) / 1e6, "sampled"
'''


class Numbered:
    """Scripted replies that number the requests the server answers: "0", "1", ... (in whatever order
    they come), so that every reply the model gave is told apart from every other."""

    def __init__(self) -> None:
        self.count = itertools.count()
        self.lock = threading.Lock()

    def __call__(self, body: dict) -> str:
        with self.lock:
            return str(next(self.count))


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedLLMServer]:
    """The run's model, with no variable of the user's: the program reaches it through the proxy."""
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "AUTOTRACE_APP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with ScriptedLLMServer() as running:
        running.script(*[Numbered()] * 400)  # one numbering for all
        yield running


def outputs(folder: Path, project: Project, server: ScriptedLLMServer, draws: list[int], *, jobs: int,
            kind: str = "fork") -> list[list[str]]:
    """Each draw's outputs of the original values, in one run (one proxy) over the project's store."""
    model = LLMConfig(model="scripted", base_url=server.base_url, api_key="test")
    jobs_run = [make_job(project, folder / "app.py", "main", folder / "judge.py", {}, seed=draw_seed(0, d))
                for d in draws]
    with program_model(AppModel(), lambda: model, state_dir(folder) / "autotrace.db"), \
            Executor(Limits(timeout=120), kind=kind, jobs=jobs, say=pytest.fail) as executor:
        found = []
        for job in jobs_run:  # one at a time, as the initial values' draws run: a single job is split
            evaluation = evaluation_of(executor.run_many([job])[0])
            assert not evaluation.problem, evaluation.message()
            found.append([e.output for e in evaluation.examples])
    return found


def test_sampled_calls_sample_per_example_and_draw_and_replay_in_the_next_run(tmp_path: Path,
                                                                             server: ScriptedLLMServer) -> None:
    project = project_at(tmp_path, SAMPLED_APP, JUDGE)
    first = outputs(tmp_path, project, server, [0, 1, 0], jobs=1)
    asked = len(server.chat_requests)

    draw0, draw1, draw0_again = first
    replies = [reply for output in draw0 + draw1 for reply in output.strip("'").split()]
    assert len(set(replies)) == len(replies) == 16  # two samples an example, for each example and draw
    assert asked == 16
    assert draw0_again == draw0  # the same draw again (another candidate asking the same): the same samples

    second = outputs(tmp_path, project, server, [0, 1, 0], jobs=1)
    assert second == first and len(server.chat_requests) == asked  # a re-run replays, asking nothing


@pytest.mark.parametrize("kind", ["fork", "spawn"])
def test_a_run_split_over_two_jobs_replays_the_one_jobs_samples(tmp_path: Path, server: ScriptedLLMServer,
                                                                 kind: str) -> None:
    """The keys do not depend on which worker asked first: a store filled with ``--jobs 1`` answers every
    request of the same run split over two workers, and the reverse."""
    for order in ((1, 2), (2, 1)):
        folder = tmp_path / f"{order[0]}-{order[1]}"
        folder.mkdir()
        project = project_at(folder, SAMPLED_APP, JUDGE)
        before = len(server.chat_requests)
        filled = outputs(folder, project, server, [0, 1], jobs=order[0], kind=kind)
        asked = len(server.chat_requests)
        replayed = outputs(folder, project, server, [0, 1], jobs=order[1], kind=kind)
        assert asked - before == 16
        assert replayed == filled and len(server.chat_requests) == asked, order


def test_at_temperature_0_one_request_is_one_reply(tmp_path: Path, server: ScriptedLLMServer) -> None:
    """Asked twice in an example, for two examples alike, on two draws: the model is asked once."""
    project = project_at(tmp_path, GREEDY_APP, JUDGE)
    draw0, draw1 = outputs(tmp_path, project, server, [0, 1], jobs=1)

    assert draw0 == draw1 == ["'0 0'", "'0 0'", "'1 1'", "'2 2'"]
    assert len(server.chat_requests) == 3


def test_repeats_sample_anew_and_a_second_run_replays_them_with_two_jobs(tmp_path: Path,
                                                                         server: ScriptedLLMServer) -> None:
    """``autotrace optimize --repeats 2`` twice: the second draw of each example got other replies than
    the first; the second run, with ``--jobs 2``, asks the model nothing and scores every draw alike."""
    project_at(tmp_path, SAMPLED_APP, JUDGE)

    def draws(jobs: str) -> list[list[float]]:
        """Each example's scores, a draw's replies told apart by them (the judge reads the numbers)."""
        result = autotrace(tmp_path, "optimize", "app.py", "--feedback", "judge.py", "--steps", "0", "--repeats", "2",
                           "--jobs", jobs, "--no-probe", "--base-url", server.base_url, "--model", "scripted",
                           env=clean_env())
        assert result.returncode == 0, result.stderr
        run_id = re.search(r"run: (\S+)", result.stderr)
        assert run_id, result.stderr
        shown = json.loads(autotrace(tmp_path, "show", run_id.group(1), "--json", env=clean_env()).stdout)
        return [[e["score"], *(score for score, _ in e["more"])] for e in shown["steps"][0]["examples"]]

    first = draws("1")
    asked = len(server.chat_requests)
    second = draws("2")

    assert asked == 16 and len(server.chat_requests) == asked
    scores = [score for example in first for score in example]
    assert len(scores) == len(set(scores)) == 8  # each example, each draw: samples of its own
    assert second == first
