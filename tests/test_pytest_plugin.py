"""The pytest plugin, driven as users drive it: ``python -m pytest -p autotrace ...`` in a subprocess, on
small projects written to a temporary folder. Each session runs once per module (fixtures) and
several tests read its report, so the suite stays quick."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from helpers import SHOP, child_env, write

from autotrace import graph as g

SHOP_TESTS = ("test_instrumented", "test_total", "test_average_of_nothing", "test_fee_seen_through_from_import",
              "test_plugin_state")


@dataclass
class Session:
    """One finished inner pytest session."""

    root: Path
    result: subprocess.CompletedProcess[str]
    report: dict[str, Any] | None

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr

    def outcomes(self) -> dict[str, str]:
        """Test name -> outcome, from pytest's own summary (``-rA``), with or without the plugin."""
        found = re.findall(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) \S*::(\w+)", self.result.stdout, re.M)
        return {name: outcome.lower() for outcome, name in found}

    def test(self, name: str) -> dict[str, Any]:
        assert self.report is not None, self.output
        return next(t for t in self.report["tests"] if t["nodeid"].endswith("::" + name))

    def state(self) -> dict[str, Any]:
        return json.loads((self.root / "state.json").read_text())


def run(root: Path, *args: str, report: bool = True, timeout: float = 180) -> Session:
    """``python -m pytest -p autotrace ARGS`` in ``root``, with the report in ``root/report.json``."""
    env = child_env("PYTEST_", "AUTOTRACE_", drop=("PYTHONPATH",))
    env["STATE_OUT"] = str(root / "state.json")
    report_path = root / "report.json"
    report_path.unlink(missing_ok=True)
    extra = [f"--autotrace-report={report_path}"] if report else []
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "autotrace", "-p", "no:cacheprovider", "-rA",
                             *extra, *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    data = json.loads(report_path.read_text()) if report_path.is_file() else None
    return Session(root, result, data)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("shop"), SHOP)


@pytest.fixture(scope="module")
def active(shop: Path) -> Session:
    return run(shop, "--autotrace")


EXPECTED = {"test_instrumented": "passed", "test_total": "failed", "test_average_of_nothing": "failed",
            "test_fee_seen_through_from_import": "passed", "test_plugin_state": "passed"}


# -- inactive unless asked ---------------------------------------------------------------------------


def test_without_the_option_the_plugin_does_nothing(shop: Path) -> None:
    session = run(shop, report=False)
    assert session.outcomes()["test_instrumented"] == "failed", session.output
    state = session.state()
    assert state["modules"] == ["autotrace", "autotrace.runners", "autotrace.runners.pytest_plugin"]
    assert not any("Autotrace" in f or "Tolerant" in f for f in state["finders"])
    assert "autotrace: " not in session.result.stdout  # no header line, no summary section


# -- active: instrumentation, report, DAG --------------------------------------------------------------


def test_project_modules_are_instrumented_and_tests_keep_assertion_rewriting(active: Session) -> None:
    assert active.outcomes() == EXPECTED, active.output
    assert "TolerantFinder" in active.state()["finders"]
    assert active.report["params"] == [{"name": "shop.rates.FEE", "key": "src/shop/rates.py::FEE", "kind": "literal",
                                        "description": "fee per item"}]
    assert active.report["instrumented"] == 3  # the package holding the parameter: __init__, rates, cart
    assert active.report["exitstatus"] == 1 and active.report["errors"] == [] and active.report["notes"] == []


def test_a_failing_test_reports_pytests_introspection_output_and_source(active: Session) -> None:
    test = active.test("test_total")
    assert test["outcome"] == "failed" and test["when"] == "call" and test["duration"] > 0
    assert test["message"] == "AssertionError: assert 7.5 == 9.0\n +  where 7.5 = total([1, 2])"
    assert "where 7.5 = total([1, 2])" in test["longrepr"] and "def test_total" in test["longrepr"]
    assert test["stdout"] == "pricing 2 items\n"
    assert test["source"].startswith("def test_total(items):\n    assert total(items) == 9.0")


def line_of(path: Path, text: str) -> str:
    """The number of the line of ``path`` that holds ``text``."""
    return str(next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line))


