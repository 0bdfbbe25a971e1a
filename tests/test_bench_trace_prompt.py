"""trace-opt's side of the fresh prompt tasks: the generated trace-opt form of each app (always), and the
run end to end (when trace-opt's venv exists: ``.bench/trace-venv``, made by ``python -m benchmarks``) against
the scripted server, the real trace-opt OptoPrime and the task's real ``OpenAI()`` program. The scripted
model files a headline right only when its system prompt asks for the desk code; OptoPrime's answer
suggests exactly that prompt, so the run solves only by taking the optimizer's suggestion."""

from __future__ import annotations

import ast
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
from benchmarks import harness, rows, tasks, trace_prompt_side  # noqa: E402
from benchmarks.tasks.trace_form import TraceFormError, prompt_trace_source  # noqa: E402

FRESH = [t for t in tasks.ALL if t.runner == tasks.Runner.PROMPT]
TOPIC = tasks.get("topic_code")
LABELS = {**runpy.run_path(str(TOPIC.folder / "judge.py"))["LABELLED"], **TOPIC.hidden_cases()}
NEW_PROMPT = "File the headline under its desk code: SPT, TEC, POL or HLT. Answer with the code alone."
ORIGINAL = "You are a helpful assistant. Talk about the headline."


@pytest.mark.parametrize("task", FRESH, ids=lambda t: t.name)
def test_the_trace_form_passes_the_prompt_node_to_the_bundled_model_call(task, tmp_path):
    """The marked prompt is the one trainable node; the function that calls the model takes it as its first
    argument (a bundle's inputs are its arguments) and main feeds that call's reply to a bundled answer()."""
    program = task.lay_out("trace", tmp_path)
    tree = ast.parse(program.read_text())
    functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    assert set(functions) == {"ask", "answer", "main", "parameters"}
    assert [ast.unparse(d) for d in functions["ask"].decorator_list] == ["bundle()"]
    assert [a.arg for a in functions["ask"].args.args][0] == "PROMPT"
    assert [ast.unparse(d) for d in functions["answer"].decorator_list] == ["bundle()"]
    assert not functions["main"].decorator_list
    (returned,) = [n for n in ast.walk(functions["main"]) if isinstance(n, ast.Return)]
    assert ast.unparse(returned.value).startswith("answer(ask(PROMPT, ")
    assert ast.unparse(functions["parameters"].body[0].value) == "[PROMPT]"
    assigned = next(n for n in tree.body if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "PROMPT")
    assert ast.unparse(assigned.value.func) == "node" and {k.arg for k in assigned.value.keywords} >= {"trainable"}
    assert not (tmp_path / "hidden.py").exists()


def test_an_app_the_split_cannot_express_is_one_line():
    calls_twice = ('P = "x"  # autotrace: param\n\n\ndef ask(q):\n    return P + q\n\n\n'
                   'def main(q):\n    return ask(q) + ask(q)\n')
    with pytest.raises(TraceFormError, match="2 times"):
        prompt_trace_source(calls_twice)
    with pytest.raises(TraceFormError, match="no marked constant"):
        prompt_trace_source("def main(q):\n    return q\n")


def scripted_model(body: dict[str, Any]) -> str:
    """The program's calls (16 tokens, a system prompt): the right code when the prompt asks for a desk
    code, chatter otherwise; OptoPrime's: a suggestion of the desk-code prompt, as its JSON format asks."""
    messages = body["messages"]
    if body.get("max_tokens") == 16 and messages[0]["role"] == "system":
        asks_code = "desk code" in messages[0]["content"]
        return LABELS[messages[-1]["content"]] if asks_code else "Interesting headline! Let me talk about it."
    return json.dumps({"reasoning": "The prompt must ask for the desk code alone.", "answer": "",
                       "suggestion": {"PROMPT0": NEW_PROMPT}})


needs_trace = pytest.mark.skipif(harness.trace_python(create=False) is None,
                                 reason="trace-opt's venv (.bench/trace-venv) is not made")


