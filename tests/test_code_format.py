"""The answer format for code (config ``code_format``), and fenced answers cut off at max_tokens
(runs in this process, tests/inprocess.py, against the scripted model; a bad format through the command)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import child_env
from inprocess import Ran, run, run_cli
from llmserver import ScriptedLLMServer

from autotrace.optimizers import OptoPrime
from autotrace.optimizers.code_answer import code_cut_off

FIXED = "def double(x):\n    return x + x\n"
#: Reasoning far past the client's 1,024-token default: the server cuts the answer before its code block.
RAMBLING = "double adds one too many, so the result is off by one and it has to go. " * 80


def program(folder: Path, config: str = "") -> Path:
    (folder / "pyproject.toml").write_text(f"[tool.autotrace]\n{config}")
    (folder / "calc.py").write_text("def double(x):  # autotrace: param\n    return x + x + 1\n\n\n"
                                    "def main():\n    return double(3)\n")
    (folder / "judge.py").write_text("def feedback(output):\n"
                                     "    return float(output == 6), f'double(3) returned {output}, expected 6'\n")
    return folder


def optimize(folder: Path, server: ScriptedLLMServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = child_env("OPENAI_", "AUTOTRACE_")
    return run_cli("optimize", "calc.py", "--feedback", "judge.py", "--target", "1", *args, "--base-url",
                   server.base_url, "--model", "scripted", "--no-cache", cwd=folder,
                   env={**env, "OPENAI_API_KEY": "test"})


def optimized(folder: Path, server: ScriptedLLMServer, **options: object) -> Ran:
    ran = run(folder, server, "calc.py", target_score=1, cache=False, **options)
    assert ran.result.reached_target, ran.reports
    return ran


def test_code_is_answered_in_a_fenced_block_by_default(tmp_path, llm_server):
    llm_server.script(f"double adds one.\n```python\n{FIXED}```\n")
    result = optimized(program(tmp_path), llm_server, steps=1)
    body = llm_server.chat_requests[0].json
    assert "response_format" not in body and "```python block" in body["messages"][-1]["content"]
    assert "-    return x + x + 1\n+    return x + x" in result.diff


def test_code_format_json_asks_for_the_code_in_the_json_answer(tmp_path, llm_server):
    llm_server.script({"reasoning": "double adds one.", "suggestion": {"calc.double": FIXED}})
    result = optimized(program(tmp_path), llm_server, steps=1, code_format="json")
    body = llm_server.chat_requests[0].json
    assert body["response_format"]["type"] == "json_schema"
    assert "```python block" not in body["messages"][-1]["content"]
    assert '"calc.double": <the complete new source of the function as a string' in body["messages"][-1]["content"]
    assert "+    return x + x" in result.diff


def test_a_bad_code_format_is_a_one_line_error(tmp_path, llm_server):
    result = optimize(program(tmp_path, 'code_format = "yaml"\n'), llm_server, "--steps", "1")
    assert result.returncode != 0 and not llm_server.chat_requests
    assert result.stderr.strip().splitlines()[-1].endswith(
        "[tool.autotrace] code_format must be \"fenced\" or \"json\", not 'yaml'")
    with pytest.raises(ValueError, match="code_format must be one of fenced, json, not 'yaml'"):
        OptoPrime([], None, code_format="yaml")  # type: ignore[arg-type]


def test_an_answer_cut_off_before_its_code_says_why_and_does_not_end_the_run(tmp_path, llm_server):
    """An answer whose reasoning ran to max_tokens (its code block lost) is its length, not its idea: with
    --max-unchanged 1 an answer that changed nothing would end the run; this one does not, the next
    prompt says what happened, and the second answer fixes the function."""
    llm_server.script(f"{RAMBLING}\n```python\n{FIXED}```\n", f"double adds one.\n```python\n{FIXED}```\n")
    result = optimized(program(tmp_path), llm_server, steps=3, max_unchanged=1, resample=0)
    assert len(llm_server.chat_requests) == 2 and result.result.stopped_by == ""
    assert result.steps[1].candidate == {} and result.steps[2].candidate  # the cut answer, then the fix
    second = llm_server.chat_requests[1].json["messages"][-1]["content"]
    problems = second[second.index("#Problems"):]
    assert "the answer stopped at the max_tokens limit (1024 tokens) before its code block was complete" in problems
    assert "write at most three short sentences" in problems
    assert "+    return x + x" in result.diff


def test_a_cut_off_answer_is_one_whose_last_code_block_is_open_or_missing():
    assert code_cut_off("The reasoning ran on and on")
    assert code_cut_off("Fix it.\n```python\ndef double(x):\n    return x +")
    assert not code_cut_off("Fix it.\n```python\ndef double(x):\n    return x + x\n```\nThat is all, and")
    assert json.dumps(code_cut_off("```python\nA\n```\n```python\nB")) == "true"


def test_the_format_comparison_totals_only_pairs_run_in_both_formats():
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from experiments import code_format

    counts = {"answers": 2, "at_limit": 1, "code_cut_off": 0, "syntax": 1, "syntax_from_json": 1}
    run = {"task": "median", "seed": 0, "solved": True, "best_score": 1.0, "steps": [], "counts": counts,
           "hidden": {"passed": 9, "total": 9}}
    runs = [{**run, "code_format": "fenced"}, {**run, "code_format": "json", "solved": False, "best_score": 0.5},
            {**run, "seed": 1, "code_format": "fenced"}]  # seed 1's json run never happened
    totals = code_format.summary(code_format.paired(runs))
    assert totals["fenced"]["runs"] == totals["json"]["runs"] == 1
    assert totals["fenced"]["solved"] == 1 and totals["json"]["solved"] == 0 and totals["json"]["syntax"] == 1
    text = code_format.table(runs)
    assert "| fenced | 1 | 2 | 1 | 1 | 1 | 0 | 1/1 | 1.000 | 9/9 (100%) | 1/1 |" in text
    assert text.count("not in the totals") == 1
