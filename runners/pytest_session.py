"""The active side of the pytest plugin, imported only when an ``--autotrace*`` option is given.

Rewritten is the project's code — every module of each package that holds a parameter (for a module
outside any package, the modules beside it), so the functions reading a parameter from another module
are recorded too — and, with ``--autotrace-all=DIR``, every module under DIR. Test files and
conftest.py never are: they keep pytest's assertion rewriting.

With ``--autotrace-report``, each test runs under its own recorder (setup and call phases) and the
test function itself is recorded as the run's entry, so the test's DAG leads from the parameters,
through the calls that read them, into the test and on to its outcome. The DAG is built only for the
tests whose DAG is read: failing ones, those ``--autotrace-keep`` names, or all with
``--autotrace-graphs=all``; any other test's report says which functions it called, how often, and
which parameters they read. Recording a test in full (holding its values, taking their texts when each
call ends) costs several times what counting its calls does, and most tests pass: so a test whose DAG is
not asked for runs with its calls counted (:class:`~autotrace.recorder.CallCounter`), and a failing one
runs once more, right after, recorded and unreported, for its source and DAG; its outcome, message and
output stay the first run's (``--autotrace-no-rerun``: every test recorded as it runs, docs/decisions/
pytest-plugin-cost.md). Without a report nothing is recorded: the
DAGs would go nowhere, and recording keeps every argument and result alive until the test ends, which
a test about garbage collection (a weak reference expected to die) can notice.

While a report is written, the program's functions run their recording code for the whole session
(it checks for an active recorder on each call) instead of being switched to it and back around
every test phase.

Under pytest-xdist every worker installs its own hook and attaches its per-test results to the
reports it sends; the controller sees every report, so it alone writes ``--autotrace-report``.
"""

from __future__ import annotations

import fnmatch
import inspect
import json
import os
import sys
from argparse import Namespace
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from _pytest.mark import KeywordMatcher
from _pytest.mark import expression as keyword_expressions

from autotrace.atomic import atomic_write
from autotrace.config import DEFAULTS
from autotrace.markers import SKIP_DIRS, MarkerError, module_name
from autotrace.params import ParamKind, ParamSpec, text_to_literal
from autotrace.project import ConfigError, Project, find_root
from autotrace.recorder import CallCounter, ParamNode, Recorder, RunOutcome, build_graph, user_traceback
from autotrace.runtime import Runtime
from autotrace.suite_report import CollectError, ReportParam, SuiteReport, TestResult, report_to_json
from autotrace.text import truncate
from autotrace.transforms.hook import AutotraceFinder, AutotraceLoader, Target, uninstall
from autotrace.transforms.plan import ModulePlan
from autotrace.values import TEXTS

#: A ``--autotrace-report`` file with one of these suffixes is written as an HTML page, any other as JSON.
HTML_SUFFIXES = (".html", ".htm")
#: Calls kept per test. Later calls run unrecorded: recording keeps every argument and result alive
#: until the test ends, so a test calling an instrumented function millions of times would exhaust memory.
CALLS_KEPT = 10_000
#: Values detached per test that keep their full text (a test's DAG shows its first calls in full; later
#: ones show their values' type and identity): a loop over one large object pays for its text once per
#: call otherwise, most of the cost of recording such a test.
TEXTS_KEPT = 1_000
_TEXT_LIMIT = 4000  # characters kept of a test's source, or of pytest's failure report
_OUTPUT_LIMIT = 2000  # characters kept of the end of captured stdout and stderr
_NAMES_SHOWN = 8  # module names listed in a note

_RECORDER = pytest.StashKey[Recorder]()
_TEST = pytest.StashKey[Any]()  # the test function as collected, before it is wrapped for recording
_RUNNING = pytest.StashKey[bool]()  # inside the call phase: a report made now is a subtest's
_COUNTING = pytest.StashKey[bool]()  # this run of the test counts its calls (CallCounter) instead of recording them
_SUBTESTS = pytest.StashKey[bool]()  # the test reported subtests: running it again would report them twice


