"""The examples run under ``autotrace run`` as shipped, and their judges give the perfect score to
known-correct values (written into a copy of the example and run as plain Python)."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

from example_runs import EXAMPLES, autotrace_run, copy_example, environment, python, replace_once
from llmserver import ScriptedLLMServer

#: The examples judged by their own tests (``autotrace optimize --tests``) instead of a judge.
TEST_SUITES = ("pytest_project", "threshold_tests")


def test_every_example_has_a_readme_a_program_and_a_judge() -> None:
    folders = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir() and p.name not in TEST_SUITES)
    assert folders == ["battleship", "bbh", "fit_constants", "fix_bug", "inventory", "numeric_graphs", "prompt_app",
                       "traffic"]
    for name in folders:
        assert (EXAMPLES / name / "judge.py").is_file()
        readme = (EXAMPLES / name / "README.md").read_text()
        assert "autotrace optimize" in readme and "--feedback judge.py" in readme


def test_inventory_is_noisy_and_a_policy_that_orders_more_costs_less(tmp_path: Path) -> None:
    """The noisy example: two seeds give two scores for the same values (what autotrace detects), and
    over many seeds ordering earlier and more beats the marked start on the judge."""
    folder = copy_example("inventory", tmp_path)
    mean = ("import random, judge, shop\n"
            "def score(seed):\n    random.seed(seed)\n"
            "    return sum(judge.feedback(shop.main(d), d)[0] for d in judge.examples()) / 4\n")
    assert python(folder, mean + "print(score(1) != score(2))") == "True"
    assert python(folder, mean + "start = sum(map(score, range(30)))\n"
                          "shop.REORDER_POINT, shop.ORDER_SIZE = 30, 60\n"
                          "print(sum(map(score, range(30))) > start)") == "True"


def test_fit_constants_runs_and_is_judged(tmp_path: Path) -> None:
    result = autotrace_run(copy_example("fit_constants", tmp_path), "main.py")

    assert result.returncode == 0, result.stderr
    assert [line.split()[1] for line in result.stdout.splitlines() if line.startswith("param ")] == [
        "main.MARKUP", "pricing.PRICE_PER_PAGE", "pricing.SETUP_FEE"]
    assert "output 13.2 is 16.8 too low" in result.stdout


def test_fit_constants_judge_gives_the_perfect_score_to_a_solution(tmp_path: Path) -> None:
    folder = copy_example("fit_constants", tmp_path)
    replace_once(folder / "pricing.py", "SETUP_FEE = 1.0 ", "SETUP_FEE = 2.0 ")
    replace_once(folder / "main.py", "MARKUP = 1.2 ", "MARKUP = 2.5 ")  # (2 + 200 * 0.05) * 2.5 = 30

    assert python(folder, "import judge, main; print(judge.feedback(main.main()))") == (
        "(0.0, 'output 30.0 is exactly right')")


def test_fix_bug_runs_and_is_judged(tmp_path: Path) -> None:
    result = autotrace_run(copy_example("fix_bug", tmp_path), "stats.py")

    assert result.returncode == 0, result.stderr
    assert "param stats.median (code)" in result.stdout
    assert result.stdout.count("correct") == 3
    assert "median([4, 1, 3, 2]) returned 3, expected 2.5" in result.stdout


def test_fix_bug_judge_gives_the_perfect_score_to_a_fixed_median(tmp_path: Path) -> None:
    folder = copy_example("fix_bug", tmp_path)
    replace_once(folder / "stats.py", "    return ordered[middle]\n",
                 "    if len(ordered) % 2:\n        return ordered[middle]\n"
                 "    return (ordered[middle - 1] + ordered[middle]) / 2\n")

    scores = python(folder, "import judge, stats\n"
                            "print([judge.feedback(stats.main(x), x)[0] for x in judge.examples()])")
    assert scores == str([1.0] * 6)


def test_threshold_tests_fails_one_visible_test_and_holds_the_boundaries_out(tmp_path: Path) -> None:
    """The README's figures: 3 of 4 visible tests pass, the 3 held-out ones too; the right fix passes all,
    a moved threshold passes every visible test and breaks a held-out one."""
    from autotrace.runners.tests_eval import SuiteEvaluator

    folder = copy_example("threshold_tests", tmp_path)
    assert "autotrace optimize --tests tests/ --holdout-tests boundaries" in (folder / "README.md").read_text()
    evaluator = SuiteEvaluator([folder / "tests"], holdout="boundaries")
    project, initial = evaluator.prepare()
    assert [p.name for p in project.params] == ["thermometer.readings.classify"]
    assert initial.describe() == "0.75 (3/4 pass), val 1 (3/3 pass)"
    source = project.params[0].initial
    assert source.count("if celsius > FEVER_FROM_C:") == 1
    fixed = evaluator(project, {"thermometer.readings.classify": source.replace("celsius > FEVER", "celsius >= FEVER")})
    assert fixed.describe() == "1 (4/4 pass), val 1 (3/3 pass)"
    moved = evaluator(project, {"thermometer.readings.classify": source.replace("celsius > FEVER_FROM_C", "celsius > 37.5")})
    assert moved.describe() == "1 (4/4 pass), val 0.333 (2/3 pass, 1 regressed)"


def route(request: dict) -> str:
    """A model that follows any system prompt perfectly: the right label for each judge message."""
    labelled = runpy.run_path(str(EXAMPLES / "prompt_app" / "judge.py"))["LABELLED"]
    return f"{labelled[request['messages'][-1]['content']].capitalize()}."


def test_prompt_app_runs_against_the_llm_server_and_is_judged(tmp_path: Path, llm_server: ScriptedLLMServer) -> None:
    folder = copy_example("prompt_app", tmp_path)
    llm_server.script("The message is about billing.", *[route] * 5)

    # No variable set: the app's unmodified OpenAI() client reaches the model autotrace gives it.
    result = autotrace_run(folder, "triage.py", "--app-base-url", llm_server.base_url, "--app-model", "scripted")

    assert result.returncode == 0, result.stderr
    assert "param triage.PROMPT (literal)" in result.stdout
    # The app sent its prompt and each labelled message through the openai client; its "gpt-4o-mini" was
    # answered by the model given.
    requests = [r.json for r in llm_server.chat_requests]
    assert len(requests) == 6
    assert {r["model"] for r in requests} == {"scripted"}
    assert requests[0]["messages"][0] == {"role": "system", "content": "You read messages from our customers.\n"
                                                                       "Tell us what the message is about."}
    # The judge: a sentence is no label; a label word is right (5 of 6 here).
    assert "answered 'the', which is no label: the answer must be exactly one word" in result.stdout
    assert result.stdout.count("  correct") == 5


def bbh_answer(request: dict) -> str:
    """A model that knows every BIG-Bench-Hard answer, written as the template's format asks."""
    targets = runpy.run_path(str(EXAMPLES / "bbh" / "judge.py"))["TARGETS"]
    question = request["messages"][-1]["content"].rsplit("Question: ", 1)[1].rsplit("\nAnswer:", 1)[0]
    return f"Answer: {targets[question]}"


