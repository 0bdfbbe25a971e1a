"""The pytest plugin's report of one test session (``--autotrace-report``), as frozen dataclasses, and
its one JSON codec.

The plugin writes it (:mod:`autotrace.runners.pytest_session`); ``autotrace optimize --tests`` reads it
back from the child pytest (:mod:`autotrace.runners.tests_eval`) and the session page draws it
(:mod:`autotrace.report.session`). :func:`report_to_json` and :func:`report_from_json` are the only
code that knows the file's layout; reading checks its version and every field's type, so a report
written by another version of the plugin is refused with one line instead of misread.

A test's DAG is kept for the tests whose graph was asked for (failing ones, by default); every test
says which functions it called and how often (``called``) and which parameters those calls read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

#: The layout's version, written in every report and checked on reading.
REPORT_VERSION = 2

#: A test's outcomes: pytest's, plus "not run" for a test with no phase report that says how it ended.
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "not run")


class ReportError(ValueError):
    """A report file that is not this version's layout: one line saying what is wrong."""


@dataclass(frozen=True)
class TestResult:
    """One test: its outcome, why it failed, what it printed, what it called, and its DAG if kept."""

    __test__ = False  # not a test class, whatever pytest's name patterns say

    nodeid: str
    outcome: str = "not run"  # one of OUTCOMES
    when: str = ""  # the phase that failed: setup, call or teardown
    duration: float = 0.0
    message: str = ""  # the exception's one line (call.excinfo.exconly())
    traceback: str = ""  # the user's frames only
    longrepr: str = ""  # pytest's own failure report
    stdout: str = ""
    stderr: str = ""
    source: str = ""  # the test function's source, for the tests whose DAG is kept
    params: tuple[str, ...] = ()  # the parameters its recorded calls read
    calls: int = 0  # recorded calls, those past the per-test limit included
    called: tuple[tuple[str, int], ...] = ()  # (function, kept calls), most called first
    graph: dict[str, Any] | None = None  # the DAG as :func:`autotrace.graph.to_json` gives it
    held_out: bool = False  # matched --autotrace-holdout


@dataclass(frozen=True)
class CollectError:
    """A test file or folder that failed to collect."""

    nodeid: str
    longrepr: str


@dataclass(frozen=True)
class ReportParam:
    """A parameter of the project the session ran."""

    name: str
    key: str  # FILE::QUALNAME
    kind: str  # a ParamKind value
    description: str = ""


@dataclass(frozen=True)
class SuiteReport:
    """What one pytest session under the plugin found."""

    root: str  # the project root
    search_roots: tuple[str, ...]  # where its imports resolve from, deepest first
    params: tuple[ReportParam, ...]
    values: Mapping[str, str]  # parameter name -> the value text the session ran with
    instrumented: int  # modules given to the import hook
    exitstatus: int
    tests: tuple[TestResult, ...]
    errors: tuple[CollectError, ...] = ()
    notes: tuple[str, ...] = ()
    #: what the tests' run changed in the project and ``--tests`` undid (set by the reader, never by pytest)
    undone: tuple[str, ...] = field(default=())


def report_to_json(report: SuiteReport) -> str:
    """The report file's text: ``{"version": REPORT_VERSION, field: value, ...}``."""
    return json.dumps(report_to_dict(report), default=str)  # a graph attribute of no JSON type becomes its text


def report_to_dict(report: SuiteReport) -> dict[str, Any]:
    """The report as JSON data (what :func:`report_to_json` writes)."""
    return {
        "version": REPORT_VERSION, "root": report.root, "search_roots": list(report.search_roots),
        "params": [vars(p) for p in report.params], "values": dict(report.values),
        "instrumented": report.instrumented, "exitstatus": report.exitstatus,
        "tests": [{**vars(t), "params": list(t.params), "called": [list(c) for c in t.called]} for t in report.tests],
        "errors": [vars(e) for e in report.errors], "notes": list(report.notes), "undone": list(report.undone),
    }