class AutotraceSession:
    """Registered as a pytest plugin while active: owns the hook, the runtime and the results."""

    def __init__(self, config: pytest.Config, options: Namespace, *, late: bool) -> None:
        self.config = config
        self.notes: list[str] = []
        self.report_path = Path(options.autotrace_report).resolve() if options.autotrace_report else None
        self.all_graphs = options.autotrace_graphs == "all"
        #: Count a test's calls, and record a failing test's run again to build its DAG (see the docstring);
        #: off: record every test in full as it runs. Never under --pdb (a failure would stop twice).
        self.rerun = not options.autotrace_no_rerun and not config.getoption("usepdb", False)
        try:
            self.holdout = keyword_expression(options.autotrace_holdout) if options.autotrace_holdout else None
        except ValueError as exc:
            raise pytest.UsageError(f"autotrace: --autotrace-holdout: {exc}") from None
        try:
            self.keep = keyword_expression(options.autotrace_keep) if options.autotrace_keep else None
        except ValueError as exc:
            raise pytest.UsageError(f"autotrace: --autotrace-keep: {exc}") from None
        self.root = find_root(config.rootpath)
        self.search_roots = search_roots(self.root)
        try:
            self.project = Project.load(None, options.autotrace_param, root=self.root, search_roots=self.search_roots)
        except (MarkerError, ConfigError) as exc:
            raise pytest.UsageError(f"autotrace: {exc}") from None
        is_test_file = collected_as_tests(config.getini("python_files"))
        for spec in self.project.params:
            if is_test_file(spec.path):
                raise pytest.UsageError(f"autotrace: {spec.key}: a parameter cannot live in a test file or "
                                        "conftest.py (those keep pytest's assertion rewriting)")
        texts = read_values(Path(options.autotrace_values), self.project.params) if options.autotrace_values else {}
        TEXTS.user_repr = options.autotrace_user_repr or self.project.config.get("user_repr", DEFAULTS["user_repr"])
        self.values = {p.name: texts.get(p.name, _initial_text(p)) for p in self.project.params}
        self.runtime = Runtime({p.name: text_to_literal(texts[p.name]) for p in self.project.params
                                if p.kind is ParamKind.LITERAL and p.name in texts})
        self.param_nodes = [ParamNode(p.name, self.runtime.values.get(p.name, p.initial) if p.kind is ParamKind.LITERAL
                                      else self.values[p.name], p.kind, p.description) for p in self.project.params]
        targets = self._targets(texts, Path(options.autotrace_all) if options.autotrace_all else None, is_test_file)
        self._check_imported(targets, texts, late)
        self.instrumented = len(targets)
        self.finder = TolerantFinder(targets, self.runtime, self.notes.append)
        sys.meta_path.insert(0, self.finder)
        if self.report_path is not None:
            self.runtime.keep_recording_code(True)
        self.tests: dict[str, TestResult] = {}
        self.errors: list[CollectError] = []
        if not self.project.params and not options.autotrace_all:
            self.notes.append(f"no parameters under {self.root}: mark one with '# autotrace: param' "
                              "or pass --autotrace-param FILE::NAME")

    def close(self) -> None:
        uninstall(self.finder)
        self.runtime.keep_recording_code(False)
        TEXTS.user_repr = DEFAULTS["user_repr"]
        TEXTS.reset()

    @property
    def collecting(self) -> bool:
        """Whether this process writes the report: yes, unless it is an xdist worker (``workerinput``
        is set on a worker's config once it is configured; the environment would be inherited by any
        pytest a test starts)."""
        return self.report_path is not None and not hasattr(self.config, "workerinput")

    # -- setup -------------------------------------------------------------------------------------
    def _targets(self, texts: Mapping[str, str], all_dir: Path | None,
                 is_test_file: Callable[[Path], bool]) -> dict[Path, Target]:
        plans = self.project.plans()
        candidates: dict[Path, dict[str, str]] = {}
        for spec in self.project.params:
            if spec.kind is ParamKind.CODE and spec.name in texts and texts[spec.name] != spec.initial:
                candidates.setdefault(spec.path, {})[spec.qualname] = texts[spec.name]
        targets = {path: Target(plan, candidates.get(path, {})) for path, plan in plans.items()}
        extra = project_modules(list(plans), is_test_file)
        if all_dir is not None:
            if not all_dir.is_dir():
                raise pytest.UsageError(f"autotrace: --autotrace-all {all_dir}: no such folder")
            extra += modules_under(all_dir.resolve(), is_test_file)
        names = frozenset(p.name for p in self.project.params)
        derived = next(iter(plans.values())).derived if plans else {}  # every plan holds the project-wide map
        for path in extra:
            if path not in targets:
                plan = ModulePlan(module=module_name(path, self.search_roots), param_names=names, derived=derived)
                targets[path] = Target(plan)
        return targets

    def _check_imported(self, targets: Mapping[Path, Target], texts: Mapping[str, str], late: bool) -> None:
        """Modules imported before the hook existed run uninstrumented: say so, and refuse values they
        could not take."""
        early = imported_already(targets)
        if not early:
            return
        when = ("before conftest.py files ran" if not late
                else "before the plugin was loaded (load it with -p autotrace)")
        names = ", ".join(sorted(early)[:_NAMES_SHOWN]) + (", ..." if len(early) > _NAMES_SHOWN else "")
        self.notes.append(f"{len(early)} module(s) were imported {when} and run uninstrumented "
                          f"(calls not recorded, parameters at their source values): {names}")
        files = set(early.values())
        stuck = [p.name for p in self.project.params if p.name in texts and os.path.realpath(p.path) in files]
        if stuck:
            raise pytest.UsageError(f"autotrace: --autotrace-values sets {stuck[0]}, but its module was imported "
                                    f"{when}: the value cannot take effect")

    # -- counting first, recording a failing test again -------------------------------------------
    def _graph_asked(self, item: pytest.Item) -> bool:
        """Whether the test's DAG is kept whatever its outcome (``--autotrace-graphs=all``, ``--autotrace-keep``)."""
        return self.all_graphs or (self.keep is not None and self.keep.evaluate(KeywordMatcher.from_item(item)))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
        """A test whose DAG is not asked for runs with its calls counted, not recorded; should its setup or
        call fail, it runs once more, recorded, unreported, and that run's source and DAG ride on the first
        run's teardown report. The outcome, messages and output are the first run's. None (pytest runs the
        test itself) when the test is recorded as it runs: its DAG is asked for, or it takes the ``subtests``
        fixture (a second run would report its subtests again; a unittest ``subTest`` is seen only when it
        reports, and such a failing test then gets no DAG)."""
        if self.report_path is None or not self.rerun or self._graph_asked(item) \
                or "subtests" in getattr(item, "fixturenames", ()):  # its subtests would be reported twice
            return None
        from _pytest.runner import runtestprotocol

        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        item.stash[_COUNTING] = True
        try:
            reports = _run_phases(item, nextitem)
        finally:
            item.stash[_COUNTING] = False
        teardown: Any = reports[-1]  # its ``autotrace`` data is this plugin's own attribute
        failed = next((r for r in reports if r.failed and r.when in ("setup", "call")), None)
        if failed is not None and item.stash.get(_SUBTESTS, False):
            self.notes.append(f"{item.nodeid}: no DAG (a test with subtests is not run again to record it; "
                              "--autotrace-no-rerun records it as it runs)")
        elif failed is not None:
            again = runtestprotocol(item, nextitem=nextitem, log=False)
            same = next((r for r in again if r.when == failed.when), None)
            run = getattr(same, "autotrace", {}).get("run") if same is not None and same.failed else None
            if run is not None and "graph" in run:
                teardown.autotrace = {**(getattr(teardown, "autotrace", None) or {}), "run": run}
            else:
                outcome = same.outcome if same is not None else "not run"
                self.notes.append(f"{item.nodeid}: no DAG (it failed in {failed.when}, but when run again to "
                                  f"record it, its {failed.when} {outcome})")
        ihook.pytest_runtest_logreport(report=teardown)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    # -- recording each test -----------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        if self.report_path is None:
            return (yield)
        recorder = item.stash[_RECORDER] = (CallCounter(limit=CALLS_KEPT) if item.stash.get(_COUNTING, False)
                                            else Recorder(limit=CALLS_KEPT, texts=TEXTS_KEPT))
        with self.runtime.recording(recorder):
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        recorder = item.stash.get(_RECORDER, None)
        if recorder is None:
            return (yield)
        item.stash[_RUNNING] = True
        try:
            with self.runtime.recording(recorder):
                return (yield)
        finally:
            item.stash[_RUNNING] = False

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, None, object]:
        """The test function becomes a recorded call: the entry of the test's DAG."""
        if _RECORDER not in pyfuncitem.stash:
            return (yield)
        test = pyfuncitem.stash[_TEST] = pyfuncitem.obj
        pyfuncitem.obj = self.runtime.record(_test_name(pyfuncitem), (), {}, None)(test)
        try:
            return (yield)
        finally:
            pyfuncitem.obj = test

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        report = yield
        ended = not item.stash.get(_RUNNING, False)  # else a subtest's report: the test goes on
        if not ended:
            item.stash[_SUBTESTS] = True
        ran = (call.when == "call" and ended) or (call.when == "setup" and not report.passed)
        if self.report_path is not None and (ran or report.failed):
            data: dict[str, Any] = {}
            if call.excinfo is not None:
                data["failure"] = {"message": truncate(call.excinfo.exconly(), _TEXT_LIMIT, "ends"),
                                   "traceback": truncate(user_traceback(call.excinfo.value), _TEXT_LIMIT, "ends")}
            if ran:
                read = report.failed or self._graph_asked(item)
                data["run"] = self._run_data(item, call, graph=read and not item.stash.get(_COUNTING, False))
            if self.holdout is not None:
                data["held_out"] = self.holdout.evaluate(KeywordMatcher.from_item(item))
            report.autotrace = data  # plain JSON data: xdist sends it to the controller with the report
        if ran and _RECORDER in item.stash:
            del item.stash[_RECORDER]  # the recorded arguments and results may be released now
        return report

    def _run_data(self, item: pytest.Item, call: pytest.CallInfo[None], *, graph: bool) -> dict[str, Any]:
        """A finished test's recording: what it called and the parameters those calls read, and, when its
        DAG is read (``graph``), its source and DAG."""
        data: dict[str, Any] = {"source": truncate(_source(item), _TEXT_LIMIT, "ends")} if graph else {}
        recorder = item.stash.get(_RECORDER, None)
        if recorder is None:
            return data
        data["calls"] = recorder.calls_made()
        data["called"] = recorder.called()
        data["params"] = recorder.params_read(node.name for node in self.param_nodes)
        if not graph:
            return data
        test = item.stash.get(_TEST, None)
        entry = recorder.first_call_of(test) if test is not None else None
        error = call.excinfo.value if call.excinfo is not None else None
        try:
            dag = build_graph(recorder, self.param_nodes, RunOutcome(entry, error=error))
        except Exception as exc:  # a recording problem must never change the test's outcome
            self.notes.append(f"{item.nodeid}: no DAG ({type(exc).__name__}: {exc})")
            return data
        from autotrace import graph as g  # networkx: loaded only when a DAG is kept

        data["params"] = sorted(attrs["param"] for node, attrs in dag.nodes(data=True)
                                if attrs["kind"] == "param" and dag.out_degree(node))
        data["graph"] = g.to_json(dag)
        return data

    # -- results (the controller) ------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.collecting:
            merge_phase(self.tests, report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if self.collecting and report.failed:
            self.errors.append(CollectError(report.nodeid, truncate(report.longreprtext, _TEXT_LIMIT, "ends")))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist controller: a worker's notes arrive with its output."""
        for note in getattr(node, "workeroutput", {}).get("autotrace_notes", []):
            if note not in self.notes:
                self.notes.append(note)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput["autotrace_notes"] = list(self.notes)
        elif self.report_path is not None:
            atomic_write(self.report_path, report_bytes(self.report_path, self.report(int(exitstatus))))

    def report(self, exitstatus: int) -> SuiteReport:
        return SuiteReport(
            root=str(self.root), search_roots=tuple(str(p) for p in self.search_roots),
            params=tuple(ReportParam(p.name, p.key, p.kind.value, p.description) for p in self.project.params),
            values=dict(self.values), instrumented=self.instrumented, exitstatus=exitstatus,
            tests=tuple(self.tests.values()), errors=tuple(self.errors), notes=tuple(self.notes))

    def pytest_report_header(self, config: pytest.Config) -> str:
        return (f"autotrace: {len(self.project.params)} parameter(s), {self.instrumented} module(s) to instrument, "
                f"root {self.root}")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = [*self.notes, *([f"report written to {self.report_path}"] if self.report_path else [])]
        if lines:
            terminalreporter.write_sep("-", "autotrace")
            for line in lines:
                terminalreporter.write_line(line)


def _run_phases(item: pytest.Item, nextitem: pytest.Item | None) -> list[pytest.TestReport]:
    """pytest's ``runtestprotocol`` (setup, call, teardown; the setup and call reports logged as they are
    made), except that the teardown report is returned unlogged: the report of a rerun rides on it."""
    from _pytest.runner import call_and_report, show_test_item

    hasrequest = hasattr(item, "_request")
    if hasrequest and not item._request:  # type: ignore[attr-defined]
        item._initrequest()  # type: ignore[attr-defined]
    try:
        report = call_and_report(item, "setup", True)
        reports = [report]
        if report.passed:
            setup_only = item.config.getoption("setuponly", False)
            if item.config.getoption("setupshow", False):
                show_test_item(item, add_space=not setup_only)
            if not setup_only:
                reports.append(call_and_report(item, "call", True))
        if item.session.shouldfail or item.session.shouldstop:
            nextitem = None
        reports.append(call_and_report(item, "teardown", False, nextitem=nextitem))
    finally:
        if hasrequest:
            item._request = False  # type: ignore[attr-defined]
            item.funcargs = None  # type: ignore[attr-defined]
    return reports


def report_bytes(path: Path, report: SuiteReport) -> bytes:
    """The report as ``path``'s suffix asks: an HTML page for ``.html``/``.htm``, else JSON (what
    ``autotrace optimize --tests`` reads)."""
    text = report_to_json(report)
    if path.suffix.lower() in HTML_SUFFIXES:
        from autotrace.report.page import session_html
        from autotrace.report.session import session_view
        from autotrace.suite_report import report_from_json

        return session_html(session_view(report_from_json(text))).encode("utf-8")  # graph values as JSON has them
    return text.encode()


# -- the per-test results ----------------------------------------------------------------------------


def merge_phase(tests: dict[str, TestResult], report: pytest.TestReport) -> None:
    """Fold one phase's report (setup, call, teardown) into its test's entry. A test's outcome is
    pytest's: failed (in the call), error (in setup or teardown), passed, skipped, xfailed, xpassed;
    its message comes from the first phase that failed."""
    test = tests.get(report.nodeid) or TestResult(report.nodeid)
    data = getattr(report, "autotrace", None) or {}
    run = data.get("run", {})
    changes: dict[str, Any] = {"duration": test.duration + report.duration,
                               "held_out": data.get("held_out", test.held_out)}
    if run:
        changes.update(run, params=tuple(run.get("params", test.params)),
                       called=tuple((name, count) for name, count in run.get("called", test.called)))
    if report.capstdout or report.capstderr:  # later phases' reports repeat the earlier phases' output
        changes["stdout"] = truncate(report.capstdout, _OUTPUT_LIMIT, "tail")
        changes["stderr"] = truncate(report.capstderr, _OUTPUT_LIMIT, "tail")
    if test.outcome not in ("failed", "error"):  # a later report (a passing subtest, a teardown) never undoes a failure
        expected_failure = hasattr(report, "wasxfail")
        if report.failed:
            changes.update(outcome="failed" if report.when == "call" else "error", when=report.when,
                           longrepr=truncate(report.longreprtext, _TEXT_LIMIT, "ends"), **data.get("failure", {}))
        elif report.skipped:
            changes["outcome"] = "xfailed" if expected_failure else "skipped"
        elif report.when == "call":
            changes["outcome"] = "xpassed" if expected_failure else "passed"
    tests[report.nodeid] = replace(test, **changes)


#: What pytest's expression parser raises: SyntaxError from pytest 9, its own ParseError before.
_PARSE_ERRORS: tuple[type[Exception], ...] = (SyntaxError, getattr(keyword_expressions, "ParseError", SyntaxError))


def keyword_expression(text: str) -> keyword_expressions.Expression:
    """``text`` compiled by pytest's own ``-k`` parser (match it against an item with
    ``KeywordMatcher.from_item``: names of the test and its parents, markers, extra keywords, as ``-k``
    does); a ValueError that says where it is wrong."""
    try:
        return keyword_expressions.Expression.compile(text)
    except _PARSE_ERRORS as exc:
        column = getattr(exc, "offset", None) or getattr(exc, "column", None)  # SyntaxError's, ParseError's
        where = f" at column {column}" if column else ""
        reason = getattr(exc, "msg", None) or getattr(exc, "message", None) or str(exc)
        raise ValueError(f"{text!r} is not a -k expression{where}: {reason}") from None


# -- the import hook's side --------------------------------------------------------------------------


class TolerantFinder(AutotraceFinder):
    """The import hook, except that a module without parameters that cannot be instrumented
    (third-party code under ``--autotrace-all``) is imported unchanged, with a note, instead of
    failing the suite."""

    def __init__(self, targets: Mapping[Path, Target], runtime: Runtime, note: Callable[[str], None]) -> None:
        super().__init__(targets, runtime)
        self.note = note

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        spec = super().find_spec(fullname, path, target)
        if spec is not None and type(spec.loader) is AutotraceLoader:
            inner = spec.loader
            spec.loader = TolerantLoader(inner.fullname, inner.origin, inner.target, inner.runtime, inner.use_cache,
                                         inner.sources, self.note)
        return spec


class TolerantLoader(AutotraceLoader):
    def __init__(self, fullname: str, origin: str, target: Target, runtime: Runtime, cache: bool,
                 sources: dict[str, str], note: Callable[[str], None]) -> None:
        super().__init__(fullname, origin, target, runtime, cache, sources)
        self.note = note

    def get_code(self, fullname: str) -> Any:
        try:
            return super().get_code(fullname)
        except Exception as exc:
            plan = self.target.plan
            if plan.literals or plan.functions or self.target.candidates:
                raise  # a parameter's module must be instrumented: this is the candidate's or the user's error
            reason = str(exc).splitlines()[0] if str(exc) else ""
            self.note(f"{self.origin}: could not instrument ({type(exc).__name__}: {reason}); imported unchanged")
            return compile(self.get_source(fullname), self.origin, "exec", dont_inherit=True)


def search_roots(root: Path) -> list[Path]:
    """Where this session's imports resolve from, deepest first, so that a module is named the way it
    is imported: the ``sys.path`` folders (pytest's ``pythonpath``, an editable install's src/) and the
    project root and its src/. A package folder on ``sys.path`` (a ``python -m pytest`` run from
    inside one) names nothing: its modules are imported through the package."""
    found = {Path(os.path.realpath(entry or os.curdir)) for entry in sys.path}
    found.update((root / "src", root))
    roots = [p for p in found if p.is_dir() and not (p / "__init__.py").is_file()]
    return sorted(roots, key=lambda p: (-len(p.parts), str(p)))


def collected_as_tests(patterns: Iterable[str]) -> Callable[[Path], bool]:
    """Whether a file is one pytest collects as a test module (``python_files``) or a conftest.py."""
    patterns = list(patterns)

    def is_test_file(path: Path) -> bool:
        return path.name == "conftest.py" or any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)

    return is_test_file


