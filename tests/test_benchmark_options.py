"""``python -m benchmarks --candidates N``: the option reaches autotrace's Settings through the real
harness (``harness.run_task`` -> ``benchmarks.autotrace_side`` in a process of its own -> the loop),
and the scripted LLM server over HTTP sees a step's N answers asked for."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from autotrace.llm.client import derived_seed
from tests.llmserver import ScriptedLLMServer

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import __main__ as bench  # noqa: E402
from benchmarks import harness, tasks  # noqa: E402

NO_CHANGE = "The function looks right to me; I would leave it as it is."


@pytest.mark.parametrize("options, label, sampled_seed", [
    ({"candidates": 2}, "n2", derived_seed(3, 1, 1)),  # step 1's two answers, asked at once
    ({"resample": 1}, "r1", derived_seed(3, 1, "again", 1)),  # step 1's answer changed nothing: asked again
])
@pytest.mark.bench
def test_answer_options_reach_autotrace_and_are_recorded_with_the_run(tmp_path, options, label, sampled_seed):
    task = tasks.get("title_case")
    with ScriptedLLMServer() as server:
        server.script(NO_CHANGE, NO_CHANGE)
        result = harness.run_task(task, "autotrace", 3, 1, {"base_url": server.base_url, "model": "m"}, tmp_path,
                                  None, 300.0, 256, **options)
        asked = [(r.json["temperature"], r.json.get("seed")) for r in server.chat_requests]
    assert result.get("error") is None, result
    assert (result["candidates"], result["resample"], result["holdout"]) == (
        options.get("candidates", 1), options.get("resample", 0), 0.0)
    assert result["run_dir"].endswith(f"title_case-seed3-autotrace-{label}") and result["llm_calls"] == 2
    # one answer at the run's temperature and seed, one sampled with a seed derived from the run's
    assert sorted(asked) == [(0.0, 3), (0.8, sampled_seed)]


def test_the_options_are_checked_and_recorded():
    args = bench.parse_args(["--candidates", "4", "--holdout", "0.25", "--sections", "quality"])
    assert (args.candidates, args.holdout) == (4, 0.25)
    assert bench.parse_args([]).candidates == 1
    assert bench.parse_args(["--resample", "0"]).resample == 0
    for bad in (["--candidates", "0"], ["--holdout", "1"], ["--resample", "-1"]):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)


def test_the_plot_counts_a_run_solved_when_its_solving_step_ended():
    from benchmarks.plot_solved import curves, solve_seconds

    steps = [{"step": 0, "seconds": 1.0}, {"step": 1, "seconds": 30.0}, {"step": 2, "seconds": 50.0}]
    solved = {"side": "autotrace", "solved": True, "solved_step": 1, "steps": steps, "resample": 2}
    unsolved = {"side": "autotrace", "solved": False, "solved_step": None, "steps": steps, "resample": 2}
    trace = {"side": "trace-opt", "solved": True, "solved_step": 2, "steps": steps}
    assert solve_seconds(solved) == 31.0 and solve_seconds(unsolved) is None
    assert curves([solved, unsolved, trace]) == {"autotrace resample 2": (2, [31.0]), "trace-opt": (1, [81.0])}
