"""Run budgets in tokens (``--max-run-tokens``, ``--max-optimizer-tokens``, ``--max-program-tokens`` and
their ``[tool.autotrace]`` keys) against the scripted server on real sockets: the run stops between steps
with the best patch so far and one line saying why (in this process, tests/inprocess.py); through
``autotrace optimize``: the project table's key, a bad value, the program's own calls (through the
command's proxy) and the exit status 1."""

from __future__ import annotations

import re
from pathlib import Path

from helpers import OPENAI_APP, answer, child_env, optimize, shop
from inprocess import run, run_cli
from llmserver import ScriptedLLMServer

JUDGE = '''\
def examples():
    return ["hello", "bye"]


def feedback(output, text):
    return (1.0, "right") if output == "yes" else (0.0, f"answered {output!r}, wanted 'yes'")
'''


def budget_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "token budget" in line]


def test_the_optimizer_budget_stops_the_run_with_the_best_patch_so_far(tmp_path: Path,
                                                                      llm_server: ScriptedLLMServer) -> None:
    llm_server.script(answer(MARKUP=2.5), answer(MARKUP=2.6))
    ran = run(shop(tmp_path), llm_server, steps=3, probe=False, max_optimizer_tokens=1)
    assert ran.result.stopped_by == "budget" and [s.step for s in ran.steps] == [0, 1]
    assert [r.note for r in ran.reports if "token budget" in r.note] == [ran.note(2)]  # said once
    assert ran.note(2).startswith("stopped before step 2: the run's optimizer token budget is spent")
    assert len(llm_server.chat_requests) == 1 and llm_server.pending == 1
    assert "+MARKUP = 2.5  # autotrace: param" in ran.diff


def test_the_run_budget_is_read_from_the_project_table(tmp_path: Path, llm_server: ScriptedLLMServer) -> None:
    folder = shop(tmp_path)
    (folder / "pyproject.toml").write_text("[tool.autotrace]\nmax_run_tokens = 1\n")
    llm_server.script(answer(MARKUP=2.5), answer(MARKUP=2.6))
    result = optimize(folder, llm_server, "--steps", "3", "--no-probe")
    assert result.returncode == 1, result.stderr
    assert len(budget_lines(result.stderr)) == 1 and len(llm_server.chat_requests) == 1


def test_a_budget_that_is_no_whole_number_is_one_line(tmp_path: Path, llm_server: ScriptedLLMServer) -> None:
    folder = shop(tmp_path)
    (folder / "pyproject.toml").write_text("[tool.autotrace]\nmax_program_tokens = 0\n")
    result = optimize(folder, llm_server, "--steps", "1", "--no-probe")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("max_program_tokens must be a whole number of at least 1, not 0")
    assert llm_server.chat_requests == []


def test_the_program_budget_counts_the_programs_own_model_calls(tmp_path: Path,
                                                                llm_server: ScriptedLLMServer) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(OPENAI_APP)
    (tmp_path / "judge.py").write_text(JUDGE)
    llm_server.script(*["maybe"] * 10)
    env = child_env("OPENAI_", "AUTOTRACE_")
    result = run_cli("optimize", "app.py", "--feedback", "judge.py", "--steps", "2", "--no-probe", "--base-url",
                     llm_server.base_url, "--model", "scripted", "--max-program-tokens", "1", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stderr
    # The original values' evaluation spent the program's budget: no question reached the optimizer.
    assert re.search(r"^step +1/2 .*stopped before step 1: the run's program token budget is spent",
                     result.stderr, re.MULTILINE), result.stderr
    assert all(len(r.json["messages"]) == 2 for r in llm_server.chat_requests)
    assert "no patch:" in result.stderr
