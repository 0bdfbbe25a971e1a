"""BENCHMARKS.md is generated from the committed results (benchmarks/summary.py) and stays so."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sample_rows import ROW  # noqa: E402

from benchmarks import rows, summary, tasks  # noqa: E402


def test_the_committed_benchmarks_md_is_the_generated_one():
    generated = summary.render(rows.load(), tasks.ALL)
    assert (ROOT / "BENCHMARKS.md").read_text() == generated, \
        f"BENCHMARKS.md is stale: run `{summary.COMMAND}` and commit it"
    assert len(generated.splitlines()) <= 200


def test_only_the_latest_commit_of_each_task_side_arm_and_model_is_current():
    old = [replace(ROW, commit="old", date="2026-12-01 10:00", seed=s) for s in (0, 1, 2)]
    new = [replace(ROW, commit="new", date="2026-12-02 10:00", seed=s) for s in (0, 1)]
    other_arm = replace(ROW, arm="n2", commit="old", date="2026-12-01 10:00")
    kept = summary.current([*old, *new, other_arm])
    assert sorted((r.arm, r.commit, r.seed) for r in kept) == [("default", "new", 0), ("default", "new", 1),
                                                                ("n2", "old", 1)]


def test_model_solves_search_solves_and_fresh_tasks_are_reported_apart():
    search = [replace(ROW, seed=s, command=f"python -m benchmarks --tasks linear --seeds 1 --first-seed {s} --x")
              for s in (0, 1)]
    model = replace(ROW, task="median", llm_driven=True, hidden_score=1.0, optimizer_tokens=1200)
    unsolved = replace(ROW, task="median", seed=2, solved=False, llm_driven=None, hidden_score=0.5)
    fresh = replace(ROW, task="cart", solved=False, llm_driven=None, note="stopped early")
    text = summary.render([*search, model, unsolved, fresh], tasks.ALL)
    tuned, fresh_part = text.split("## Task runs: tasks tuned on")[1].split("## Task runs: fresh held-out tasks")
    assert "| autotrace · default | m | 2 | 3/4 (1 by the model, 2 by the search alone) | 1,200 | — | abc1234 |" in tuned
    assert "| linear | numeric | autotrace · default | m | 0–1 | 2/2 (0 by the model, 2 by the search alone) |" in tuned
    assert "`python -m benchmarks --tasks linear --seeds 2 --first-seed 0 --x`" in tuned
    assert "| median | code | autotrace · default | m | 1–2 | 1/2 (1 by the model, 0 by the search alone) | 1.00 | 0.75 |" \
        in tuned
    assert "| cart |" not in tuned and "| cart | code |" in fresh_part and "cart (autotrace, seed 1): stopped early" in fresh_part


def test_without_rows_each_part_says_so():
    text = summary.render([], tasks.ALL)
    assert "No runs recorded." in text and "No runs recorded on the fresh tasks." in text


def test_a_fresh_prompt_tasks_gepa_row_is_reported_with_the_fresh_tasks_and_its_program_tokens():
    gepa = replace(ROW, task="topic_code", side="gepa", arm="calls12", solved=False, llm_driven=None,
                   optimizer_tokens=900, program_tokens=450, program_runs=12)
    text = summary.render([ROW, gepa], tasks.ALL)
    tuned, fresh_part = text.split("## Task runs: tasks tuned on")[1].split("## Task runs: fresh held-out tasks")
    assert "| topic_code |" not in tuned and "| linear |" in tuned
    assert "| gepa · calls12 | m | 1 | 0/1 (0 by the model, 0 by the search alone) | 900 | 450 | abc1234 |" in fresh_part
    assert "| topic_code | prompt | gepa · calls12 | m | 1 | 0/1 " in fresh_part and "| 900 | 450 | 12 |" in fresh_part
