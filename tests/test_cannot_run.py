"""When the original values cannot run whatever the parameters (:func:`runners.cannot_run.cannot_run`)."""

from __future__ import annotations

from pathlib import Path

from autotrace.evaluation import Evaluation, ExampleResult
from autotrace.params import ParamKind, ParamSpec
from autotrace.runners.cannot_run import cannot_run

PROMPT = ParamSpec("app.py::PROMPT", Path("/p/app.py"), "app", "PROMPT", ParamKind.LITERAL, "", "Say it.", 3)


def trace(line: str, code: str, error: str) -> str:
    return f'Traceback (most recent call last):\n  File "/p/app.py", line {line}, in main\n    {code}\n{error}\n'


def failed(*messages: str) -> Evaluation:
    return Evaluation(tuple(ExampleResult(failed=True, message=m, example=str(i)) for i, m in enumerate(messages)))


def test_the_same_error_everywhere_in_code_without_a_parameter_stops() -> None:
    error = trace("9", "key = settings['endpoint']", "KeyError: 'endpoint'")
    assert cannot_run([PROMPT], failed(error, error), Path("/p")) == (
        "the program fails on every example with its original values, in code no parameter takes part in: "
        "KeyError: 'endpoint'")


def test_a_line_with_a_parameter_different_errors_a_success_or_a_timeout_go_on() -> None:
    with_param = trace("9", "return PROMPT.format(x)", "KeyError: 'x'")
    assert cannot_run([PROMPT], failed(with_param, with_param), Path("/p")) is None
    one, other = trace("9", "f()", "KeyError: 'a'"), trace("9", "f()", "KeyError: 'b'")
    assert cannot_run([PROMPT], failed(one, other), Path("/p")) is None
    assert cannot_run([PROMPT], Evaluation((ExampleResult(failed=True, message=one), ExampleResult(score=1.0))),
                      Path("/p")) is None
    assert cannot_run([PROMPT], Evaluation((), problem="timed out after 60 s"), Path("/p")) is None


def test_an_import_error_stops_with_its_first_line() -> None:
    problem = "importing app raised ModuleNotFoundError: No module named 'x'\n" + trace(
        "1", "import x", "ModuleNotFoundError: No module named 'x'").replace("in main", "in <module>")
    assert cannot_run([PROMPT], Evaluation((), problem=problem), Path("/p")) == (
        "the program cannot run with its original values: importing app raised ModuleNotFoundError: "
        "No module named 'x'")
