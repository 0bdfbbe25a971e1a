"""``autotrace optimize --tests``: candidate values judged by the project's own tests.

Each evaluation is a fresh ``python -m pytest PATH [-k EXPR] -p autotrace --autotrace --autotrace-values
V --autotrace-report R -q`` (its own process group, a timeout and resource limits:
:func:`.sandbox.run_limited`), so candidates run exactly as the user's suite does (conftest.py,
fixtures, ini options, plugins) and nothing of one candidate reaches the next. The plugin's report
becomes an :class:`Evaluation`:

* each test that ran (passed, failed or error) is one example, scored 1 when it passes and 0 when it
  fails, so the score is the fraction passing;
* a test that passed with the initial values and fails now is a regression and scores -1: a candidate
  that fixes one test and breaks another has made no progress, and its feedback says which broke;
* a failing test's message names the parameters its run reached, then gives its traceback through the
  user's code ending in the assertion with pytest's introspection, its source and the end of its
  captured output; its graph is the test's DAG, so the optimizer sees how the failure depends on them;
* the tests a ``-k`` style expression matches (``--holdout-tests``, matched by pytest itself in the
  run) are the evaluation's :attr:`~Evaluation.holdout`, as a judge's validation examples are: kept
  out of the score, the feedback and the pool, so that the patch can be chosen on them.

A candidate that breaks collection (an import error) is a problem, ranked below everything.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from autotrace import graph as g
from autotrace.evaluation import Evaluation, ExampleResult, Feedback
from autotrace.markers import Selector
from autotrace.params import value_to_text
from autotrace.project import Project, find_root
from autotrace.suite_report import ReportError, SuiteReport, TestResult, report_from_json
from autotrace.text import truncate

from .guard import Baseline, Guarded, guarded, relocate
from .sandbox import Limits, describe_exit, run_limited
from .scratch import scratch_folder

_COUNTED = ("passed", "failed", "error")  # skipped and xfail tests say nothing about the values
_TRACEBACK_CHARS = 900
_COLLECT_CHARS = 1200
_SOURCE_CHARS = 600
_OUTPUT_CHARS = 250
_PASSING_NAMED = 20


class SuiteEvaluation(Evaluation):
    """An :class:`Evaluation` whose examples are tests. Score and rank are the base class's, computed
    from the examples, so a run resumed from the store ranks the same; the feedback is one entry per
    failing test and one line naming the passing ones, which must stay passing."""

    def feedbacks(self) -> list[Feedback]:
        if self.problem:
            return super().feedbacks()
        feedback = [Feedback(g.from_json(e.graph) if e.graph else None, e.message, e.score)
                    for e in self.examples if _score(e) < 1]
        passing = self._passing()
        if passing:
            named = ", ".join(passing[:_PASSING_NAMED]) + (", ..." if len(passing) > _PASSING_NAMED else "")
            feedback.append(Feedback(None, f"{len(passing)} test(s) pass and must keep passing: {named}", 1.0))
        return feedback

    def message(self) -> str:
        if self.problem:
            return self.problem
        lines = [f"{len(self._passing())}/{len(self.examples)} tests pass"]
        lines += [f"{'REGRESSION ' if _score(e) < 0 else ''}{e.example}: {e.output}"
                  for e in self.examples if _score(e) < 1]
        return "\n".join(lines)

    def describe(self) -> str:
        if self.problem:
            return "failed"
        regressions = sum(1 for e in self.examples if _score(e) < 0)
        score = self.score if self.score is not None else 0.0
        return (f"{score:.3g} ({len(self._passing())}/{len(self.examples)} pass"
                + (f", {regressions} regressed)" if regressions else ")")
                + (f", val {self.validation.describe()}" if self.holdout else ""))

    def _passing(self) -> list[str]:
        return [_nodeid(e) for e in self.examples if _score(e) >= 1]


class SuiteEvaluator:
    """Evaluates parameter values (``Settings.evaluator``) by running the selected tests.

    Call :meth:`prepare` first: it runs the tests with the source values, which names the parameters the
    way the tests import them and records which tests passed before any change.
    """

    def __init__(self, paths: Sequence[Path], keyword: str | None = None, selectors: Sequence[str] = (),
                 limits: Limits = Limits(), holdout: str | None = None) -> None:
        if not paths:
            raise ValueError("no test path given")
        for path in paths:
            if not path.exists():
                raise ValueError(f"{path}: no such test file or folder")
        self.paths = [p.resolve() for p in paths]
        first = self.paths[0]
        self.root = find_root(first if first.is_dir() else first.parent)
        self.keyword = keyword
        #: The -k style expression of the held-out tests (``--holdout-tests``), checked here: bad input
        #: fails before any test runs.
        self.holdout = holdout
        if holdout is not None:
            from .pytest_session import keyword_expression

            try:
                keyword_expression(holdout)
            except ValueError as exc:
                raise ValueError(f"--holdout-tests {exc}") from None
        # the child runs in the project root: selectors given relative to this folder are made absolute
        self.selectors = [_absolute(s) for s in selectors]
        self.limits = limits
        self.baseline: frozenset[str] = frozenset()  # tests passing with the initial values
        self.held_out: frozenset[str] = frozenset()  # the held-out tests of the initial run
        #: The test files whose every test is held out: their collection errors are held-out failures.
        self.held_out_files: frozenset[str] = frozenset()
        self._initial: tuple[Mapping[str, str], SuiteEvaluation] | None = None
        #: The project's state shared by the candidates tested at the same time (``--jobs``).
        self._project_state = Baseline()

    def prepare(self) -> tuple[Project, SuiteEvaluation]:
        """The project as the tests see it and the initial values' evaluation; bad input raises ValueError."""
        report, failure = self._run(None)
        if report is None:
            raise ValueError(f"pytest could not run {self._what()}: {failure}")
        if not report.tests and not report.errors:
            raise ValueError(f"no test ran in {self._what()}: check the path and -k")
        project = Project.load(None, self.selectors, root=Path(report.root),
                               search_roots=[Path(p) for p in report.search_roots])
        evaluation = self.evaluation(report)
        if self.holdout is not None:
            self._check_holdout(evaluation)
        self.held_out = frozenset(_nodeid(e) for e in evaluation.holdout)
        visible_files = {_file(_nodeid(e)) for e in evaluation.examples}
        self.held_out_files = frozenset(_file(nodeid) for nodeid in self.held_out) - visible_files
        self.baseline = frozenset(_nodeid(e) for e in (*evaluation.examples, *evaluation.holdout) if _score(e) >= 1)
        self._initial = (report.values, evaluation)
        return project, evaluation

    def _check_holdout(self, evaluation: SuiteEvaluation) -> None:
        """Bad input: held-out tests that cannot be told apart (the tests did not run), or none or all of them."""
        where = f"--holdout-tests {self.holdout!r}"
        if evaluation.problem:
            raise ValueError(f"{where}: the tests did not run with the initial values, so the held-out "
                             f"ones cannot be told apart: {evaluation.problem.splitlines()[0]}")
        total = len(evaluation.examples) + len(evaluation.holdout)
        if not evaluation.holdout:
            raise ValueError(f"{where} matches none of the {total} tests that ran: nothing would be held out")
        if not evaluation.examples:
            raise ValueError(f"{where} matches all {total} tests that ran: none would be left to select candidates on")

    def __call__(self, project: Project, values: Mapping[str, Any]) -> Evaluation:
        texts = {p.name: value_to_text(p.kind, values.get(p.name, p.initial)) for p in project.params}
        if self._initial is not None and texts == self._initial[0]:
            return self._initial[1]
        report, failure = self._run(texts)
        return self.evaluation(report) if report is not None else SuiteEvaluation((), problem=self._unnamed(failure))

    def evaluation(self, report: SuiteReport) -> SuiteEvaluation:
        """The plugin's report as an evaluation, regressions measured against :attr:`baseline`. A
        held-out test file that fails to collect is no problem of the candidate's visible tests: its
        tests are held-out failures, unnamed in the feedback."""
        errors = [e for e in report.errors if e.nodeid not in self.held_out_files]
        if errors:
            text = "\n\n".join(f"collecting {e.nodeid or 'the tests'} failed:\n"
                               + truncate(e.longrepr.strip(), _COLLECT_CHARS, "tail")  # the error is at the end
                               for e in errors)
            return SuiteEvaluation((), problem=text)
        tests = [t for t in report.tests if t.outcome in _COUNTED]
        if not tests:
            return SuiteEvaluation((), problem=f"no test ran in {self._what()} (all skipped or deselected)")
        examples = [_example(t, t.nodeid in self.baseline) for t in tests]
        ran = {t.nodeid for t in tests}
        examples += [_vanished(nodeid, nodeid in self.held_out, nodeid in self.baseline)
                     for nodeid in sorted((self.baseline | self.held_out) - ran)]
        examples.sort(key=_score)  # regressions first, then failures, then passes
        if report.undone:  # what the run did to the project, undone: the candidate should know
            said = "the tests' run " + "; ".join(report.undone)
            examples = [e.with_note(said) for e in examples]
        return SuiteEvaluation.split(examples)

    def _unnamed(self, failure: str) -> str:
        """Why pytest gave no report (its output's end), less the lines that name a held-out test or file."""
        names = {nodeid.rsplit("::", 1)[-1].split("[", 1)[0] for nodeid in self.held_out} | self.held_out_files
        if not names:
            return failure
        return "\n".join(line for line in failure.splitlines() if not any(name in line for name in names))

    def _run(self, texts: Mapping[str, str] | None) -> tuple[SuiteReport | None, str]:
        """The plugin's report, or None and why there is none. pytest runs confined (:mod:`.guard`): under
        Landlock in the project, else in a private copy of it; what it changed in the project is undone
        and said in each test's message."""
        with scratch_folder("autotrace-tests-") as folder, \
                guarded(self.root, folder, network=self.limits.network,
                        baseline=self._project_state) as (guard, undone):
            report, failure = self._run_guarded(texts, folder, guard)
        if report is not None and undone:
            report = replace(report, undone=tuple(undone))
        return report, failure

    def _run_guarded(self, texts: Mapping[str, str] | None, folder: Path,
                     guard: Guarded) -> tuple[SuiteReport | None, str]:
        def moved(path: str) -> str:
            return relocate(path, guard.project, guard.root)

        report_path, policy_path = folder / "report.json", folder / "policy.json"
        policy_path.write_text(guard.policy.to_json(), encoding="utf-8")
        # The plugin's options as --name=value: pytest picks its rootdir (and so the user's ini file)
        # from every token that looks like a path before it knows a plugin's options (-k is its own).
        argv = [sys.executable, "-m", "autotrace.runners.confine", str(policy_path), str(folder), "--",
                sys.executable, "-m", "pytest", *(moved(str(p)) for p in self.paths), "-q", "-p", "autotrace",
                "--autotrace", f"--autotrace-report={report_path}", "--autotrace-graphs=failed",  # the only ones used
                # each failing test recorded as it fails, not run again: its program's model calls (counted,
                # perhaps paid) and side effects happen once, as the candidate's evaluation made them
                "--autotrace-no-rerun",
                f"--override-ini=cache_dir={folder / 'cache'}"]  # leave the user's --lf state alone
        if self.keyword:
            argv += ["-k", self.keyword]
        if self.holdout is not None:  # a held-out file that fails to collect must not stop the visible tests
            argv += [f"--autotrace-holdout={self.holdout}", "--continue-on-collection-errors"]
        argv += [f"--autotrace-param={moved(path)}::{name}"
                 for path, _, name in (selector.rpartition("::") for selector in self.selectors)]
        if texts is not None:
            values_path = folder / "values.json"
            values_path.write_text(json.dumps(texts), encoding="utf-8")
            argv.append(f"--autotrace-values={values_path}")
        done = run_limited(argv, self.limits, folder / "output.log", cwd=Path(moved(str(self.root))))
        if done.timed_out:
            return None, f"the tests timed out after {self.limits.timeout:g} s (see --timeout)"
        if not report_path.is_file():
            return None, (f"pytest ended ({describe_exit(done.returncode)}) without a report: "
                          f"{_error_line(done.output_tail)}\n{done.output_tail}")
        try:
            report = report_from_json(report_path.read_bytes())
        except ReportError as exc:
            return None, f"pytest wrote a report autotrace cannot read: {exc}"
        # the project as the tests import it, named by its real paths (a copy's are gone after this run)
        return replace(report, root=relocate(report.root, guard.root, guard.project),
                       search_roots=tuple(relocate(p, guard.root, guard.project) for p in report.search_roots)), ""

    def _what(self) -> str:
        paths = " ".join(str(p) for p in self.paths)
        return paths + (f" -k {self.keyword!r}" if self.keyword else "")


