"""``--tests`` mode searches numbers too: a pass count is a step function, so the search brackets and bisects."""

from __future__ import annotations

from pathlib import Path

from helpers import child_env
from inprocess import run_cli
from llmserver import ScriptedLLMServer


def test_an_integer_threshold_pinned_by_a_failing_test_is_found_without_the_model(
        tmp_path: Path, llm_server: ScriptedLLMServer) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.autotrace]\n")
    (tmp_path / "limits.py").write_text("RETRIES = 10  # autotrace: param int in [1, 500] retries before giving up\n")
    (tmp_path / "test_limits.py").write_text(
        "import limits\n\n\ndef test_enough_retries():\n    assert limits.RETRIES >= 37\n")
    env = child_env("OPENAI_", "AUTOTRACE_", "PYTEST_")
    result = run_cli("optimize", "--tests", ".", "--steps", "2", "--base-url", llm_server.base_url, "--model",
                     "scripted", cwd=tmp_path, env={**env, "OPENAI_API_KEY": "test"})
    assert result.returncode == 0, result.stderr
    assert "measured step: limits.RETRIES = 37" in result.stderr, result.stderr
    assert "+RETRIES = 37  # autotrace: param int in [1, 500] retries before giving up" in result.stdout
    assert llm_server.chat_requests == []  # no LLM call: the bracket and the bisection found it
