"""The paper runner's trace-opt side of Battleship (benchmarks/paper/trace_opt/battleship.py), run end to end
in trace-opt's venv (when it exists: ``.bench/trace-venv``, made by ``python -m benchmarks``) against the
scripted server: the real OptoPrime reads the scripted model's suggestion for ``act`` from its JSON answer,
and the policy it makes is played on the judge's three boards."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import harness  # noqa: E402
from benchmarks.paper.common import run_trace_opt  # noqa: E402

ENUMERATE = ("def act(self, map, plan):\n"
             "    for r in range(10):\n"
             "        for c in range(10):\n"
             "            if map[r][c] == '.':\n"
             "                return (r, c)\n")


def suggest_act(body: dict) -> dict:
    """OptoPrime's answer: reading order for ``act``, named as the prompt names that variable."""
    prompt = body["messages"][-1]["content"]
    (name,) = re.findall(r"\(code\) (__code\d+):def act\(", prompt)
    return {"reasoning": "act returns None; it must return a square not shot yet", "answer": "",
            "suggestion": {name: ENUMERATE}}


@pytest.mark.skipif(harness.trace_python(create=False) is None, reason="needs trace-opt's venv (.bench/trace-venv)")
def test_battleship_trace_opt_side_takes_the_suggested_policy(llm_server):
    llm_server.script(suggest_act)
    result = run_trace_opt("battleship.py", ["--steps", "1", "--seed", "0"],
                           {"model": "m", "base_url": llm_server.base_url}, timeout=300)
    assert "error" not in result, result
    # the empty policy scores 0; reading order hits 10 of 51 ship squares on boards 0-2
    assert [point["score"] for point in result["curve"]] == [0.0, pytest.approx(10 / 51)]
    assert result["best"] == pytest.approx(10 / 51) and result["program_runs"] == 2 and result["tokens"] > 0
    assert any("for c in range(10):" in code for code in result["values"].values())
    assert len(llm_server.chat_requests) == 1
