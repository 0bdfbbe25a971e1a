"""The judge contract (autotrace/judge.py): what ``feedback`` may return, ``examples()``, and a judge that fails."""

from __future__ import annotations

import math
from pathlib import Path
from textwrap import dedent

import pytest

from autotrace.judge import JudgeError, Verdict, examples_of, judge_output, load_judge, normalize
from autotrace.project import Project
from autotrace.runners.program_runs import make_job, run_evaluation
from autotrace.runners.sandbox import Limits


def write_judge(folder: Path, source: str) -> Path:
    path = folder / "judge.py"
    path.write_text(dedent(source))
    return path


def one_line(error: pytest.ExceptionInfo[JudgeError]) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    return message


@pytest.mark.parametrize(
    ("returned", "verdict"),
    [
        (0.75, Verdict(0.75, "score 0.75")),
        (3, Verdict(3.0, "score 3.0")),
        (-2.5, Verdict(-2.5, "score -2.5")),
        ("output is too long", Verdict(None, "output is too long")),
        ((0.5, "half right"), Verdict(0.5, "half right")),
        ((1, ""), Verdict(1.0, "score 1.0")),  # an empty message still says something
    ],
)
def test_feedback_may_return_a_score_a_message_or_both(returned: object, verdict: Verdict) -> None:
    result = normalize(returned)
    assert result == verdict and (result.score is None or type(result.score) is float)


@pytest.mark.parametrize(
    "returned",
    [None, True, math.nan, b"1.0", [0.5, "list, not tuple"], (0.5,), (0.5, "ok", "extra"),
     ("0.5", "score as text"), (0.5, 7), {"score": 1.0}],
)
def test_any_other_return_value_is_a_judge_error(returned: object) -> None:
    with pytest.raises(JudgeError) as error:
        normalize(returned)
    assert "expected a float score, a str, or a (score, str) tuple" in one_line(error)


def test_feedback_gets_the_example_only_when_the_judge_has_examples(tmp_path: Path) -> None:
    judge = load_judge(write_judge(tmp_path, """
        def feedback(output, example=None):
            return float(output == (example or 0) * 2), f"got {output} for {example}"
    """))
    assert judge_output(judge.feedback, 6, 3, with_example=True) == Verdict(1.0, "got 6 for 3")
    assert judge_output(judge.feedback, 6, 3, with_example=False) == Verdict(0.0, "got 6 for None")


def test_a_raising_feedback_is_a_one_line_judge_error(tmp_path: Path) -> None:
    path = write_judge(tmp_path, """
        def feedback(output):
            return {}["score"]
    """)
    with pytest.raises(JudgeError) as error:
        judge_output(load_judge(path).feedback, 1, None, with_example=False)
    assert one_line(error) == f"{path}: feedback() raised KeyError: 'score'"


def test_a_multi_line_exception_still_gives_a_one_line_judge_error(tmp_path: Path) -> None:
    path = write_judge(tmp_path, """
        def feedback(output):
            raise AssertionError("cannot judge " + repr(output) + "\\nsecond line")
    """)
    with pytest.raises(JudgeError) as error:
        judge_output(load_judge(path).feedback, 42, None, with_example=False)
    assert one_line(error) == f"{path}: feedback() raised AssertionError: cannot judge 42 ..."


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("WANTED = 3\n", "the judge must define feedback(output)"),
        ("feedback = 'not a function'\n", "the judge must define feedback(output)"),
        ("def feedback(output):\n    return (\n", "importing the judge raised SyntaxError"),
        ("import no_such_module_for_autotrace\n", "importing the judge raised ModuleNotFoundError"),
    ],
)
def test_a_judge_that_cannot_be_used_is_refused_with_one_line(tmp_path: Path, source: str, problem: str) -> None:
    path = write_judge(tmp_path, source)
    with pytest.raises(JudgeError) as error:
        load_judge(path)
    assert one_line(error).startswith(f"{path}: ") and problem in str(error.value)


def test_a_missing_judge_file_is_a_judge_error(tmp_path: Path) -> None:
    with pytest.raises(JudgeError) as error:
        load_judge(tmp_path / "nope.py")
    assert one_line(error) == f"{tmp_path / 'nope.py'}: no such judge file"


def test_examples_are_optional_and_any_iterable(tmp_path: Path) -> None:
    without = load_judge(write_judge(tmp_path, "def feedback(output):\n    return 1.0\n"))
    assert examples_of(without) is None
    generated = load_judge(write_judge(tmp_path, """
        def examples():
            return (n * n for n in range(3))

        def feedback(output, example):
            return 1.0
    """))
    assert examples_of(generated) == [0, 1, 4]


@pytest.mark.parametrize(
    ("body", "problem"),
    [("return []", "judge examples() returned no examples"),
     ("return 1 / 0", "judge examples() raised ZeroDivisionError: division by zero"),
     ("return 5", "judge examples() raised TypeError")],
)
def test_bad_examples_are_a_judge_error(tmp_path: Path, body: str, problem: str) -> None:
    source = f"def examples():\n    {body}\n\n\ndef feedback(output, example):\n    return 1.0\n"
    judge = load_judge(write_judge(tmp_path, source))
    with pytest.raises(JudgeError) as error:
        examples_of(judge)
    assert one_line(error).startswith(problem)


def evaluate(folder: Path, judge_source: str):
    """Run ``folder/app.py``'s main under the judge, the way one optimization step does (in process)."""
    (folder / "pyproject.toml").write_text("")
    (folder / "app.py").write_text("FACTOR = 2  # autotrace: param\n\n\ndef main(x):\n    return x * FACTOR\n")
    judge = write_judge(folder, judge_source)
    project = Project.load(folder / "app.py")
    return run_evaluation(make_job(project, folder / "app.py", "main", judge, {}), Limits(), isolated=False)


def test_with_examples_the_entry_runs_once_per_example_and_the_score_is_the_mean(tmp_path: Path) -> None:
    evaluation = evaluate(tmp_path, """
        def examples():
            return [1, 2, 3, 4]

        def feedback(output, example):
            if output == example * 3:
                return 1.0, "right"
            return 0.0, f"{example} gave {output}, expected {example * 3}"
    """)
    assert [e.output for e in evaluation.examples] == ["2", "4", "6", "8"]
    assert evaluation.score == 0.0 and evaluation.failures == 0
    message = evaluation.message()
    assert [line.split("]")[0] for line in message.splitlines()] == [f"[example {i}" for i in range(1, 5)]
    assert "3 gave 6, expected 9" in message


def test_the_mean_counts_each_example_once(tmp_path: Path) -> None:
    evaluation = evaluate(tmp_path, """
        def examples():
            return [1, 5, 10]

        def feedback(output, example):
            return float(output > 5)
    """)
    assert evaluation.score == pytest.approx(2 / 3)


def test_a_judge_raising_during_an_evaluation_stops_it_with_a_judge_error(tmp_path: Path) -> None:
    with pytest.raises(JudgeError) as error:
        evaluate(tmp_path, """
            def examples():
                return [1]

            def feedback(output, example):
                return output["score"]
        """)
    assert "feedback() raised TypeError" in one_line(error)
