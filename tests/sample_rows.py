"""A benchmark result row for the row and summary tests to vary."""

from __future__ import annotations

from benchmarks import rows

ROW = rows.Row(commit="abc1234", side="autotrace", arm="default", model="m", seed=1, task="linear", steps=5,
               solved=True, visible_score=1.0, hidden_score=None, llm_driven=False, program_runs=4,
               optimizer_tokens=0, program_tokens=None, seconds=10.5, load=1.2, command="python -m benchmarks",
               date="2026-12-07 12:00")