def project_modules(param_files: Iterable[Path], is_test_file: Callable[[Path], bool]) -> list[Path]:
    """The project's code, so that the functions reading a parameter from another module are recorded
    too: every module of each top-level package holding a parameter, or, for a module outside any
    package, the modules beside it."""
    found: list[Path] = []
    for folder in sorted({_package_top(path) for path in param_files}):
        if (folder / "__init__.py").is_file():
            found.extend(modules_under(folder, is_test_file))
        else:
            found.extend(modules_under(folder, is_test_file, recursive=False))
    return found


def _package_top(path: Path) -> Path:
    folder = path.parent
    while (folder / "__init__.py").is_file() and (folder.parent / "__init__.py").is_file():
        folder = folder.parent
    return folder


def modules_under(folder: Path, is_test_file: Callable[[Path], bool], *, recursive: bool = True) -> list[Path]:
    """The importable modules under ``folder``, test files and conftest.py excepted."""
    found = []
    for path in sorted(folder.rglob("*.py") if recursive else folder.glob("*.py")):
        rel = path.relative_to(folder).parts
        if SKIP_DIRS.intersection(rel[:-1]) or not path.stem.isidentifier() or is_test_file(path):
            continue
        found.append(path)
    return found


def imported_already(targets: Iterable[Path]) -> dict[str, str]:
    """Modules in ``sys.modules`` (name -> real path) whose file is among ``targets``: too late to rewrite."""
    files = {os.path.realpath(p) for p in targets}
    names = {os.path.basename(f) for f in files}
    early = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and os.path.basename(file) in names and os.path.realpath(file) in files:
            early[name] = os.path.realpath(file)
    return early


