"""An optimization run as the command line, the pytest integration and the benchmarks start it: its
settings (the engine's :class:`~autotrace.engine.Options` and where and how the program runs), the
program's evaluation as the engine's :class:`~autotrace.engine.Evaluator`, and the call into the engine."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from autotrace.config import DEFAULTS
from autotrace.engine import Engine, Options, Run, RunResult, StepReport
from autotrace.engine.options import SAMPLE_TEMPERATURE
from autotrace.evaluation import Evaluation
from autotrace.judge import judge_failure_score
from autotrace.llm.client import derived_seed
from autotrace.project import Project
from autotrace.records import RunSubject
from autotrace.store import RunStore, state_dir

from .executor import Executor
from .program_runs import evaluation_of, hold_out, make_job
from .sandbox import Limits

__all__ = ["SAMPLE_TEMPERATURE", "RunResult", "Settings", "StepReport", "draw_seed", "load_project", "open_executor",
           "optimize", "prepare", "state_dir"]


@dataclass(kw_only=True)
class Settings(Options):
    """One run's options; each default is :data:`autotrace.config.DEFAULTS`' (the command line's)."""

    target: Path | None  # None when ``evaluator`` runs something else (the tests)
    judge: Path | None
    entry: str = DEFAULTS["entry"]
    selectors: Sequence[str] = ()
    limits: Limits = field(default_factory=Limits)
    isolated: bool = True
    #: How evaluations run: "fork" (a warm fork server; spawns where forking is unsafe), "spawn" or "ray".
    executor: str = DEFAULTS["executor"]
    #: Evaluations at once (None: one per core). Results are taken in the order asked for, so the run is
    #: the same whatever the number. The local model and the evaluations do not compete for the cores:
    #: the engine evaluates only while no LLM answer is being generated.
    jobs: int | None = None
    #: With fewer evaluations at once than ``jobs``, split one evaluation's examples over the free workers
    #: (:mod:`.shards`); False keeps an evaluation's examples in one process.
    split_examples: bool = DEFAULTS["split_examples"]
    #: The Ray cluster for ``executor="ray"`` (None: start a local one, or RAY_ADDRESS).
    ray_address: str | None = None
    #: How a set of values is evaluated; None runs ``target``'s entry under ``judge`` (the pytest
    #: integration passes one that runs the selected tests instead).
    evaluator: Callable[[Project, dict[str, Any]], Evaluation] | None = None


def draw_seed(run_seed: int, draw: int) -> int:
    """The seed of a run's ``draw``-th draw: the same for every candidate (common random numbers)."""
    return derived_seed(run_seed, "draw", draw)


def load_project(settings: Settings) -> Project:
    project = Project.load(settings.target, settings.selectors)
    if not project.params:
        raise ValueError(f"{settings.target}: no parameters: mark one with '# autotrace: param' "
                         "or pass --param FILE::NAME")
    return project


def prepare(settings: Settings, executor: Executor | None = None) -> tuple[Project, Evaluation]:
    """Find the parameters and evaluate their initial values, writing nothing: bad input (a marker,
    a selector, the judge, the entry) raises here, before a model is started or a run is stored.
    ``executor``: the run's (:func:`open_executor`, then given to :func:`optimize` too, so that its fork
    server starts once); None evaluates in spawned workers."""
    project = load_project(settings)
    if settings.judge is not None:
        judge_failure_score(settings.judge)  # a failure_score that is no number: one line, before anything runs
    return project, _evaluate(settings, project, {p.name: p.initial for p in project.params}, executor)


def optimize(settings: Settings, progress: Callable[[StepReport], None] = lambda r: None,
             project: Project | None = None, initial: Evaluation | None = None,
             program_tokens: Callable[[], int] = lambda: 0, executor: Executor | None = None) -> RunResult:
    """Run the engine; ``project`` and ``initial`` (the initial values' evaluation) may come from
    :func:`prepare`; ``program_tokens``: what the program's own model calls spent so far (the budgets);
    ``executor``: the run's, left open (None: one opened and closed here)."""
    project = project or load_project(settings)
    if settings.failure_score is None and settings.judge is not None:
        settings = replace(settings, failure_score=judge_failure_score(settings.judge))
    store = RunStore(state_dir(project.root) / "autotrace.db")
    try:
        with contextlib.nullcontext(executor) if executor is not None else \
                open_executor(settings, project.root) as executor:
            subject = RunSubject(target=str(settings.target) if settings.target else None,
                                 judge=str(settings.judge) if settings.judge else None, entry=settings.entry,
                                 selectors=tuple(settings.selectors))
            engine = Engine(settings, project, ProgramEvaluator(settings, project, executor), store, initial=initial,
                            subject=subject, progress=progress, program_tokens=program_tokens)
            return engine.run()
    finally:
        store.close()


def open_executor(settings: Settings, root: Path) -> Executor:
    """The run's executor (close it at the end of the run: it stops the fork server)."""
    return Executor(settings.limits, kind=settings.executor, jobs=settings.jobs, isolated=settings.isolated,
                    ray_address=settings.ray_address, root=root, split=settings.split_examples)


class ProgramEvaluator:
    """Runs ``settings.target``'s entry under its judge (or ``settings.evaluator``) on the executor, each
    run with its draw's seed, the judge's examples split by ``settings.holdout``."""

    def __init__(self, settings: Settings, project: Project, executor: Executor) -> None:
        self.settings, self.project, self.executor = settings, project, executor
        self.seed = settings.seed

    @property
    def jobs(self) -> int:
        return self.executor.jobs

    def run(self, runs: Sequence[Run], record: bool = True) -> list[Evaluation]:
        """Each run's evaluation; ``record`` false runs the program without the recorder (no graphs, and
        none of the DAG's cost: most of a run's CPU in a program of many calls), the evaluations marked
        ``recorded=False``. The ``evaluator`` of the tests records as it always does."""
        s = self.settings
        if s.evaluator is not None:
            evaluator = s.evaluator
            return self.executor.map(lambda run: evaluator(self.project, run[0]), runs)
        target = _target(s)
        jobs = [make_job(self.project, target, s.entry, s.judge, one, record=record, seed=draw_seed(self.seed, draw))
                for one, draw in runs]
        return [replace(hold_out(evaluation_of(outcome), s.holdout, self.seed), recorded=record)
                for outcome in self.executor.run_many(jobs)]


def _target(settings: Settings) -> Path:
    """The program a run without an evaluator runs (the CLI asks for one unless ``--tests`` gives an evaluator)."""
    if settings.target is None:
        raise ValueError("a run without an evaluator needs a target to run")
    return settings.target


def _evaluate(settings: Settings, project: Project, values: dict[str, Any], executor: Executor | None) -> Evaluation:
    if settings.evaluator is not None:
        return settings.evaluator(project, values)
    job = make_job(project, _target(settings), settings.entry, settings.judge, values,
                   seed=draw_seed(settings.seed, 0))
    # Its examples split over ``--jobs`` workers (:mod:`.shards`), as a single evaluation of the run's is.
    with contextlib.nullcontext(executor) if executor is not None else \
            Executor(settings.limits, kind="spawn", jobs=settings.jobs, isolated=settings.isolated,
                     split=settings.split_examples) as running:
        evaluation = evaluation_of(running.run_many([job])[0])
    return hold_out(evaluation, settings.holdout, settings.seed)
