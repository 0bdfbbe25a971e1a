"""The pytest plugin's report by default: a test's calls counted, a failing test run once more, recorded, for
its DAG; against ``--autotrace-no-rerun``, which records every test as it runs. Driven as users drive it
(``python -m pytest -p autotrace`` in a subprocess, see test_pytest_plugin.py)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import SHOP, write
from test_pytest_plugin import EXPECTED, SHOP_TESTS, Session, run

from autotrace import graph as g
from autotrace.recorder import CallCounter, Recorder
from autotrace.runtime import Runtime
from autotrace.transforms.hook import Target, install, uninstall
from autotrace.transforms.plan import ModulePlan


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("shop"), SHOP)


@pytest.fixture(scope="module")
def sessions(shop: Path) -> tuple[Session, Session]:
    """The shop's suite by default (counted, failing tests run again) and recorded as it runs."""
    return run(shop, "--autotrace"), run(shop, "--autotrace", "--autotrace-no-rerun")


def _calls(test: dict) -> list[tuple[str, str]]:
    graph = g.from_json(test["graph"])
    return sorted((node, attrs["func"]) for node, attrs in graph.nodes(data=True) if attrs["kind"] == "call")


def _errors(test: dict) -> list[tuple[str, str, str]]:
    graph = g.from_json(test["graph"])
    return sorted((node, attrs["exc_type"], attrs["message"]) for node, attrs in graph.nodes(data=True)
                  if attrs["kind"] == "error")


def test_the_report_is_the_same_with_or_without_the_second_run(sessions: tuple[Session, Session]) -> None:
    counted, recorded = sessions
    assert counted.outcomes() == recorded.outcomes() == EXPECTED, counted.output
    assert counted.result.stdout.count("test_total") == recorded.result.stdout.count("test_total")  # reported once
    for name in SHOP_TESTS:
        mine, theirs = counted.test(name), recorded.test(name)
        same = ("outcome", "when", "message", "traceback", "longrepr", "stdout", "stderr", "source", "params",
                "calls", "called")
        assert {k: mine[k] for k in same} == {k: theirs[k] for k in same}, name
        assert (mine["graph"] is None) == (theirs["graph"] is None) == (EXPECTED[name] == "passed"), name
        if mine["graph"] is not None:
            assert _calls(mine) == _calls(theirs)
            assert _errors(mine) == _errors(theirs) != []
    assert counted.report["notes"] == recorded.report["notes"] == []


FLAKY = {
    "calc.py": """
        K = 2  # autotrace: param


        def twice(x):
            return K * x
    """,
    "test_flaky.py": """
        import os
        from pathlib import Path

        from calc import twice

        RUNS = Path(os.environ["STATE_OUT"]).with_name("runs.txt")


        def _run(name):
            with RUNS.open("a") as out:
                out.write(name + "\\n")
            return RUNS.read_text().splitlines().count(name)


        def test_passes():
            _run("passes")
            assert twice(2) == 4


        def test_fails():
            _run("fails")
            assert twice(2) == 5


        def test_fails_once():
            assert _run("fails_once") > 1 and twice(1) == 2
    """,
}


def test_a_failing_test_runs_twice_a_passing_one_once(tmp_path: Path) -> None:
    """The second run is unreported: pytest's outcomes and counts are the first run's; a test that does not
    fail again keeps no DAG, and the report says why."""
    root = write(tmp_path, FLAKY)
    session = run(root, "--autotrace")
    runs = (root / "runs.txt").read_text().splitlines()
    assert sorted(runs) == ["fails", "fails", "fails_once", "fails_once", "passes"], session.output
    assert session.outcomes() == {"test_passes": "passed", "test_fails": "failed", "test_fails_once": "failed"}
    assert "2 failed, 1 passed" in session.result.stdout
    fails, once = session.test("test_fails"), session.test("test_fails_once")
    assert fails["graph"] is not None and fails["params"] == ["calc.K"] and fails["source"].startswith("def test_fails")
    assert once["outcome"] == "failed" and once["graph"] is None and once["source"] == ""
    assert session.report["notes"] == ["test_flaky.py::test_fails_once: no DAG (it failed in call, but when run "
                                       "again to record it, its call passed)"]
    (root / "runs.txt").unlink()
    alone = run(root, "--autotrace", "--autotrace-no-rerun")
    assert sorted((root / "runs.txt").read_text().splitlines()) == ["fails", "fails_once", "passes"]
    assert alone.test("test_fails_once")["graph"] is not None  # recorded as it failed