def read_values(path: Path, params: Sequence[ParamSpec]) -> dict[str, str]:
    """``--autotrace-values``: parameter name -> value text, each checked against its parameter."""
    where = f"autotrace: --autotrace-values {path}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise pytest.UsageError(f"{where}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise pytest.UsageError(f"{where}: expected a JSON object mapping parameter names to value texts")
    known = {p.name: p for p in params}
    for name, text in data.items():
        spec = known.get(name)
        if spec is None:
            raise pytest.UsageError(f"{where}: no parameter {name!r} (parameters: {', '.join(known) or 'none'})")
        if spec.kind is ParamKind.LITERAL:
            try:
                text_to_literal(text)
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                raise pytest.UsageError(f"{where}: {name}: {text[:60]!r} is not a Python literal") from None
    return data


def _initial_text(spec: ParamSpec) -> str:
    return spec.initial if spec.kind is ParamKind.CODE else repr(spec.initial)


def _test_name(item: pytest.Function) -> str:
    """``module.qualname[params]`` of the test, the way the DAG names functions."""
    function = item.function
    qualname = getattr(function, "__qualname__", item.originalname)
    return f"{getattr(function, '__module__', '')}.{qualname}{item.name[len(item.originalname):]}"


def _source(item: pytest.Item) -> str:
    try:
        target = getattr(item, "function", None) or getattr(item, "obj", None)
        return inspect.getsource(target) if target is not None else ""
    except (OSError, TypeError, AttributeError):
        return ""