def test_the_traceback_leads_through_the_users_lines(active: Session, shop: Path) -> None:
    frames = re.findall(r'File "([^"]+)", line (\d+), in (\w+)\n +(.+)', active.test("test_average_of_nothing")["traceback"])
    test_file, cart = shop / "tests" / "test_cart.py", shop / "src" / "shop" / "cart.py"
    assert frames == [
        (str(test_file), line_of(test_file, "average([])"), "test_average_of_nothing", "assert average([]) == 0"),
        (str(cart), line_of(cart, "/ len(items)"), "average", "return total(items) / len(items)"),
    ]
    assert active.test("test_average_of_nothing")["traceback"].endswith("ZeroDivisionError: division by zero\n")


def test_the_dag_links_the_test_to_the_parameter(active: Session) -> None:
    test = active.test("test_total")
    assert test["params"] == ["shop.rates.FEE"] and test["calls"] == 4
    graph = g.from_json(test["graph"])
    funcs = {node: attrs.get("func") for node, attrs in graph.nodes(data=True)}
    assert funcs["call:0"] == "test_cart.test_total"  # the test is the run's entry
    readers = sorted(funcs[n] for n in graph.successors("param:shop.rates.FEE"))
    assert readers == ["shop.cart.price", "shop.cart.price"]
    assert nx.has_path(graph, "param:shop.rates.FEE", "call:0")
    assert nx.shortest_path(graph, "call:0", "output") == ["call:0", "error:0", "output"]
    assert graph.nodes["error:0"]["exc_type"] == "AssertionError"
    assert active.test("test_instrumented")["params"] == []  # it called nothing instrumented


# -- import modes, xdist ------------------------------------------------------------------------------


def test_import_mode_importlib(shop: Path, active: Session) -> None:
    session = run(shop, "--autotrace", "--import-mode=importlib")
    assert session.outcomes() == EXPECTED, session.output
    assert session.test("test_total")["params"] == ["shop.rates.FEE"]


def test_xdist_workers_instrument_and_the_controller_merges_the_report(shop: Path, active: Session) -> None:
    pytest.importorskip("xdist")
    session = run(shop, "--autotrace", "-p", "xdist", "-n", "2")  # by name: plugins are not autoloaded here
    assert session.outcomes() == EXPECTED, session.output
    assert sorted(t["nodeid"] for t in session.report["tests"]) == sorted(t["nodeid"] for t in active.report["tests"])
    for name in SHOP_TESTS:
        mine, single = session.test(name), active.test(name)
        assert (mine["outcome"], mine["params"], mine["calls"], mine["message"]) == \
               (single["outcome"], single["params"], single["calls"], single["message"])
    assert session.report["notes"] == []


# -- values ----------------------------------------------------------------------------------------------


def test_values_reach_every_from_import_of_the_constant(shop: Path, tmp_path: Path) -> None:
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"shop.rates.FEE": "3.0"}))
    session = run(shop, f"--autotrace-values={values}")  # implies --autotrace
    assert session.outcomes() == {**EXPECTED, "test_total": "passed"}, session.output
    assert session.report["values"] == {"shop.rates.FEE": "3.0"}
    passed, failed = session.test("test_total"), session.test("test_average_of_nothing")
    # recorded, but no DAG for a passing test: what it called and the parameter those calls read
    assert passed["graph"] is None and passed["calls"] == 4 and passed["source"] == ""
    assert passed["called"] == [["shop.cart.price", 2], ["shop.cart.total", 1], ["test_cart.test_total", 1]]
    assert passed["params"] == ["shop.rates.FEE"]
    assert g.from_json(failed["graph"]).nodes["param:shop.rates.FEE"]["value"] == "3.0"


def test_a_passing_test_keeps_its_dag_when_asked(shop: Path) -> None:
    """--autotrace-keep names passing tests whose source and DAG the report keeps; --autotrace-graphs=all
    keeps every test's. The DAG says what the call summary says."""
    kept = run(shop, "--autotrace-keep=instrumented or fee_seen")
    every = run(shop, "--autotrace-graphs=all")
    for session in (kept, every):
        assert session.outcomes() == EXPECTED, session.output
        test = session.test("test_fee_seen_through_from_import")
        graph = g.from_json(test["graph"])
        assert test["source"].startswith("def test_fee_seen_through_from_import")
        funcs = [attrs["func"] for _, attrs in graph.nodes(data=True) if attrs["kind"] == "call"]
        assert sorted((f, funcs.count(f)) for f in set(funcs)) == sorted(tuple(c) for c in test["called"])
    assert kept.test("test_plugin_state")["graph"] is None
    assert every.test("test_plugin_state")["graph"] is not None


