"""``python -m benchmarks --candidates N``: the option reaches autotrace's Settings through the real
harness (``harness.run_task`` -> ``benchmarks.autotrace_side`` in a process of its own -> the loop),
and the scripted LLM server over HTTP sees a step's N answers asked for."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.llmserver import ScriptedLLMServer

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import __main__ as bench, harness, tasks  # noqa: E402

NO_CHANGE = "The function looks right to me; I would leave it as it is."


def test_candidates_reach_autotrace_and_are_recorded_with_the_run(tmp_path):
    task = tasks.get("title_case")
    with ScriptedLLMServer() as server:
        server.script(NO_CHANGE, NO_CHANGE)
        result = harness.run_task(task, "autotrace", 3, 1, {"base_url": server.base_url, "model": "m"}, tmp_path,
                                  None, 300.0, 256, candidates=2)
        asked = [(r.json["temperature"], r.json.get("seed")) for r in server.chat_requests]
    assert result.get("error") is None, result
    assert result["candidates"] == 2 and result["holdout"] == 0.0
    assert result["run_dir"].endswith("title_case-seed3-autotrace-n2")
    # step 1's two answers, asked at once: one at the run's temperature and seed, one sampled with a derived seed
    first, sampled = sorted(asked)
    assert first == (0.0, 3) and sampled[0] == 0.8 and sampled[1] not in (None, 3)


def test_the_options_are_checked_and_recorded():
    args = bench.parse_args(["--candidates", "4", "--holdout", "0.25", "--sections", "quality"])
    assert (args.candidates, args.holdout) == (4, 0.25)
    assert bench.parse_args([]).candidates == 1
    for bad in (["--candidates", "0"], ["--holdout", "1"]):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)
