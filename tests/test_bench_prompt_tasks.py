"""GEPA's side of a prompt task (benchmarks/gepa_side.py) and its typed row, end to end against the scripted
server: the real ``gepa`` package, the real ``openai`` client in the task's program, autotrace's recording
proxy counting the program's tokens. The scripted model files a headline right only when its system
prompt asks for the desk code, and its reflection answer asks for exactly that, so GEPA must take the
reflection's prompt to solve the task."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import __main__ as bench_main  # noqa: E402
from benchmarks import dispatch, gepa_side, prompt_proposers, rows, tasks  # noqa: E402
from tests.llmserver import ScriptedLLMServer  # noqa: E402

pytest.importorskip("gepa")

TOPIC = tasks.get("topic_code")
LABELS = {**runpy.run_path(str(TOPIC.folder / "judge.py"))["LABELLED"], **TOPIC.hidden_cases()}
NEW_PROMPT = "File the headline under its desk code: SPT, TEC, POL or HLT. Answer with the code alone."


def scripted_model(body: dict[str, Any]) -> str:
    """The program's calls (a system message): the right code when the prompt asks for a desk code, chatter
    otherwise; GEPA's reflection (one user message): a new prompt in a fenced block."""
    messages = body["messages"]
    if messages[0]["role"] == "system":
        asks_code = "desk code" in messages[0]["content"]
        return LABELS[messages[-1]["content"]] if asks_code else "Interesting headline! Let me talk about it."
    return f"```\n{NEW_PROMPT}\n```"


def serve(llm_server, count: int = 200) -> dict[str, str]:
    llm_server.script(*[scripted_model] * count)
    return {"base_url": llm_server.base_url, "model": llm_server.model}


def test_the_marked_prompt_is_the_one_component_and_the_default_budget_is_stated():
    assert gepa_side.marked_prompt(TOPIC) == "PROMPT"
    assert gepa_side.default_budget(TOPIC) == (TOPIC.steps + 1) * 6
    with pytest.raises(gepa_side.GepaError, match="one marked string constant, found 0"):
        gepa_side.marked_prompt(tasks.get("median"))


def test_gepa_solves_through_the_reflection_prompt_and_counts_both_sides_tokens(llm_server):
    server = serve(llm_server)
    result = gepa_side.run(TOPIC, 0, 18, server)
    assert result["before"] == 0.0 and result["best_score"] == 1.0 and result["solved"] and result["accepted"]
    assert result["prompt"] == NEW_PROMPT and result["hidden"]["passed"] == result["hidden"]["total"] == 8
    program_calls = [r for r in llm_server.chat_requests if r.json["messages"][0]["role"] == "system"]
    # every metric call is one program call through the proxy, then 8 hidden cases (not counted as the run's)
    assert result["program_calls"] == result["metric_calls_made"] == len(program_calls) - 8
    assert all(r.json["model"] == "scripted-model" for r in program_calls)  # the proxy gives the run's model
    assert result["reflection_calls"] >= 1 and result["optimizer_tokens"] > 0 and result["program_tokens"] > 0
    row = prompt_proposers.row(TOPIC, result, commit="abc1234", model="scripted-model", load=1.0,
                               command="python -m benchmarks ...", date="2026-01-01 00:00")
    assert (row.side, row.arm, row.solved, row.llm_driven, row.hidden_score) == ("gepa", "calls18", True, True, 1.0)
    assert row.program_runs == result["metric_calls_made"] and row.program_tokens == result["program_tokens"]
    assert rows.decode(rows.encode(row)) == row


def test_a_seed_prompt_no_reflection_improves_is_said_in_the_row(llm_server):
    llm_server.script(*[lambda body: "Talk." if body["messages"][0]["role"] == "system" else "no fence"] * 100)
    result = gepa_side.run(TOPIC, 0, 12, {"base_url": llm_server.base_url, "model": llm_server.model})
    row = prompt_proposers.row(TOPIC, result, commit="abc1234", model="m", load=None, command="c", date="d")
    assert not row.solved and row.llm_driven is None and row.visible_score == 0.0 and "accepted no candidate" in row.note


def test_an_autotrace_rows_steps_are_the_runs_budget_not_the_tasks():
    result = {"task": "topic_code", "side": "induce", "seed": 1, "step_budget": 5, "steps": 2, "solved": True,
              "best_score": 1.0, "writer": "induce", "hidden": {"passed": 8, "total": 8}, "app_calls": 60,
              "prompt_tokens": 10, "completion_tokens": 5, "app_prompt_tokens": 7, "app_completion_tokens": 3}
    row = prompt_proposers.row(TOPIC, result, commit="abc1234", model="m", load=None, command="c", date="d")
    assert (row.steps, row.seed, row.arm, row.llm_driven, row.hidden_score) == (5, 1, "induce", True, 1.0)
    assert prompt_proposers.row(TOPIC, {**result, "step_budget": None}, commit="a", model="m", load=None,
                                command="c", date="d").steps == TOPIC.steps


@pytest.mark.bench
def test_python_m_benchmarks_runs_the_gepa_side_of_a_fresh_prompt_task_into_rows(llm_server, tmp_path, capsys):
    serve(llm_server)
    out = tmp_path / "rows.jsonl"
    code = bench_main.main(["run", "topic_code", "--sides", "gepa", "--seeds", "1", "--metric-calls", "12",
                            "--base-url", llm_server.base_url, "--model", llm_server.model, "--record", str(out)])
    assert code == 0
    (row,) = rows.load(out)
    assert (row.task, row.side, row.arm, row.seed, row.model) == ("topic_code", "gepa", "calls12", 0, "scripted-model")
    assert row.program_tokens and row.optimizer_tokens and row.command.endswith("--sides gepa --metric-calls 12")
    assert "topic_code gepa seed 0" in capsys.readouterr().out