@pytest.mark.bench
@needs_trace
def test_trace_opt_solves_through_its_suggestion_and_counts_the_programs_calls_apart(llm_server):
    llm_server.script(*[scripted_model] * 100)
    server = {"base_url": llm_server.base_url, "model": llm_server.model}
    result = trace_prompt_side.run(TOPIC, 0, server, steps=2)
    assert result.get("error") is None, result
    assert (result["before"], result["best_score"], result["solved"], result["solved_step"]) == (0.0, 1.0, True, 1)
    assert result["prompt"] == NEW_PROMPT and result["hidden"]["passed"] == result["hidden"]["total"] == 8
    program = [r for r in llm_server.chat_requests if r.json.get("max_tokens") == 16]
    optimizer = [r for r in llm_server.chat_requests if r.json.get("max_tokens") != 16]
    # the initial run and one after the step, 6 examples each, through the proxy; then the 8 hidden cases
    assert result["program_calls"] == result["program_runs"] == 12 and len(program) == 12 + 8
    assert {r.json["model"] for r in program[:12]} == {llm_server.model}  # gpt-4o-mini, answered by the served one
    assert len(optimizer) == result["llm_calls"] == 1 and result["optimizer_tokens"] > 0
    assert "#Variables" in optimizer[0].json["messages"][-1]["content"]  # OptoPrime's own prompt
    assert result["program_tokens"] > 0
    row = trace_prompt_side.row(TOPIC, result, commit="abc1234", model="m", load=1.0, command="c", date="d")
    assert (row.side, row.arm, row.solved, row.llm_driven, row.hidden_score, row.program_runs) == (
        "trace-opt", "default", True, True, 1.0, 12)
    assert rows.decode(rows.encode(row)) == row


@pytest.mark.bench
@needs_trace
def test_python_m_benchmarks_runs_the_trace_side_of_a_fresh_prompt_task_into_a_row(llm_server, tmp_path, capsys):
    llm_server.script(*[lambda body: "Talk." if body.get("max_tokens") == 16 else "no json"] * 100)
    out = tmp_path / "rows.jsonl"
    code = bench_main.main(["run", "topic_code", "--sides", "trace", "--seeds", "1", "--steps", "1",
                            "--base-url", llm_server.base_url, "--model", llm_server.model, "--record", str(out)])
    assert code == 0
    (row,) = rows.load(out)
    assert (row.task, row.side, row.seed, row.steps, row.solved, row.visible_score) == (
        "topic_code", "trace-opt", 0, 1, False, 0.0)
    assert row.program_runs == 12 and row.command.endswith("--sides trace --steps 1")
    assert "visible 0.0 -> 0.0" in capsys.readouterr().out
    (detail,) = [json.loads(line) for line in (tmp_path / "prompt_proposers.jsonl").read_text().splitlines()]
    assert (detail["task"], detail["side"], detail["prompt"]) == ("topic_code", "trace-opt", ORIGINAL)
    assert [s["step"] for s in detail["steps_run"]] == [0, 1] and detail["hidden"]["passed"] == 0


@pytest.mark.bench
@needs_trace
def test_the_harness_trace_side_of_sports_prompt_calls_the_model_through_the_proxy_only_for_the_program(tmp_path):
    """The generated trace-opt form of sports_prompt (an ``OpenAI()`` app) runs under trace-opt with the
    harness's variables: its 8 calls a run reach the proxy and are counted; OptoPrime's go to --base-url."""
    from tests.llmserver import ScriptedLLMServer

    def answer(body: dict[str, Any]) -> str:
        is_program = body["messages"][0]["role"] == "system" and body.get("max_tokens") == 12
        return "plausible" if is_program else json.dumps({"reasoning": "r", "answer": "", "suggestion": {}})

    with ScriptedLLMServer() as llm:
        llm.script(*[answer] * 100)
        server = {"base_url": llm.base_url, "model": "m"}
        result = harness.run_task(tasks.get("sports_prompt"), "trace", 0, 1, server, tmp_path,
                                  harness.trace_python(create=False), 300.0, 256)
        requests = list(llm.chat_requests)
    program = [r for r in requests if r.json.get("max_tokens") == 12]
    assert result.get("error") is None, result
    assert result["best_score"] == 0.5 and len(program) == 16 and {r.json["model"] for r in program} == {"m"}
    assert result["program_calls"] == 16 and result["llm_calls"] == len(requests) - 16 == 1
