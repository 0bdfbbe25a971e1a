"""What a pytest session's page shows, from the plugin's report data (:meth:`AutotraceSession.report`).

Per test: outcome, duration, assertion message, traceback, captured output, the parameters it read
and its DAG. Failing tests come first, and their DAGs are the ones drawn when there are many tests.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from autotrace import graph as g
from autotrace.suite_report import SuiteReport
from autotrace.text import truncate

from . import dag

#: DAGs drawn at most (failing tests first): a suite of thousands of tests stays a page that opens.
DAGS_DRAWN = 50
_CALLED_SHOWN = 8  # functions named in a passing test's note
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


def session_view(report: SuiteReport, *, use_graphviz: bool = True) -> SessionView:
    tests = sorted(report.tests, key=lambda t: (_ORDER.get(t.outcome, 9), t.nodeid))
    drawn = 0
    views = []
    for test in tests:
        drawing, note = None, "not recorded"
        if test.graph:
            if drawn < DAGS_DRAWN:
                drawing, note = dag.draw(g.from_json(test.graph), use_graphviz=use_graphviz), ""
                drawn += 1
            else:
                note = f"not drawn: the page draws {DAGS_DRAWN} DAGs at most (failing tests first)"
        elif test.calls:
            note = ("kept for failing tests only (--autotrace-graphs=all or --autotrace-keep for others); it called "
                    + ", ".join(f"{name} ×{count}" for name, count in test.called[:_CALLED_SHOWN])
                    + (", ..." if len(test.called) > _CALLED_SHOWN else ""))
        views.append(TestView(
            nodeid=test.nodeid, outcome=test.outcome, duration=test.duration, message=test.message,
            traceback=test.traceback, longrepr=test.longrepr, stdout=test.stdout, stderr=test.stderr,
            source=test.source, params=test.params, calls=test.calls, dag=drawing, dag_note=note))
    counts = Counter(v.outcome for v in views)
    return SessionView(
        root=report.root, exitstatus=report.exitstatus,
        counts=tuple(sorted(counts.items(), key=lambda kv: _ORDER.get(kv[0], 9))),
        params=tuple((p.name, p.kind, truncate(report.values.get(p.name, ""), 400)) for p in report.params),
        tests=tuple(views),
        errors=tuple((e.nodeid, e.longrepr) for e in report.errors),
        notes=report.notes,
    )
