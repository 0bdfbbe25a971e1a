"""GEPA's side of the harness's prompt tasks (benchmarks/gepa_side.py run by benchmarks/harness.py), end to end
against the scripted server: ``python -m benchmarks run sports_prompt --sides gepa`` lays the task out, runs the
real ``gepa`` package in a process of its own on the task's unmodified ``OpenAI()`` program (its whole run on
its 8 sentences is one metric call, scored by the task's judge), counts the program's calls through the
harness's recording proxy and appends a typed row. The scripted model labels a sentence right only when its
system prompt names both labels."""

from __future__ import annotations

import re
import runpy
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sample_rows import ROW  # noqa: E402

from benchmarks import __main__ as bench_main  # noqa: E402
from benchmarks import gepa_side, rows, tasks  # noqa: E402

pytest.importorskip("gepa")

SPORTS = tasks.get("sports_prompt")
GOOD_PROMPT = "Judge whether the sports sentence is plausible or implausible. Answer with that one word."


def labels(tmp_path: Path) -> dict[str, str]:
    """The task's 8 sentences and their labels, read as its program reads them (from a laid-out copy)."""
    folder = tmp_path / "labels"
    SPORTS.lay_out("gepa", folder)
    return dict(runpy.run_path(str(folder / "bigbench.py"))["labelled_items"]("sports_understanding"))


def scripted(right: dict[str, str], reflections: list[str]):
    """The program's calls (a system message): the label when the prompt names both labels, else "maybe";
    GEPA's reflection (one user message): the next of ``reflections`` in a fenced block (each recorded)."""
    asked: list[str] = []

    def answer(body: dict[str, Any]) -> str:
        messages = body["messages"]
        if messages[0]["role"] == "system":
            prompt = messages[0]["content"]
            named = "plausible" in prompt and "implausible" in prompt
            return right[messages[-1]["content"]] if named else "maybe"
        asked.append(messages[0]["content"])
        return f"```\n{reflections[min(len(asked), len(reflections)) - 1]}\n```"

    return answer, asked


def program_requests(llm_server) -> list[Any]:
    return [r for r in llm_server.chat_requests if r.json["messages"][0]["role"] == "system"]


def test_the_harness_tasks_have_a_gepa_side_with_the_whole_run_as_its_one_item():
    for name in ("sports_prompt", "implicature_prompt"):
        task = tasks.get(name)
        assert "gepa" in task.sides and gepa_side.marked_prompt(task) == "PROMPT"
        assert not gepa_side.per_example(task) and gepa_side.examples(task) == [None]
        assert gepa_side.default_budget(task) == task.steps + 1 and gepa_side.default_budget(task, 2) == 3
    assert gepa_side.per_example(tasks.get("topic_code"))


@pytest.mark.bench
def test_gepa_solves_sports_prompt_through_the_harness_and_writes_its_row(llm_server, tmp_path, capsys):
    right = labels(tmp_path)
    answer, asked = scripted(right, [GOOD_PROMPT])
    llm_server.script(*[answer] * 100)
    out = tmp_path / "rows.jsonl"
    code = bench_main.main(["run", "sports_prompt", "--sides", "gepa", "--seeds", "1", "--metric-calls", "5",
                            "--base-url", llm_server.base_url, "--model", llm_server.model, "--record", str(out),
                            "--report", str(tmp_path / "report.md")])
    assert code == 0
    (row,) = rows.load(out)
    assert (row.task, row.side, row.arm, row.seed, row.model) == ("sports_prompt", "gepa", "calls5", 0, llm_server.model)
    # the seed prompt scores 0 (every answer "maybe"); the iteration runs it again (GEPA wants its trace) and
    # the reflection's prompt, which scores 1 (its validation is the same run, kept): the target stops GEPA
    assert row.solved and row.llm_driven is True and row.visible_score == 1.0 and row.hidden_score is None
    assert row.program_runs == 3 and len(asked) == 1
    requests = program_requests(llm_server)
    assert len(requests) == 8 * row.program_runs  # every program call reached the server, through the proxy
    assert {r.json["model"] for r in requests} == {llm_server.model}  # asked for gpt-4o-mini, given the served one
    assert row.program_tokens and row.program_tokens >= len(requests) and row.optimizer_tokens
    assert "Wrong:" in asked[0] and "answered 'maybe'" in asked[0]  # GEPA's feedback is the judge's message
    assert "--sides gepa --steps 4 --metric-calls 5 --base-url URL" in row.command
    assert "sports_prompt seed 0 gepa (4 steps, 5 metric calls)" in capsys.readouterr().out