def test_bbh_puts_the_question_in_the_template_calls_the_model_and_extracts_the_answer(
        tmp_path: Path, llm_server: ScriptedLLMServer) -> None:
    folder = copy_example("bbh", tmp_path)
    llm_server.script("False", *[bbh_answer] * 19)  # the first reply lacks "Answer:": extract_answer raises

    result = autotrace_run(folder, "program.py", "--app-base-url", llm_server.base_url, "--app-model", "scripted")

    assert result.returncode == 1, result.stderr  # one example raised
    for name in ("program.PROMPT_TEMPLATE (literal)", "program.create_prompt (code)", "program.extract_answer (code)"):
        assert f"param {name}" in result.stdout
    requests = [r.json for r in llm_server.chat_requests]
    assert len(requests) == 20  # the 15 train and 5 validation examples of the paper's split
    first = requests[0]["messages"][-1]["content"]
    assert first.startswith("Given the fields `question`, produce the fields `answer`.") and "\nQuestion: " in first
    # (it shows the 15 train examples; the 5 validation ones ran too)
    assert "IndexError" in result.stdout and result.stdout.count("  correct") == 14


def test_bbh_splits_each_task_15_5_and_the_rest() -> None:
    for task in ("boolean_expressions", "sports_understanding", "word_sorting"):
        env = environment(BBH_TASK=task)
        code = ("import judge, json; s = judge.SPLITS; print(json.dumps([len(s['train']), len(s['val']), "
                "len(s['test']), len({e['input'] for part in s.values() for e in part}), len(judge.DATA)]))")
        result = subprocess.run([sys.executable, "-c", code], cwd=EXAMPLES / "bbh", env=env, capture_output=True,
                                text=True, timeout=60, check=True)
        train, val, test, distinct, total = json.loads(result.stdout)
        assert (train, val) == (15, 5) and test == total - 20 >= 200 and distinct == total  # no question twice