def _example(test: TestResult, passed_before: bool) -> ExampleResult:
    """One test as an example. ``failed`` stays False: in an Evaluation it means "could not be judged",
    and a failing test is judged (score 0, or -1 for a regression)."""
    nodeid, held_out = test.nodeid, test.held_out
    if test.outcome == "passed":
        return ExampleResult(example=nodeid, output="passed", score=1.0, message=f"PASSED {nodeid}", held_out=held_out)
    where = " in setup" if test.when == "setup" else " in teardown" if test.when == "teardown" else ""
    header = (f"REGRESSION: {nodeid} passed with the initial values and fails now{where}" if passed_before
              else f"FAILED {nodeid}{where}")
    # The prompt draws one test's graph; naming each failing test's parameters links every failure to them.
    reached = "parameters its run reached: " + ", ".join(test.params) if test.params else \
        "its run reached no parameter"
    body = test.traceback or test.message or test.longrepr
    parts = [f"{header} ({reached})", truncate(body.strip(), _TRACEBACK_CHARS, "tail")]
    if test.source:
        parts.append("test source:\n" + truncate(test.source.rstrip(), _SOURCE_CHARS))
    for stream, text in (("stdout", test.stdout), ("stderr", test.stderr)):
        if text.strip():
            parts.append(f"captured {stream} (end):\n" + truncate(text.rstrip(), _OUTPUT_CHARS, "tail"))
    summary = (test.message or test.outcome).strip().splitlines()
    return ExampleResult(example=nodeid, output=summary[0][:200] if summary else test.outcome,
                         score=-1.0 if passed_before else 0.0, message="\n".join(parts), graph=test.graph,
                         held_out=held_out)


