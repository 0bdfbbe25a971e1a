"""What a pytest session's page shows, from the plugin's report data (:meth:`AutotraceSession.report`).

Per test: outcome, duration, assertion message, traceback, captured output, the parameters it read
and its DAG. Failing tests come first, and their DAGs are the ones drawn when there are many tests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autotrace import graph as g
from autotrace.text import truncate

from . import dag

#: DAGs drawn at most (failing tests first): a suite of thousands of tests stays a page that opens.
DAGS_DRAWN = 50
_ORDER = {"failed": 0, "error": 1, "xpassed": 2, "not run": 3, "skipped": 4, "xfailed": 5, "passed": 6}


@dataclass(frozen=True)
class TestView:
    nodeid: str
    outcome: str
    duration: float
    message: str
    traceback: str
    longrepr: str
    stdout: str
    stderr: str
    source: str
    params: tuple[str, ...]
    calls: int
    dag: dag.Drawing | None
    dag_note: str  # why there is no DAG


@dataclass(frozen=True)
class SessionView:
    root: str
    exitstatus: int
    counts: tuple[tuple[str, int], ...]
    params: tuple[tuple[str, str, str], ...]  # (name, kind, value text)
    tests: tuple[TestView, ...]
    errors: tuple[tuple[str, str], ...]  # collection errors: (node id, report)
    notes: tuple[str, ...]


def session_view(report: Mapping[str, Any], *, use_graphviz: bool = True) -> SessionView:
    tests = sorted(report.get("tests", []), key=lambda t: (_ORDER.get(t.get("outcome", ""), 9), t.get("nodeid", "")))
    drawn = 0
    views = []
    for test in tests:
        drawing, note = None, "not recorded"
        if test.get("graph"):
            if drawn < DAGS_DRAWN:
                drawing, note = dag.draw(g.from_json(test["graph"]), use_graphviz=use_graphviz), ""
                drawn += 1
            else:
                note = f"not drawn: the page draws {DAGS_DRAWN} DAGs at most (failing tests first)"
        elif test.get("outcome") == "passed" and test.get("calls"):
            note = "recorded for failing tests only (--autotrace-graphs=failed)"
        views.append(TestView(
            nodeid=str(test.get("nodeid", "")), outcome=str(test.get("outcome", "")),
            duration=float(test.get("duration") or 0.0), message=str(test.get("message") or ""),
            traceback=str(test.get("traceback") or ""), longrepr=str(test.get("longrepr") or ""),
            stdout=str(test.get("stdout") or ""), stderr=str(test.get("stderr") or ""),
            source=str(test.get("source") or ""), params=tuple(test.get("params") or ()),
            calls=int(test.get("calls") or 0), dag=drawing, dag_note=note))
    values = report.get("values") or {}
    counts = Counter(v.outcome for v in views)
    return SessionView(
        root=str(report.get("root", "")), exitstatus=int(report.get("exitstatus") or 0),
        counts=tuple(sorted(counts.items(), key=lambda kv: _ORDER.get(kv[0], 9))),
        params=tuple((str(p.get("name")), str(p.get("kind")), truncate(str(values.get(p.get("name"), "")), 400))
                     for p in report.get("params", [])),
        tests=tuple(views),
        errors=tuple((str(e.get("nodeid", "")), str(e.get("longrepr", ""))) for e in report.get("errors", [])),
        notes=tuple(str(n) for n in report.get("notes", [])),
    )
