"""An optimization run in the test's own process: the runner's settings and evaluator as ``autotrace
optimize`` builds them, the program run by the real worker code under its real judge (in this process,
as ``--in-process`` does), the optimizer's questions to the scripted model on a real socket, and what
the run stored read back through the store's typed records.

The loop's behaviour (acceptance, stoppers, pool, merges, resume) is tested through :func:`run`; tests of
what the command line says and stores call it here too (:func:`run_cli`); a handful of end-to-end tests
start the installed command."""

from __future__ import annotations

import contextlib
import faulthandler
import os
import random
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from llmserver import ScriptedLLMServer

from autotrace.engine import Engine, Options, RunResult, StepReport
from autotrace.engine.ledger import Evaluator
from autotrace.llm.client import LLMConfig
from autotrace.pool import Candidate
from autotrace.records import RunRecord, Scoring, StepRecord
from autotrace.runners.cli import cli
from autotrace.runners.optimize import Settings, optimize, prepare
from autotrace.runners.tests_eval import SuiteEvaluator
from autotrace.store import RunStore, state_dir


@dataclass
class Ran:
    """One finished run: its result, the progress reports the display got, and its stored records."""

    result: RunResult
    reports: list[StepReport]
    steps: list[StepRecord]
    pool: list[Candidate]
    run: RunRecord

    def note(self, step: int) -> str:
        """The note of ``step``'s last progress report (a stop before a step has no stored record)."""
        return [r.note for r in self.reports if r.step == step][-1]

    @property
    def diff(self) -> str:
        return self.result.patch.diff


def run_cli(*args: str, cwd: Path, env: Mapping[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``autotrace ARGS`` run in this process through click's test runner, as the installed command runs it
    in ``cwd`` with exactly ``env`` as its environment; the result reads as a finished subprocess's. A test
    that does not need a process of its own saves the interpreter's start and the imports (libcst, networkx,
    openai), which this process has already made. An exception that escapes the command is written to
    stderr with exit code 1, as Python does. A command still running after ``timeout`` seconds ends this
    process with every thread's traceback (a hung test fails, as a subprocess's timeout would make it)."""
    path, modules = list(sys.path), set(sys.modules)
    with here(cwd):
        os.environ.clear()
        os.environ.update(env)
        faulthandler.dump_traceback_later(timeout, exit=True)
        try:
            result = CliRunner().invoke(cli, list(args), prog_name="autotrace")
        finally:
            faulthandler.cancel_dump_traceback_later()
            sys.path[:] = path
            _forget_modules_under(Path(cwd), set(sys.modules) - modules)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["autotrace", *args], result.exit_code, result.stdout, stderr)


def _forget_modules_under(root: Path, names: set[str]) -> None:
    """Drop the modules among ``names`` imported from ``root`` (a project's program, its judge's helpers), so
    that the next project's modules of the same name are imported afresh, as in a process of its own."""
    root = root.resolve()
    for name in names:
        module = sys.modules.get(name)
        places = [getattr(module, "__file__", None) or "", *(getattr(module, "__path__", None) or ())]
        if name.startswith("_autotrace") or any(p and Path(p).resolve().is_relative_to(root) for p in places):
            sys.modules.pop(name, None)


@contextlib.contextmanager
def here(folder: Path) -> Iterator[None]:
    """In ``folder``, as the command runs there; the environment and the random generator as they were
    afterwards (an in-process evaluation seeds them for the program, as a worker does for itself)."""
    environ, state = dict(os.environ), random.getstate()
    try:
        with contextlib.chdir(folder):
            yield
    finally:
        os.environ.clear()
        os.environ.update(environ)
        random.setstate(state)


def stored(root: Path, run_id: str) -> tuple[list[StepRecord], list[Candidate], RunRecord]:
    """A run's stored steps, pool and row."""
    with RunStore(state_dir(root) / "autotrace.db") as store:
        row = store.get_run(run_id)
        assert row is not None, run_id
        pool = [r.candidate for r in store.candidates(run_id)]
        return store.steps(run_id), pool, row


def settings(folder: Path, server: ScriptedLLMServer, target: str = "shop.py", judge: str = "judge.py",
             **options: Any) -> Settings:
    """The settings ``autotrace optimize TARGET --feedback JUDGE --in-process`` makes, with ``options``
    (``isolated=True``: each evaluation in a confined worker process, as without ``--in-process``)."""
    llm = LLMConfig(model="scripted", base_url=server.base_url, api_key="test")
    return Settings(target=folder / target, judge=folder / judge, llm=llm, **{"isolated": False, **options})


def run(folder: Path, server: ScriptedLLMServer, target: str = "shop.py", judge: str = "judge.py",
        **options: Any) -> Ran:
    """Optimize ``folder``'s ``target`` under ``judge`` in this process (from ``folder``, as the command
    line runs there), the optimizer asking ``server``; ``options`` are :class:`Settings` fields."""
    given = settings(folder, server, target, judge, **options)
    reports: list[StepReport] = []
    with here(folder):
        project, initial = prepare(given) if given.resume is None else (None, None)
        result = optimize(given, progress=reports.append, project=project, initial=initial)
    return Ran(result, reports, *stored(folder, result.run_id))


def run_tests(folder: Path, server: ScriptedLLMServer, tests: str = "tests", holdout_tests: str | None = None,
              **options: Any) -> Ran:
    """Optimize with ``folder``'s tests as ``autotrace optimize --tests TESTS [--holdout-tests EXPR]`` does
    (each candidate's tests in a fresh pytest process), the run itself in this process."""
    path = folder / tests
    scoring = Scoring(tests=str(path.resolve()), holdout_tests=holdout_tests)
    llm = LLMConfig(model="scripted", base_url=server.base_url, api_key="test")
    given = Settings(target=None, judge=None, llm=llm, scoring=scoring, **{"target_score": 1.0, **options})
    given.evaluator = evaluator = SuiteEvaluator([path], None, given.selectors, given.limits, holdout_tests)
    reports: list[StepReport] = []
    with here(folder):
        project, initial = evaluator.prepare()
        result = optimize(given, progress=reports.append, project=project, initial=initial)
    return Ran(result, reports, *stored(project.root, result.run_id))


def run_engine(project: Any, options: Options, evaluator: Evaluator, **kwargs: Any) -> Engine:
    """The engine alone on ``project`` with ``evaluator`` (no program run unless it runs one), its store
    the project's; the engine, with its ``result`` set."""
    store = RunStore(state_dir(project.root) / "autotrace.db")
    try:
        engine = Engine(options, project, evaluator, store, **kwargs)
        engine.result = engine.run()  # type: ignore[attr-defined]
    finally:
        store.close()
    return engine


def steps_of(project: Any, run_id: str) -> list[StepRecord]:
    """The run's stored steps, read back through the store."""
    with RunStore(state_dir(project.root) / "autotrace.db") as store:
        return store.steps(run_id)
