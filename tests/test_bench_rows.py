"""Benchmark results as data: the typed row codec (benchmarks/rows.py) and the rows made from a run."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sample_rows import ROW  # noqa: E402

from benchmarks import rows  # noqa: E402


def test_a_row_survives_the_round_trip_and_keeps_its_field_order():
    line = rows.encode(ROW)
    assert rows.decode(line) == ROW and list(json.loads(line)) == list(asdict(ROW))
    whole = rows.decode(line.replace('"seconds": 10.5', '"seconds": 10'))
    assert whole.seconds == 10.0 and isinstance(whole.seconds, float)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("seed"), "missing field"),
    (lambda d: d.update(extra=1), "unknown field"),
    (lambda d: d.update(solved="yes"), "solved='yes'"),
    (lambda d: d.update(seed=True), "seed=True"),
    (lambda d: d.update(visible_score="0.5"), "visible_score"),
    (lambda d: d.update(solved=False), "llm_driven is for solved runs"),
])
def test_a_wrong_line_is_refused_naming_the_field(change, message):
    data = asdict(ROW)
    change(data)
    with pytest.raises(rows.RowError, match=message):
        rows.decode(json.dumps(data), "f.jsonl:3")


def test_the_note_may_be_left_out_and_bad_json_is_refused():
    data = asdict(ROW)
    del data["note"]
    assert rows.decode(json.dumps(data)).note == ""
    with pytest.raises(rows.RowError, match="f.jsonl:1: not JSON"):
        rows.decode("{", "f.jsonl:1")


def test_append_adds_lines_and_load_reads_them_back(tmp_path):
    path = tmp_path / "results" / "q.jsonl"
    rows.append([ROW], path)
    rows.append([replace(ROW, seed=2)], path)
    assert [r.seed for r in rows.load(path)] == [1, 2] and rows.load(tmp_path / "none.jsonl") == []
    assert [p.name for p in path.parent.iterdir()] == ["q.jsonl"]  # no temporary file left beside it


def test_the_committed_results_load():
    loaded = rows.load()
    assert loaded and all(r.llm_driven is None for r in loaded if not r.solved)


def harness_result(**extra):
    steps = [{"step": 0, "score": 0.2, "prompt_tokens": 0, "completion_tokens": 0, "asked": False},
             {"step": 1, "score": 0.5, "prompt_tokens": 900, "completion_tokens": 80, "asked": True},
             {"step": 2, "score": 1.0, "prompt_tokens": 0, "completion_tokens": 0, "asked": False}]
    return {"side": "autotrace", "task": "median", "seed": 2, "steps_budget": 5, "solved": True, "solved_step": 2,
            "best_score": 1.0, "prompt_tokens": 900, "completion_tokens": 80, "evaluations": 31, "wall_seconds": 40.0,
            "steps": steps, "hidden": {"passed": 8, "total": 9}, "candidates": 1, "resample": 2, "holdout": 0.0,
            **extra}


def test_a_harness_result_becomes_a_row():
    row = rows.from_harness(harness_result(), commit="c", model="m", load=2.0, command="cmd", date="d")
    assert (row.solved, row.llm_driven, row.optimizer_tokens, row.program_runs, row.hidden_score, row.arm) == (
        True, False, 980, 31, 8 / 9, "default")
    asked = harness_result(solved_step=1)
    assert rows.from_harness(asked, commit="c", model="m", load=None, command="", date="").llm_driven is True
    wider = rows.from_harness(harness_result(candidates=2, resample=0), commit="c", model="m", load=None,
                              command="", date="")
    assert wider.arm == "n2-r0"


def test_a_trace_opt_result_counts_its_program_runs_by_its_steps():
    result = harness_result(side="trace-opt", evaluations=None, hidden=None)
    for step in result["steps"]:
        del step["asked"]
    result["steps"][2]["prompt_tokens"] = 700
    row = rows.from_harness(result, commit="c", model="m", load=None, command="", date="")
    assert (row.program_runs, row.llm_driven, row.hidden_score, row.arm) == (3, True, None, "default")


def test_an_unsolved_run_is_neither_model_nor_search_driven():
    row = rows.from_harness(harness_result(solved=False, solved_step=None), commit="c", model="m", load=None,
                            command="", date="")
    assert row.llm_driven is None and rows.decode(rows.encode(row)) == row