def report_from_json(text: str | bytes) -> SuiteReport:
    """Read :func:`report_to_json`'s text back; anything else raises :class:`ReportError`."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ReportError(f"not a pytest report: {exc}") from None
    return report_from_dict(data)


def report_from_dict(data: Any) -> SuiteReport:
    """:func:`report_to_dict`'s data as a :class:`SuiteReport`, its version and field types checked."""
    top = _mapping(data, "the report")
    version = top.get("version")
    if version != REPORT_VERSION:
        raise ReportError(f"a pytest report of version {version!r}, expected {REPORT_VERSION}: "
                          "written by another version of the autotrace plugin")
    values = _mapping(top.get("values", {}), "values")
    return SuiteReport(
        root=_typed(top, "root", str, "the report"),
        search_roots=_strings(top.get("search_roots", []), "search_roots"),
        params=tuple(_param(p) for p in _items(top.get("params", []), "params")),
        values={_checked(k, str, "values"): _checked(v, str, f"values[{k!r}]") for k, v in values.items()},
        instrumented=_typed(top, "instrumented", int, "the report", 0),
        exitstatus=_typed(top, "exitstatus", int, "the report", 0),
        tests=tuple(_test(t) for t in _items(top.get("tests", []), "tests")),
        errors=tuple(CollectError(_typed(e, "nodeid", str, "a collection error"),
                                  _typed(e, "longrepr", str, "a collection error"))
                     for e in _items(top.get("errors", []), "errors")),
        notes=_strings(top.get("notes", []), "notes"),
        undone=_strings(top.get("undone", []), "undone"),
    )


def _param(data: Mapping[str, Any]) -> ReportParam:
    return ReportParam(_typed(data, "name", str, "a parameter"), _typed(data, "key", str, "a parameter"),
                       _typed(data, "kind", str, "a parameter"), _typed(data, "description", str, "a parameter", ""))


def _test(data: Mapping[str, Any]) -> TestResult:
    where = f"test {data.get('nodeid')!r}"
    outcome = _typed(data, "outcome", str, where, "not run")
    if outcome not in OUTCOMES:
        raise ReportError(f"{where}: outcome {outcome!r} is none of {', '.join(OUTCOMES)}")
    graph = data.get("graph")
    called = []
    for item in _items(data.get("called", []), f"{where}: called", kind=list):
        if len(item) != 2 or not isinstance(item[0], str) or type(item[1]) is not int:
            raise ReportError(f"{where}: called holds {item!r}, not [function, count]")
        called.append((item[0], item[1]))
    return TestResult(
        nodeid=_typed(data, "nodeid", str, where), outcome=outcome, when=_typed(data, "when", str, where, ""),
        duration=float(_typed(data, "duration", (int, float), where, 0.0)),
        message=_typed(data, "message", str, where, ""), traceback=_typed(data, "traceback", str, where, ""),
        longrepr=_typed(data, "longrepr", str, where, ""), stdout=_typed(data, "stdout", str, where, ""),
        stderr=_typed(data, "stderr", str, where, ""), source=_typed(data, "source", str, where, ""),
        params=_strings(data.get("params", []), f"{where}: params"), calls=_typed(data, "calls", int, where, 0),
        called=tuple(called), graph=dict(_mapping(graph, f"{where}: graph")) if graph is not None else None,
        held_out=_typed(data, "held_out", bool, where, False))


_T = TypeVar("_T")
_MISSING: Any = object()


def _typed(data: Mapping[str, Any], key: str, kind: type[_T] | tuple[type, ...], where: str,
           default: Any = _MISSING) -> _T:
    """``data[key]``, checked to be of ``kind`` (``default`` when absent, if there is one)."""
    if key not in data:
        if default is _MISSING:
            raise ReportError(f"{where}: no {key!r}")
        return default
    return _checked(data[key], kind, f"{where}: {key}")


def _checked(value: Any, kind: type[_T] | tuple[type, ...], where: str) -> _T:
    # bool is an int to isinstance: an int field must not take True, a float field takes ints
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ReportError(f"{where}: {type(value).__name__} {str(value)[:40]!r}, expected {_name(kind)}")
    return value  # type: ignore[return-value]


def _name(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ReportError(f"{where}: {type(value).__name__}, expected an object")
    return value


def _items(value: Any, where: str, *, kind: type = dict) -> list[Any]:
    if not isinstance(value, list) or not all(isinstance(item, kind) for item in value):
        raise ReportError(f"{where}: expected a list of {'objects' if kind is dict else 'lists'}")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ReportError(f"{where}: expected a list of strings")
    return tuple(value)