def test_a_code_value_replaces_the_function(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "calc.py": "def double(x):  # autotrace: param\n    return x + x\n",
        "test_calc.py": "from calc import double\n\n\ndef test_double():\n    assert double(3) == 7\n",
    })
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"calc.double": "def double(x):\n    return 2 * x + 1\n"}))
    session = run(root, f"--autotrace-values={values}")
    assert session.outcomes() == {"test_double": "passed"}, session.output
    assert session.test("test_double")["params"] == ["calc.double"]


def test_subtests_keep_the_first_failure_and_one_dag_for_the_whole_test(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "calc.py": "K = 2  # autotrace: param\n\n\ndef twice(x):\n    return K * x\n",
        "test_sub.py": """
            from calc import twice


            def test_parts(subtests):
                for x, expected in ((1, 2), (2, 5), (3, 6)):
                    with subtests.test(x=x):
                        assert twice(x) == expected
        """,
    })
    session = run(root, "--autotrace")
    test = session.test("test_parts")
    assert test["outcome"] == "failed" and test["message"] == "AssertionError: assert 4 == 5\n +  where 4 = twice(2)"
    assert test["calls"] == 1 + 3 and test["params"] == ["calc.K"]  # recorded to the end, past the failure


@pytest.mark.parametrize("values, error", [
    ({"shop.rates.NOPE": "1"}, "no parameter 'shop.rates.NOPE' (parameters: shop.rates.FEE)"),
    ({"shop.rates.FEE": "2 +"}, "shop.rates.FEE: '2 +' is not a Python literal"),
    (["3.0"], "expected a JSON object mapping parameter names to value texts"),
])
def test_bad_values_are_one_usage_error(shop: Path, tmp_path: Path, values: object, error: str) -> None:
    path = tmp_path / "values.json"
    path.write_text(json.dumps(values))
    session = run(shop, f"--autotrace-values={path}")
    assert session.result.returncode == 4 and session.report is None
    assert f"ERROR: autotrace: --autotrace-values {path}: {error}" in session.result.stderr


def test_modules_imported_before_the_hook_are_named_and_values_for_them_refused(shop: Path, tmp_path: Path) -> None:
    write(shop, {"early_plugin.py": "import shop.rates\n"})  # a plugin loaded with -p, before conftests
    session = run(shop, "--autotrace", "-p", "early_plugin")
    assert session.report["notes"] == ["2 module(s) were imported before conftest.py files ran and run "
                                       "uninstrumented (calls not recorded, parameters at their source values): "
                                       "shop, shop.rates"]
    assert "before conftest.py files ran" in session.result.stdout  # in the terminal summary too
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"shop.rates.FEE": "3.0"}))
    refused = run(shop, "-p", "early_plugin", f"--autotrace-values={values}")
    assert refused.result.returncode == 4
    assert "--autotrace-values sets shop.rates.FEE, but its module was imported before" in refused.result.stderr


# -- --autotrace-all ---------------------------------------------------------------------------------------

LIBRARY = {
    "pkg/__init__.py": "from .stats import mean\n",
    "pkg/stats.py": """
        import functools


        def mean(xs):
            return sum(xs) / len(xs)


        def evens(n):
            for i in range(n):
                if i % 2 == 0:
                    yield i


        @functools.lru_cache(maxsize=None)
        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)


        class Box:
            def __init__(self, value):
                self.value = value

            @property
            def double(self):
                return self.value * 2

            @staticmethod
            def make(value):
                return Box(value)
    """,
    # valid Python that LibCST 1.9 cannot parse (Instagram/LibCST#1061): imported unchanged, with a note;
    # the name the runtime once used in rewritten text is an ordinary name
    "pkg/odd.py": "EMPTY = () if 0 else(lambda: ())\n__autotrace_rt__ = 'mine'\n\n\ndef name():\n"
                  "    return __autotrace_rt__\n",
    "pkg/test_inside.py": "from pkg.stats import mean\n\n\ndef test_inside():\n    assert mean([2, 4]) == 3\n",
    "tests/test_pkg.py": """
        import gc
        import weakref

        import pytest

        from pkg import mean, odd
        from pkg.stats import Box, evens, fib


        def test_mean():
            assert mean([1, 2, 3]) == 2


        def test_generator():
            assert list(evens(5)) == [0, 2, 4]


        def test_cached_recursion():
            assert fib(20) == 6765


        def test_methods():
            assert Box.make(2).double == 4


        def test_reserved_name():
            assert odd.name() == "mine"


        def test_deliberate_failure():
            assert mean([1, 1]) == 2


        @pytest.mark.xfail(strict=True)
        def test_expected_failure():
            assert mean([1]) == 2


        def test_empty():
            with pytest.raises(ZeroDivisionError):
                mean([])


        def test_result_is_garbage_collected():
            ref = weakref.ref(Box.make(1))
            gc.collect()
            assert ref() is None
    """,
}