def test_each_task_kind_goes_to_its_runner_with_its_own_sides():
    assert dispatch.sides_of(TOPIC, None) == ["autotrace", "trace", "gepa"]
    assert dispatch.sides_of(tasks.get("battleship"), ["trace", "gepa"]) == ["trace"]
    assert dispatch.sides_of(tasks.get("cart"), ["gepa"]) == []
    assert not dispatch.needs_server([tasks.get("traffic")], ["baseline"])
    assert dispatch.needs_server([tasks.get("traffic")], None)


def test_run_without_a_name_is_one_line_and_exit_2(capsys):
    assert bench_main.main(["run", "--seeds", "1"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert bench_main.main(["run", "no_such_task"]) == 2
    assert "no task 'no_such_task'" in capsys.readouterr().err



@pytest.mark.bench
def test_the_harness_counts_the_programs_own_tokens_of_a_prompt_task_and_none_of_a_numeric_one(tmp_path):
    """sports_prompt's program is an unmodified ``OpenAI()`` app asking for gpt-4o-mini (8 sentences a run).
    The harness gives it the standard variables pointing at its recording proxy: every program call reaches
    the proxy, is answered by the served model (the name replaced) and counted, and none of the optimizer's
    calls (autotrace is given the server by --base-url) goes through it; a numeric task's program calls none."""
    from benchmarks import harness

    def answer(body: dict[str, Any]) -> str:
        is_program = body["messages"][0]["role"] == "system" and body.get("max_tokens") == 12
        return "plausible" if is_program else "The prompt looks right to me; I would leave it as it is."

    with ScriptedLLMServer() as llm:
        llm.script(*[answer] * 400)
        server = {"base_url": llm.base_url, "model": "m"}
        result = harness.run_task(tasks.get("sports_prompt"), "autotrace", 0, 1, server, tmp_path, None, 300.0, 256)
        requests = list(llm.chat_requests)
        numeric = harness.run_task(tasks.get("linear"), "autotrace", 0, 1, server, tmp_path, None, 300.0, 256)
    program_calls = [r for r in requests if r.json.get("max_tokens") == 12]
    optimizer_calls = [r for r in requests if r.json.get("max_tokens") != 12]
    assert result.get("error") is None, result
    assert "Traceback" not in result["steps"][0]["feedback"] and len(program_calls) >= 8
    assert {r.json["model"] for r in program_calls} == {"m"}  # asked for gpt-4o-mini, given the served model
    assert optimizer_calls and result["llm_calls"] == len(optimizer_calls)
    assert result["program_calls"] == len(program_calls) and result["program_tokens"] > len(program_calls)
    assert rows.from_harness(result, commit="c", model="m", load=None, command="c", date="d").program_tokens == \
        result["program_tokens"]
    assert numeric["program_tokens"] == 0


def test_a_side_runs_with_the_standard_variables_at_the_proxy_and_no_harness_variable_for_the_program():
    from benchmarks import harness

    env = harness.side_env("http://127.0.0.1:9/v1", 3)
    assert (env["OPENAI_BASE_URL"], env["OPENAI_API_KEY"]) == ("http://127.0.0.1:9/v1", "local")
    assert not any(name.startswith("BENCH_APP") for name in env)
    for name in ("sports_prompt", "implicature_prompt"):
        source = (tasks.get(name).folder / "program.py").read_text()
        assert "OpenAI().chat.completions.create(" in source and "environ" not in source and "BENCH" not in source
    assert not (tasks.SHARED / "app_llm.py").exists()


@pytest.mark.bench
def test_a_cli_task_runs_from_python_m_benchmarks_into_a_row(tmp_path, monkeypatch):
    """word_pipeline (runner cli) through the one entry point: benchmarks.multi_param runs autotrace's CLI in a
    copy against the given server; its line goes to multi_param's file, its typed row to --record."""
    from benchmarks import multi_param

    monkeypatch.setattr(multi_param, "RESULTS", tmp_path / "multi_param.jsonl")
    out = tmp_path / "rows.jsonl"
    with ScriptedLLMServer() as llm:
        llm.script(*["The functions look right to me; I would leave them as they are."] * 20)
        code = bench_main.main(["run", "word_pipeline", "--steps", "1", "--seeds", "1", "--first-seed", "2",
                                "--base-url", llm.base_url, "--model", "m", "--record", str(out)])
        asked = len(llm.chat_requests)
    assert code == 0 and asked >= 1
    (row,) = rows.load(out)
    assert (row.task, row.side, row.model, row.steps, row.solved, row.program_tokens, row.seed) == (
        "word_pipeline", "autotrace", "m", 1, False, 0, 2)
    assert llm.chat_requests[0].json["seed"] == 2  # the run's --seed
    assert row.command.startswith("python -m benchmarks --sections quality --tasks word_pipeline")
    assert (tmp_path / "multi_param.jsonl").is_file()


@pytest.mark.bench
def test_a_paper_experiment_runs_from_python_m_benchmarks(tmp_path, monkeypatch):
    """battleship's baseline (enumeration; no model, so no server is started) through the one entry point:
    its lines go to the paper runner's file."""
    from benchmarks.paper import run as paper_run

    monkeypatch.setattr(paper_run, "RESULTS", tmp_path / "paper.jsonl")
    assert bench_main.main(["run", "battleship", "--sides", "baseline", "--no-record"]) == 0
    lines = [json.loads(line) for line in (tmp_path / "paper.jsonl").read_text().splitlines()]
    assert {(line["experiment"], line["side"], line["task"]) for line in lines} == {
        ("battleship", "baseline", "boards0-2"), ("battleship", "baseline", "boards0-99")}
    assert all(0 < line["score"] < 1 for line in lines)