def _score(test: ExampleResult) -> float:
    """A test's score: 1 passed, 0 failed, -1 a regression (:func:`_example` and :func:`_vanished` set it)."""
    if test.score is None:
        raise TypeError(f"{test.example}: a test's result without a score")
    return test.score


def _nodeid(test: ExampleResult) -> str:
    """A test's node id (its result's ``example``, which :func:`_example` and :func:`_vanished` set)."""
    if test.example is None:
        raise TypeError("a test's result without a node id")
    return test.example


def _vanished(nodeid: str, held_out: bool, passed_before: bool) -> ExampleResult:
    """A test of the initial run that did not run now: a regression when it passed then, else a failure."""
    if passed_before:
        return ExampleResult(example=nodeid, output="did not run", score=-1.0, held_out=held_out,
                             message=f"REGRESSION: {nodeid} passed with the initial values and did not run now")
    return ExampleResult(example=nodeid, output="did not run", score=0.0, held_out=held_out,
                         message=f"FAILED {nodeid}: it did not run")


def _file(nodeid: str) -> str:
    """The test file of a node id (``tests/test_x.py`` of ``tests/test_x.py::TestY::test_z[1]``)."""
    return nodeid.split("::", 1)[0]


def _absolute(selector: str) -> str:
    parsed = Selector.parse(selector, Path.cwd())
    return f"{parsed.path}::{parsed.qualname}"


def _error_line(output: str) -> str:
    """The line of pytest's output that says what went wrong (``ERROR: ...``), else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("ERROR", "E ")) or "Error" in line]
    return (errors or lines or ["no output"])[-1]