#: LibCST's message on ``() if 0 else(lambda: ())``
LIBCST_FAILS = "super(type, obj): obj must be an instance or subtype of type"


def test_autotrace_all_gives_the_plain_outcomes(tmp_path: Path) -> None:
    root = write(tmp_path, LIBRARY)
    plain = run(root, report=False)
    instrumented = run(root, "--autotrace-all=pkg", report=False)
    assert instrumented.outcomes() == plain.outcomes() and len(plain.outcomes()) == 10, instrumented.output
    traced = run(root, "--autotrace-all=pkg")
    # recording holds Box.make's result weakly: it dies as in the plain run
    assert traced.outcomes() == plain.outcomes(), traced.output
    assert traced.report["instrumented"] == 3  # __init__, stats, odd; never a test file
    assert traced.test("test_cached_recursion")["calls"] == 1 + 21  # the test; lru_cache: each n computed once
    assert traced.test("test_generator")["calls"] == 1 + 1
    assert "where 1.0 = mean([1, 1])" in traced.test("test_deliberate_failure")["message"]  # assertion rewriting kept
    odd = root / "pkg" / "odd.py"
    note = f"{odd}: could not instrument (TypeError: {LIBCST_FAILS}); imported unchanged"
    assert [n for n in traced.report["notes"] if "odd.py" in n] == [note]


def test_notes_from_xdist_workers_reach_the_controllers_report(tmp_path: Path) -> None:
    pytest.importorskip("xdist")
    root = write(tmp_path, LIBRARY)
    session = run(root, "--autotrace-all=pkg", "-p", "xdist", "-n", "2")  # only the workers import pkg.odd
    assert len(session.report["tests"]) == 10, session.output
    assert [n for n in session.report["notes"] if "odd.py" in n] == [
        f"{root / 'pkg' / 'odd.py'}: could not instrument (TypeError: {LIBCST_FAILS}); imported unchanged"]


def test_autotrace_all_needs_a_folder(tmp_path: Path) -> None:
    session = run(write(tmp_path, LIBRARY), "--autotrace-all=nowhere")
    assert session.result.returncode == 4
    assert "ERROR: autotrace: --autotrace-all nowhere: no such folder" in session.result.stderr


# -- values shown without running the program's code ---------------------------------------------------
COUNTED = {
    "pyproject.toml": "",
    "counted.py": """
        class Deferred:
            shown = 0

            def __init__(self, value):
                self.value = value

            def __repr__(self):
                Deferred.shown += 1
                return f"Deferred({self.value!r})"

        def make(value):
            return Deferred(value)
    """,
    "test_counted.py": """
        from counted import Deferred, make

        def test_nothing_shows_the_value():
            make(123)
            assert Deferred.shown == 0
    """,
}


@pytest.mark.parametrize("asked", ["", "--autotrace-user-repr", "user_repr = true"])
def test_a_recorded_value_is_shown_by_its_own_repr_only_when_asked(tmp_path: Path, asked: str) -> None:
    """boltons' ``test_deferredvalue`` counts its ``__repr__`` calls: recording calls none, and the report
    shows the object's fields; ``--autotrace-user-repr`` (or the table's ``user_repr``) shows its own
    text, and then the test sees autotrace's call."""
    write(tmp_path, COUNTED)
    if asked.startswith("user_repr"):
        (tmp_path / "pyproject.toml").write_text(f"[tool.autotrace]\n{asked}\n")
    session = run(tmp_path, f"--autotrace-all={tmp_path}", "--autotrace-graphs=all",
                  *([asked] if asked.startswith("--") else []))
    made = next(n for n in session.test("test_nothing_shows_the_value")["graph"]["nodes"]
                if n.get("func") == "counted.make")
    if not asked:
        assert session.outcomes() == {"test_nothing_shows_the_value": "passed"}, session.output
        assert re.fullmatch(r"<counted\.Deferred object at 0x[0-9a-f]+: value=123>", made["value"])
    else:
        assert session.outcomes() == {"test_nothing_shows_the_value": "failed"}, session.output
        assert made["value"] == "Deferred(123)"
