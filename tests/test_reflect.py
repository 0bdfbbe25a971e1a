"""The reflective question about one function or text, asked when a step's answer gave nothing new
(runs in this process with ``resample``, tests/inprocess.py, against the scripted model; and its answer
parser)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from inprocess import Ran, run
from llmserver import ScriptedLLMServer

from autotrace.llm.client import derived_seed
from autotrace.optimizers.reflect import parse_one_value
from autotrace.params import ParamKind, ParamSpec

SYSTEM = "You improve a text that a Python program gives to a language model"


def prompt_app(folder: Path) -> Path:
    """A stand-in for an LLM app: ``ask`` echoes the prompt unless it asks for one word."""
    (folder / "pyproject.toml").write_text("[tool.autotrace]\n")
    (folder / "app.py").write_text(
        'PROMPT = "Here is a word."  # autotrace: param system prompt given with each word\n'
        'LIMIT = 3  # autotrace: param\n\n\n'
        "def ask(prompt, word):\n"
        '    return word.upper() if "one word" in prompt else f"{prompt} {word}"\n\n\n'
        "def main():\n"
        '    return [ask(PROMPT, w) for w in ("yes", "no")]\n')
    (folder / "judge.py").write_text(
        "def feedback(output):\n"
        "    right = sum(a in ('YES', 'NO') for a in output)\n"
        "    return right / len(output), f'{right}/{len(output)} right; answers must be YES or NO: {output}'\n")
    return folder


def calc_app(folder: Path) -> Path:
    (folder / "pyproject.toml").write_text("[tool.autotrace]\n")
    (folder / "calc.py").write_text(
        "def half(x):  # autotrace: param\n    return x // 2\n\n\n"
        "def main():\n    return [half(3), half(4)]\n")
    (folder / "judge.py").write_text(
        "def feedback(output):\n"
        "    return float(output == [1.5, 2.0]), f'returned {output}, expected [1.5, 2.0]'\n")
    return folder


def optimized(folder: Path, target: str, server: ScriptedLLMServer, **options: object) -> Ran:
    ran = run(folder, server, target, target_score=1, **options)
    assert ran.result.reached_target, ran.reports
    return ran


def test_a_text_the_run_used_is_asked_about_alone_when_the_answer_changed_nothing(tmp_path, llm_server):
    keep = {"reasoning": "the output is correct", "suggestion": {"app.PROMPT": None, "app.LIMIT": None}}
    llm_server.script(keep, "The text must ask for one word.\n```text\nAnswer with one word: YES or NO.\n```\n")
    ran = optimized(prompt_app(tmp_path), "app.py", llm_server, steps=1, probe=False)
    first, again = llm_server.chat_requests
    assert again.json["temperature"] == 0.8 and again.json["seed"] == derived_seed(0, 1, "again", 1)
    system, user = (m["content"] for m in again.json["messages"])
    assert system.startswith(SYSTEM) and "response_format" not in again.json
    # the one text, the calls it was passed to (named by the parameter) with what they returned, the feedback
    assert "#Variable\napp.PROMPT (str): system prompt given with each word\n" in user
    assert "#Current value\n```text\nHere is a word.\n```" in user
    assert "app.ask(prompt=app.PROMPT, word='yes') returned 'Here is a word. yes'" in user
    assert "app.ask(prompt=app.PROMPT, word='no') returned 'Here is a word. no'" in user
    assert "- score 0: 0/2 right; answers must be YES or NO" in user
    assert "app.LIMIT" not in user  # a number, and unused: the question is about the text alone
    assert ran.steps[1].note.startswith("2 proposed (1 sampled again), 1 new, best 1;")
    assert '+PROMPT = "Answer with one word: YES or NO."  # autotrace: param' in ran.diff
    # the same run replays from the response cache
    replayed = optimized(tmp_path, "app.py", llm_server, steps=1, probe=False)
    assert len(llm_server.chat_requests) == 2 and replayed.diff == ran.diff and replayed.steps[1].cached


def test_an_unusable_reflective_answer_is_told_to_the_next_question(tmp_path, llm_server):
    keep = {"reasoning": "the output is correct", "suggestion": {"app.PROMPT": None, "app.LIMIT": None}}
    fixed = {"reasoning": "ask for one word", "suggestion": {"app.PROMPT": "Reply in one word.", "app.LIMIT": None}}
    llm_server.script(keep, "Ask for one word: YES or NO.", fixed)
    ran = optimized(prompt_app(tmp_path), "app.py", llm_server, steps=1, probe=False)
    first, reflective, whole = (r.json["messages"] for r in llm_server.chat_requests)
    assert reflective[0]["content"].startswith(SYSTEM) and whole[0]["content"] == first[0]["content"]
    problems = whole[-1]["content"][whole[-1]["content"].index("#Problems"):]
    assert "- app.PROMPT: the answer held no ```text block with the new text" in problems
    assert whole[-1]["content"] != first[-1]["content"]
    assert '+PROMPT = "Reply in one word."' in ran.diff


def test_a_function_is_shown_with_its_own_calls_and_results(tmp_path, llm_server):
    fixed = "def half(x):\n    return x / 2\n"
    llm_server.script("half is right.\n```python\ndef half(x):\n    return x // 2\n```\n",  # no change
                      "half floors.\n```python\ndef half(x):\n    return x /\n```\n",  # reflective: syntax error
                      f"half must divide.\n```python\n{fixed}```\n")  # the whole problem, sampled
    ran = optimized(calc_app(tmp_path), "calc.py", llm_server, steps=1)
    first, reflective, whole = (r.json["messages"] for r in llm_server.chat_requests)
    assert reflective[0]["content"].startswith("You fix one function of a Python program")
    user = reflective[1]["content"]
    assert "#Variable\ncalc.half (code)\n" in user
    assert "```python\ndef half(x):  # autotrace: param\n    return x // 2\n```" in user
    assert "#How the run used it\ncalc.half(x=3) returned 1\ncalc.half(x=4) returned 2\n" in user
    assert "calc.main" not in user and "whole function in one ```python block" in user
    assert whole[0]["content"] == first[0]["content"]  # then the whole-problem prompt again, told what was wrong
    assert re.search(r"#Problems with your previous answer\n(.*\n)*- calc\.half: syntax error", whole[-1]["content"])
    assert "+    return x / 2" in ran.diff


def test_answers_about_one_function_stop_at_the_end_of_its_code_block(tmp_path, llm_server):
    after = "\nIt floors x. Example:\n```python\nprint(half(3))\n```\n"
    llm_server.script(f"half is right.\n```python\ndef half(x):\n    return x // 2\n```\n{after}",
                      f"half floors.\n```python\ndef half(x):\n    return x / 2\n```\n{after}")
    ran = optimized(calc_app(tmp_path), "calc.py", llm_server, steps=1)
    assert [r.json.get("stop") for r in llm_server.chat_requests] == [["\n```\n"], ["\n```\n"]]
    assert "+    return x / 2" in ran.diff and "print(half" not in ran.diff


TEXT = ParamSpec("app.py::PROMPT", Path("app.py"), "app", "PROMPT", ParamKind.LITERAL, "", "Old.", 1)
CODE = ParamSpec("calc.py::half", Path("calc.py"), "calc", "half", ParamKind.CODE, "", "def half(x):\n    return x\n", 1)


@pytest.mark.parametrize(("spec", "answer", "expected"), [
    (TEXT, "It must ask for one word.\n```text\nAnswer in one word.\n```", ("Answer in one word.", None)),
    (TEXT, "```\nTwo\nlines.\n```", ("Two\nlines.", None)),
    (TEXT, '{"app.PROMPT": "From JSON."}', ("From JSON.", None)),
    (TEXT, "```text\nOld.\n```", (None, None)),  # the current value: no change
    (TEXT, "Just say it in one word.", (None, "the answer held no ```text block with the new text")),
    (CODE, "```python\ndef half(x):\n    return x / 2\n```", ("def half(x):\n    return x / 2\n", None)),
    (CODE, "Keep it.", (None, "the answer held no ```python block with the function")),
])
def test_the_one_value_in_an_answer(spec: ParamSpec, answer: str, expected: tuple) -> None:
    assert parse_one_value(answer, spec, spec.initial) == expected


def test_a_text_quoting_an_input_it_is_sent_with_is_rejected() -> None:
    sentence = "The pitcher threw a perfect game"
    value, reason = parse_one_value(f"```text\nLabel it: {sentence} -> SPORT\n```", TEXT, "Old.", [sentence])
    assert value is None and reason == (f"the text quotes an input the program sends with it ('{sentence}'); it is "
                                        "sent with every input, so it must say how to answer any of them, not repeat one")
    assert parse_one_value("```text\nLabel the sentence: SPORT or NOT.\n```", TEXT, "Old.", [sentence]) == (
        "Label the sentence: SPORT or NOT.", None)


def test_the_whole_prompt_and_the_reflective_question_reject_a_text_pasting_the_runs_inputs(tmp_path, llm_server):
    (tmp_path / "pyproject.toml").write_text("[tool.autotrace]\n")
    (tmp_path / "app.py").write_text(
        'PROMPT = "Here is a sentence."  # autotrace: param system prompt given with each sentence\n\n\n'
        "def ask(prompt, sentence):\n"
        '    return "SPORT" if "one word" in prompt or sentence in prompt else prompt\n\n\n'
        "def main():\n"
        '    return [ask(PROMPT, s) for s in ("The striker scored a hat trick today", "The pitcher threw a perfect game", "Go")]\n')
    (tmp_path / "judge.py").write_text(
        "def feedback(output):\n"
        "    right = output.count('SPORT')\n"
        "    return right / len(output), f'{right}/{len(output)} right; answer SPORT: {output}'\n")
    pasted = {"reasoning": "show them", "suggestion": {"app.PROMPT": "The striker scored a hat trick today: SPORT"}}
    llm_server.script(pasted, "```text\nThe pitcher threw a perfect game. Say SPORT.\n```\n",
                      {"reasoning": "ask for one word", "suggestion": {"app.PROMPT": "Answer in one word."}})
    ran = optimized(tmp_path, "app.py", llm_server, steps=1, probe=False)
    first, reflective, whole = (r.json["messages"] for r in llm_server.chat_requests)
    assert reflective[0]["content"].startswith(SYSTEM)
    problems = whole[-1]["content"][whole[-1]["content"].index("#Problems"):]
    assert "- app.PROMPT: the text quotes an input the program sends with it ('The pitcher threw a perfect game')" \
        in problems
    assert ran.steps[1].note.startswith("3 proposed (2 sampled again), 1 new, best 1;")
    assert '+PROMPT = "Answer in one word."' in ran.diff


def board_app(folder: Path) -> Path:
    """A stand-in for a game: ``pick`` is given a 10 x 10 board (a long argument) and must name a free
    square; the judge's text shows the board in rows."""
    (folder / "pyproject.toml").write_text("[tool.autotrace]\n")
    (folder / "board_pick.py").write_text(
        "def pick(board):  # autotrace: param\n    return\n\n\n"
        "def main():\n"
        "    board = [['O'] * 10 for _ in range(10)]\n"
        "    board[3][4] = '.'\n"
        "    return pick(board), board\n")
    (folder / "judge.py").write_text(
        "def feedback(output):\n"
        "    shot, board = output\n"
        "    rows = '\\n'.join(' '.join(row) for row in board)\n"
        "    return float(shot == (3, 4)), f'shot {shot!r}, the free square is the one dot\\nboard:\\n{rows}'\n")
    return folder


def test_a_function_given_a_long_argument_is_shown_with_its_result_and_the_judges_rows(tmp_path, llm_server):
    keep = "pick is right.\n```python\ndef pick(board):\n    return\n```\n"
    fixed = ("pick returns None.\n```python\ndef pick(board):\n"
             "    return next((r, c) for r in range(10) for c in range(10) if board[r][c] == '.')\n```\n")
    llm_server.script(keep, fixed)
    ran = optimized(board_app(tmp_path), "board_pick.py", llm_server, steps=1, probe=False)
    user = llm_server.chat_requests[1].json["messages"][1]["content"]
    assert user.startswith("#Variable\nboard_pick.pick (code)")
    # the board argument is cut short, what the call returned is not
    used = user.split("#How the run used it\n", 1)[1].split("\n", 1)[0]
    assert used.startswith("board_pick.pick(board=[['O', 'O'") and used.endswith(" returned None") and len(used) <= 320
    # the judge's board keeps its rows
    assert "- score 0: shot None, the free square is the one dot\n  board:\n  O O O O O O O O O O\n" in user
    assert "\n  O O O O . O O O O O\n" in user
    assert "+    return next((r, c)" in ran.diff
