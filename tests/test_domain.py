"""Bounds and choices written in the marker: parsing, one-line errors, and proposals kept inside."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autotrace.domain import Domain, DomainError, parse
from autotrace.markers import MarkerError, find_params
from autotrace.optimizers.validate import validate
from autotrace.params import ParamSpec
from autotrace.search.space import Dimension


@pytest.mark.parametrize("text, expected, rest", [
    ("in [0, 1] share of the income", Domain("in [0, 1]", 0.0, 1.0), "share of the income"),
    ("in (0, 1] decay", Domain("in (0, 1]", 0.0, 1.0, low_open=True), "decay"),
    ("> 0", Domain("> 0", low=0.0, low_open=True), ""),
    ("<= 10 at most ten", Domain("<= 10", high=10.0), "at most ten"),
    ("int in [1, 500] a limit", Domain("int in [1, 500]", 1.0, 500.0, integer=True), "a limit"),
    ("log in [1e-6, 1]", Domain("log in [1e-6, 1]", 1e-6, 1.0, log=True), ""),
    ("in [1e-6, 1] log rate", Domain("in [1e-6, 1] log", 1e-6, 1.0, log=True), "rate"),
    ("log step size", Domain("log", 0.0, low_open=True, log=True), "step size"),
    ('one of ("name", "score") sort key', Domain('one of ("name", "score")', choices=("name", "score")), "sort key"),
])
def test_a_bound_at_the_start_of_the_description(text, expected, rest):
    assert parse(text) == (expected, rest)


@pytest.mark.parametrize("text", ["a real number", "integer from 1 to 8", "interest rate", "", "inside the box"])
def test_free_text_is_no_bound(text):
    assert parse(text) == (None, text)


@pytest.mark.parametrize("text, says", [
    ("in [1, ] oops", "does not parse"),
    ("in [5, 1]", "lower end must be below"),
    ("log in [0, 1]", "log scale needs values above 0"),
    ('one of ("a")', "at least two choices"),
    ("one of (a, b)", "tuple of literals"),
    ("int float > 0", "not both"),
])
def test_a_malformed_bound_says_what_is_wrong(text, says):
    with pytest.raises(DomainError, match=says):
        parse(text)


def test_open_bounds_and_ints_keep_values_inside():
    inside = Dimension("d", parse("in (0, 1)")[0])
    assert 0 < inside.value(1.7) < 1 and 0 < inside.value(-3.0) < 1
    count = Dimension("n", parse("int in (0, 10)")[0], integer=True)
    assert (count.value(-4.0), count.value(9.6), count.value(3.4)) == (1, 9, 3)
    assert count.nudged(9, 1) == 8  # the bound is in the way: the nudge turns down


def _spec(description: str, initial: object) -> ParamSpec:
    return ParamSpec(key="m.py::X", path=Path("m.py"), module="m", qualname="X", kind="literal",
                     description=description, initial=initial, line=1, domain=parse(description)[0])


def test_a_proposal_outside_the_bound_is_rejected_with_the_reason():
    rate, key = _spec("in [0, 1] a share", 0.25), _spec('one of ("name", "score")', "name")
    key = ParamSpec(**{**key.__dict__, "key": "m.py::K", "qualname": "K"})
    accepted, rejected = validate({"m.X": 1.5, "m.K": "age"}, [rate, key], {"m.X": 0.25, "m.K": "name"})
    assert accepted == {}
    assert rejected == {"m.X": "1.5 is outside in [0, 1]", "m.K": "'age' is not one of 'name', 'score'"}
    assert validate({"m.X": 0.5, "m.K": "score"}, [rate, key], {"m.X": 0.25, "m.K": "name"}) == (
        {"m.X": 0.5, "m.K": "score"}, {})


def test_an_int_bound_rejects_a_fraction():
    limit = _spec("int in [1, 500]", 10)
    assert validate({"m.X": 7.5}, [limit], {"m.X": 10})[1] == {"m.X": "7.5 is not an integer (the marker says int in [1, 500])"}


@pytest.mark.parametrize("line, says", [
    ("RATE = 0.5  # autotrace: param in [0, 1", "m.py:1: RATE: bound 'in [0, 1' does not parse"),
    ("RATE = 1.5  # autotrace: param in [0, 1]", "m.py:1: RATE: the value in the source: 1.5 is outside in [0, 1]"),
    ("NAME = 'x'  # autotrace: param > 0", "m.py:1: NAME: bound '> 0' is for numbers, and the value is 'x'"),
    ("N = 2.5  # autotrace: param int in [1, 5]", "m.py:1: N: bound 'int in [1, 5]': the value 2.5 is not an int"),
])
def test_a_bad_marker_bound_names_file_and_line(tmp_path, line, says):
    (tmp_path / "m.py").write_text(line + "\n")
    with pytest.raises(MarkerError) as error:
        find_params(tmp_path / "m.py", tmp_path, [tmp_path])
    assert str(error.value).startswith(says)
    assert "\n" not in str(error.value)


def test_the_cli_exits_2_on_a_malformed_bound(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.autotrace]\n")
    (tmp_path / "m.py").write_text("RATE = 0.5  # autotrace: param in [0, 1\n\ndef main():\n    return RATE\n")
    (tmp_path / "judge.py").write_text("def feedback(output):\n    return 0.0, ''\n")
    done = subprocess.run([sys.executable, "-m", "autotrace", "optimize", "m.py", "--feedback", "judge.py",
                           "--model", "scripted", "--base-url", "http://127.0.0.1:9/v1"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"OPENAI_API_KEY": "test", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith("m.py:1: RATE: bound 'in [0, 1' does not parse: "
                                                         "expected e.g. \"in [0, 1]\", \"in (0, 1]\", \"> 0\", "
                                                         "\"<= 10\", \"int in [1, 500]\", \"log in [1e-6, 1]\" or "
                                                         "'one of (\"a\", \"b\")'")