def test_a_failing_setup_is_recorded_again_too(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "calc.py": "K = 2  # autotrace: param\n\n\ndef broken():\n    return K / 0\n",
        "test_setup.py": """
            import pytest

            from calc import broken


            @pytest.fixture
            def value():
                return broken()


            def test_uses(value):
                assert value
        """,
    })
    session = run(root, "--autotrace")
    test = session.test("test_uses")
    assert test["outcome"] == "error" and test["when"] == "setup" and test["params"] == ["calc.K"]
    assert "calc.broken" in {attrs.get("func") for _, attrs in g.from_json(test["graph"]).nodes(data=True)}
    assert session.report["notes"] == []


COUNTED = """
    LIMIT = 3  # autotrace: param
    STEP = 1  # autotrace: param


    def step(x, by=STEP):
        return x + by


    def walk(n):
        x = 0
        for _ in range(min(n, LIMIT)):
            x = step(x) if n % 2 else step(x, 2)
        return x


    def pairs(xs):
        yield from zip(xs, xs[1:])
"""
PARAMS = ["countlib.LIMIT", "countlib.STEP", "countlib.OTHER"]


@pytest.fixture
def counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Runtime, Any]]:
    """The module above, instrumented (its two constants parameters), and its runtime."""
    write(tmp_path, {"countlib.py": COUNTED})
    monkeypatch.syspath_prepend(str(tmp_path))
    runtime = Runtime()
    plan = ModulePlan(module="countlib", literals={"LIMIT": "countlib.LIMIT", "STEP": "countlib.STEP"},
                      param_names=frozenset(PARAMS[:2]))
    finder = install({tmp_path / "countlib.py": Target(plan)}, runtime, cache=False)
    try:
        yield runtime, importlib.import_module("countlib")
    finally:
        uninstall(finder)
        sys.modules.pop("countlib", None)


@pytest.mark.parametrize("limit", [None, 3])
def test_a_counter_says_what_a_recorder_says(counted: tuple[Runtime, Any], limit: int | None) -> None:
    """What the report of a passing test reads (calls made, functions and counts, parameters read, a default
    value's reads only when the caller left the argument out), the same from a counter as from a recorder."""
    runtime, lib = counted
    found = []
    for recorder in (Recorder(limit=limit), CallCounter(limit=limit)):
        for n in (5, 4):
            with runtime.recording(recorder):
                lib.walk(n)
                list(lib.pairs([1, 2, 3]))
        found.append((recorder.calls_made(), recorder.called(), recorder.params_read(PARAMS)))
    assert found[0] == found[1]
    assert found[0][0] == 2 * (1 + 3 + 1)
    assert found[0][2] == PARAMS[:2]


def test_a_default_not_left_out_is_not_read(counted: tuple[Runtime, Any]) -> None:
    runtime, lib = counted
    counter = CallCounter()
    with runtime.recording(counter):
        lib.walk(4)  # even: step(x, 2), its default never used
    assert counter.params_read(PARAMS) == ["countlib.LIMIT"]
    assert counter.called() == [("countlib.step", 3), ("countlib.walk", 1)]
    assert counter.calls_made() == 4


def test_a_test_with_subtests_is_recorded_as_it_runs(tmp_path: Path) -> None:
    """Run again, its subtests would be reported twice: it is recorded the first time, as without reruns."""
    root = write(tmp_path, {
        "calc.py": "K = 2  # autotrace: param\n\n\ndef twice(x):\n    return K * x\n",
        "test_sub.py": """
            from calc import twice


            def test_parts(subtests):
                for x, expected in ((1, 2), (2, 5)):
                    with subtests.test(x=x):
                        assert twice(x) == expected
        """,
    })
    session, recorded = run(root, "--autotrace"), run(root, "--autotrace", "--autotrace-no-rerun")
    test = session.test("test_parts")
    assert test["outcome"] == "failed" and test["params"] == ["calc.K"] and test["calls"] == 1 + 2
    assert {k: v for k, v in test.items() if k not in ("duration", "longrepr")} == \
        {k: v for k, v in recorded.test("test_parts").items() if k not in ("duration", "longrepr")}
    assert session.report["notes"] == []
    assert session.result.stdout.count("SUBFAILED") == 1, session.output


def test_with_maxfail_the_first_failure_stops_the_session_and_keeps_its_dag(tmp_path: Path) -> None:
    root = write(tmp_path, FLAKY)
    session = run(root, "--autotrace", "-x")
    assert session.outcomes() == {"test_passes": "passed", "test_fails": "failed"}, session.output
    assert session.result.returncode == 1 and "stopping after 1 failures" in session.result.stdout
    assert session.test("test_fails")["graph"] is not None
    assert sorted((root / "runs.txt").read_text().splitlines()) == ["fails", "fails", "passes"]