@pytest.mark.bench
def test_gepa_takes_the_autotrace_runs_budget_and_spends_no_more(llm_server, tmp_path):
    """No --metric-calls: the budget is the program runs of the autotrace row of the same task, seed and model
    in the record file (4). Every reflection proposes a new prompt that does not help; an iteration costs two
    runs (the parent's again and the proposal's), so after the seed prompt's run and one iteration (3) a second
    would pass the budget and GEPA stops."""
    right = labels(tmp_path)
    answer, asked = scripted(right, [f"Attempt {i}: say something about the sentence." for i in range(1, 20)])
    llm_server.script(*[answer] * 200)
    out = tmp_path / "rows.jsonl"
    autotrace = replace(ROW, task="sports_prompt", seed=0, model=llm_server.model, program_runs=4, steps=2)
    rows.append([autotrace, replace(autotrace, model="other", program_runs=9)], out)
    code = bench_main.main(["run", "sports_prompt", "--sides", "gepa", "--seeds", "1", "--steps", "2",
                            "--base-url", llm_server.base_url, "--model", llm_server.model, "--record", str(out),
                            "--report", str(tmp_path / "report.md")])
    assert code == 0
    row = rows.load(out)[-1]
    assert (row.side, row.arm, row.solved, row.llm_driven) == ("gepa", "calls4", False, None)
    assert row.program_runs == 3 and len(program_requests(llm_server)) == 8 * 3
    assert len(asked) == 1 and row.visible_score == 0.0
    assert re.search(r"--sides gepa --steps 2 --metric-calls 4 ", row.command)


def test_gepa_goes_last_with_the_program_runs_of_this_invocations_autotrace_run(monkeypatch, tmp_path):
    from benchmarks import harness

    ran = []

    def run_task(task, side, seed, *rest, metric_calls, **settings):
        ran.append((seed, side, metric_calls))
        return {"task": task.name, "seed": seed, "side": side, "evaluations": 5 + seed if side == "autotrace" else 2}

    monkeypatch.setattr(harness, "run_task", run_task)
    earlier = [replace(ROW, task="sports_prompt", seed=1, model="m", program_runs=9)]
    harness.run_quality([SPORTS], range(2), None, {"model": "m"}, tmp_path, None, 1.0, 16, say=lambda text: None,
                        sides=("autotrace", "trace", "gepa"), earlier=earlier)
    assert ran == [(0, "autotrace", None), (0, "trace", None), (0, "gepa", 5),
                   (1, "trace", None), (1, "autotrace", None), (1, "gepa", 6)]
    ran.clear()
    harness.run_quality([SPORTS], range(2), None, {"model": "m"}, tmp_path, None, 1.0, 16, say=lambda text: None,
                        sides=("gepa",), earlier=earlier)
    assert ran == [(0, "gepa", None), (1, "gepa", 9)]  # none to take: run_task's default, (steps + 1) runs
    ran.clear()
    harness.run_quality([SPORTS], range(1), None, {"model": "m"}, tmp_path, None, 1.0, 16, say=lambda text: None,
                        sides=("autotrace", "gepa"), metric_calls=7)
    assert ran == [(0, "autotrace", None), (0, "gepa", 7)]
