"""Smoke test of the benchmark harness (benchmarks/): no LLM, no trace-opt, a few seconds."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autotrace.project import Project  # noqa: E402
from benchmarks import report, tasks  # noqa: E402

_HELPERS = ("program", "judge", "scoring", "checks", "bigbench")


#: The harness tasks kept in benchmarks/tasks (tasks registered from examples/ run their own checks).
OWN = [t for t in tasks.TASKS if t.root == tasks.HERE]


@pytest.mark.parametrize("task", OWN, ids=lambda t: t.name)
def test_task_lays_out_one_form_per_side_and_starts_unsolved(task, tmp_path, monkeypatch):
    assert not (task.folder / "program_trace.py").exists(), "trace-opt's form is generated, never kept"
    program = task.lay_out("autotrace", tmp_path)
    assert (tmp_path / "pyproject.toml").is_file() and not (tmp_path / "program_trace.py").exists()
    assert Project.load(program).params, "the autotrace form must mark at least one parameter"
    if task.llm_in_program:  # its program asks the model; only the judge is loaded here
        monkeypatch.syspath_prepend(str(tmp_path))
        for name in _HELPERS:
            monkeypatch.delitem(sys.modules, name, raising=False)
        assert callable(importlib.import_module("judge").feedback)
        return
    monkeypatch.setenv("BENCH_SEED", "1")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in _HELPERS:
        monkeypatch.delitem(sys.modules, name, raising=False)
    output = importlib.import_module("program").main()
    score, message = importlib.import_module("judge").feedback(output)
    assert 0.0 <= score < task.target and message


@pytest.mark.parametrize("task", [t for t in tasks.TASKS if "trace" in t.sides], ids=lambda t: t.name)
def test_trace_form_mirrors_the_autotrace_form(task, tmp_path):
    """The generated trace-opt form has the same functions (plus parameters()) and trains every marked name."""
    import ast

    def functions(path):
        return {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}

    trace = task.lay_out("trace", tmp_path)
    assert trace.name == "program_trace.py" and not (tmp_path / "program.py").exists()
    assert functions(trace) - {"parameters"} == functions(task.folder / "program.py")
    marked = {p.qualname for p in Project.load(task.lay_out("autotrace", tmp_path / "a")).params}
    returned = ast.parse(trace.read_text()).body[-1].body[0].value.elts
    assert {ast.unparse(e).removesuffix(".parameter") for e in returned} == marked


def test_report_renders_from_results():
    run = {"task": "linear", "seed": 0, "side": "autotrace", "solved": True, "solved_step": 2, "best_score": 1.0,
           "prompt_tokens": 1200, "completion_tokens": 80, "wall_seconds": 12.0,
           "steps": [{"step": 0, "score": 0.25}, {"step": 1, "score": 0.5, "note": "changed X"},
                     {"step": 2, "score": 1.0, "note": "changed X"}]}
    trace_run = {**run, "side": "trace-opt", "solved": False, "solved_step": None, "best_score": 0.25,
                 "steps": [{"step": 0, "score": 0.25}, {"step": 1, "score": 0.25, "note": "no change proposed"}]}
    stuck = {**run, "solved": False, "solved_step": None, "best_score": 0.25,
             "steps": [{"step": 0, "score": 0.25}] + [{"step": i, "score": 0.25, "note": "no change proposed"}
                                                       for i in (1, 2)],
             "stopped": "stopped before step 3: the last 2 answers changed nothing and the best score stood still"}
    results = {
        "command": "python -m benchmarks --quick", "stamp": "20260101-000000", "quick": True, "seconds": 60.0,
        "machine": report.machine_info(), "versions": {"autotrace": "0.1.0"}, "load_before": (1.0, 1.0, 1.0),
        "load_after": (1.0, 1.0, 1.0), "server": {"model": "m", "base_url": "http://127.0.0.1:1/v1"},
        "tasks": {"linear": {"kind": "numeric", "steps": 3, "target": 0.99}}, "quality": [run, trace_run],
        "overhead": {"n": 1000, "rounds": 1, "median_us": {"plain": 0.1, "off": 0.3, "on": 1.5, "build_graph": 9.0,
                                                           "plain_work": 3.0, "off_work": 3.1, "on_work": 4.0,
                                                           "trace_plain": 0.1, "trace_bundle": 40.0,
                                                           "trace_plain_work": 3.0, "trace_bundle_work": 45.0,
                                                           "trace_stop_tracing": 38.0}},
        "prompt": [{"n": 100, "autotrace": {"tokens": 900, "chars": 3000, "prompt_seconds": 0.01},
                    "trace": {"error": "not measured in this run"}}],
        "import": {"autotrace": [{"module": "m", "lines": 10, "median_ms": {"plain": 1.0, "first": 90.0, "cached": 1.1,
                                                                             "hook": 5.0, "discover": 20.0}}]},
    }
    text = report.render(results)
    for heading in ("## 1. Quality", "## 2. Recording overhead", "## 3. Prompt size", "## 4. Import time"):
        assert heading in text
    assert "| linear (numeric) | 3 | 0.99 | 1/1 |" in text
    assert report._note(stuck) == "2 step(s) proposed no change; then stopped: the last 2 answers changed nothing"
    assert "measured 1.40 µs on the hot path (met" in text  # computed from the figures: 1.5 - 0.1
    assert "and 0.50x per solved run" not in text  # trace-opt solved none: no ratio per solved run
    assert "autotrace used 1.00x trace-opt's tokens (prompt + completion) in all." in text

    later = {key: results[key] for key in ("machine", "versions", "server", "tasks", "quality")}
    later.update(command="python -m benchmarks --sections quality", stamp="20260102-000000", seconds=600.0,
                 load_before=(2.0, 2.0, 2.0), load_after=(1.5, 1.5, 1.5))
    later["quality"] = [{**trace_run, "seed": 1, "solved": True, "solved_step": 1},  # a seed added
                        {**run, "solved_step": 1}]  # the same run measured again: it replaces the first
    merged = report.render(report.merge([results, later]))
    assert ("Command: `python -m benchmarks --quick, run 20260101-000000 UTC`; "
            "`python -m benchmarks --sections quality, run 20260102-000000 UTC`. Each task") in merged
    assert "seeds (0, 1)" in merged
    assert "| linear (numeric) | 3 | 0.99 | 1/1 | 1 | 1.000 | 1,200 + 80 |" in merged  # autotrace: the later run only
    assert "| 1/2 | 1 | 0.250 | 2,400 + 160 |" in merged  # trace-opt: seed 0 from the first run, seed 1 from the later one
    # both solved 1 run; autotrace spent 1,280 tokens, trace-opt 2,560 over its two runs
    assert "| autotrace | 1/1 | 1/1 | 1,200 | 80 | 0 | 1,280 |" in merged
    assert "autotrace used 0.50x trace-opt's tokens (prompt + completion) in all, and 0.50x per solved run." in merged
    assert re.search(r"\| linear \| 1 \| trace-opt \| 1 \| 1 \|.*\| 20260102-000000 \|", merged)  # N 1, step 1
    assert re.search(r"\| linear \| 0 \| trace-opt \| 1 \| — \|.*\| 20260101-000000 \|", merged)
    assert "Command: `python -m benchmarks --quick, run 20260101-000000 UTC` (section `overhead`" in merged
    assert "`.bench/results/20260101-000000/results.json`, `.bench/results/20260102-000000/results.json`" in merged


def test_runs_at_several_n_are_pooled_apart_and_compared_side_by_side():
    """``--candidates N`` runs merged with ``--render``: each N an arm of its own in every table."""
    def run(seed, candidates, solved, tokens, side="autotrace"):
        return {"task": "linear", "seed": seed, "side": side, "candidates": candidates, "holdout": 0.0,
                "solved": solved, "solved_step": 1 if solved else None, "best_score": 1.0 if solved else 0.5,
                "prompt_tokens": tokens, "completion_tokens": 0, "wall_seconds": 10.0 * candidates,
                "steps": [{"step": 0, "score": 0.5}, {"step": 1, "score": 1.0 if solved else 0.5, "note": "changed X"}]}

    def results(stamp, quality):
        return {"command": f"python -m benchmarks --candidates {quality[0]['candidates']}", "stamp": stamp,
                "machine": {}, "versions": {}, "server": {}, "tasks": {"linear": {"kind": "code", "steps": 2, "target": 1}},
                "quality": quality}

    one = results("20260101-000000", [run(0, 1, False, 100), run(1, 1, True, 100), run(0, 1, False, 50, "trace-opt")])
    four = results("20260102-000000", [run(0, 4, True, 400), run(1, 4, True, 400)])
    text = report.render(report.merge([one, four]))
    assert "| task | steps | target | autotrace solved |" in text and "| autotrace N=4 solved |" in text
    assert "| linear (code) | 2 | 1 | 1/2 | 1 | 0.750 | 200 + 0 | 10 s | 2/2 | 1.0 | 1.000 | 800 + 0 | 40 s | 0/1 |" in text
    assert "| autotrace | 1/2 |" in text and "| autotrace N=4 | 2/2 |" in text and "| trace-opt | 0/1 |" in text
    assert "autotrace N=4 used 16.00x trace-opt's tokens" in text
    assert re.search(r"\| linear \| 1 \| autotrace \| 1 \| 1 \|", text)
    assert re.search(r"\| linear \| 1 \| autotrace \| 4 \| 1 \|", text)  # N=4 kept beside N=1, not over it


def test_overhead_measures_autotrace_without_trace_opt():
    from benchmarks import overhead

    result = overhead.measure(None, n=2000, rounds=1)
    med = result["median_us"]
    assert med["plain"] > 0 and med["off"] > 0 and med["on"] > 0 and med["build_graph"] > 0
    assert med["trace_bundle"] is None


def test_quality_runs_the_chosen_sides_and_alternates_which_goes_first(monkeypatch, tmp_path):
    from benchmarks import harness

    ran = []
    monkeypatch.setattr(harness, "run_task", lambda task, side, seed, *rest, candidates, holdout, resample, metric_calls: ran.append((seed, side))
                        or {"candidates": candidates})
    task = tasks.get("linear")
    harness.run_quality([task], range(2), None, {}, tmp_path, None, 1.0, 16, say=lambda text: None)
    assert ran == [(0, "autotrace"), (0, "trace"), (1, "trace"), (1, "autotrace")]
    ran.clear()
    done = harness.run_quality([task], range(2), None, {}, tmp_path, None, 1.0, 16, say=lambda text: None,
                               sides=("autotrace",), candidates=4)
    assert ran == [(0, "autotrace"), (1, "autotrace")] and [r["candidates"] for r in done] == [4, 4]


def test_the_unchanged_stop_replay_counts_calls_after_two_idle_answers_and_solves_lost():
    from experiments.unchanged_stop import replay

    def step(score, note, tokens=100):
        return {"score": score, "note": note, "asked": True, "prompt_tokens": tokens, "completion_tokens": 10}

    stuck = {"solved": False, "steps": [{"score": 0.5, "note": "initial values", "asked": False},
                                        step(0.5, "no change proposed"), step(0.5, "no change proposed"),
                                        step(0.5, "changed X"), step(0.4, "changed X")]}
    assert replay(stuck, 2) == (2, 220, False)
    # a probe that beat the best resets the count; a late solve after two idle answers is a loss
    moving = {"solved": False, "steps": [{"score": 0.5, "note": "initial values", "asked": False},
                                         step(0.6, "no change proposed; probe X = 1.1 is the best so far"),
                                         step(0.6, "no change proposed"), step(0.6, "changed X")]}
    assert replay(moving, 2) == (0, 0, False)
    late = {**stuck, "solved": True, "solved_step": 4}
    assert replay(late, 2) == (2, 220, True)
