"""Running the program with one set of parameter values in a worker: the job made from the project and
the values, and the worker's outcome read as an :class:`~autotrace.evaluation.Evaluation` (or as the
error it means)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, assert_never

from autotrace.evaluation import Evaluation
from autotrace.judge import JudgeError
from autotrace.params import ParamKind, value_to_text
from autotrace.project import ConfigError, Project
from autotrace.text import truncate

from .job import Job, ParamInfo
from .outcome import Crashed, EntryMissing, Examples, JudgeFailed, SetupFailed, WorkerOutcome
from .sandbox import Limits, evaluate


def make_job(project: Project, target: Path, entry: str, judge: Path | None,
             values: Mapping[str, Any], *, record: bool = True, seed: int = 0) -> Job:
    """A worker job that runs ``target``'s ``entry`` with ``values`` (param name -> value)."""
    plans = project.plans()
    candidates: dict[str, dict[str, str]] = {}
    for spec in project.params:
        if spec.kind is ParamKind.CODE and spec.name in values and values[spec.name] != spec.initial:
            candidates.setdefault(str(spec.path), {})[spec.qualname] = values[spec.name]
    return Job(
        target_module=plans[target.resolve()].module,
        entry=entry,
        judge=str(judge.resolve()) if judge else None,
        search_roots=tuple(str(p) for p in project.search_roots),
        plans={str(path): plan for path, plan in plans.items()},
        params=tuple(ParamInfo(p.name, p.kind, p.description) for p in project.params),
        values={p.name: value_to_text(p.kind, values.get(p.name, p.initial)) for p in project.params},
        candidates=candidates,
        record=record,
        root=str(project.root),
        seed=seed,
    )


def with_attempts(outcome: WorkerOutcome) -> WorkerOutcome:
    """The worker's outcome with what the program tried to change outside its folders (``attempts``)
    said in each example's message and in a crash's reason: the candidate's author should know."""
    if not outcome.attempts:
        return outcome
    text = "the program " + "; ".join(outcome.attempts)
    if isinstance(outcome, (Crashed, SetupFailed)):
        return replace(outcome, reason=f"{outcome.reason}\n{text}")
    if isinstance(outcome, Examples):
        return replace(outcome, examples=tuple(e.with_note(text) for e in outcome.examples))
    return outcome


def hold_out(evaluation: Evaluation, fraction: float, seed: object) -> Evaluation:
    """``evaluation`` with ``fraction`` of its examples moved to ``holdout`` (``--holdout``): the same
    ones every time, drawn with the run's seed; at least one on each side. Unchanged when the judge
    split its examples itself, or when there are fewer than two."""
    count = len(evaluation.examples)
    if evaluation.holdout or evaluation.problem or count < 2 or fraction <= 0:
        return evaluation
    held = set(random.Random(f"{seed}:holdout").sample(range(count), min(count - 1, max(1, round(count * fraction)))))
    return replace(evaluation, examples=tuple(e for i, e in enumerate(evaluation.examples) if i not in held),
                   holdout=tuple(e for i, e in enumerate(evaluation.examples) if i in held))


def run_evaluation(job: Job, limits: Limits, *, isolated: bool = True) -> Evaluation:
    """Evaluate one job in a freshly spawned worker (or in-process); a run's many go through an
    :class:`.executor.Executor`, and :func:`evaluation_of` its outcomes."""
    return evaluation_of(evaluate(job, limits, isolated=isolated))


def evaluation_of(outcome: WorkerOutcome) -> Evaluation:
    """A worker's outcome as an :class:`Evaluation` (with what the program tried to change said in its
    messages); a broken judge or a missing entry raise."""
    outcome = with_attempts(outcome)
    match outcome:
        case JudgeFailed(reason=reason):
            raise JudgeError(reason)
        case EntryMissing(reason=reason):  # no candidate can add the entry: bad input, not feedback
            raise ConfigError(reason)
        case Crashed(reason=reason, output_tail=tail):
            tail = tail.strip()
            return Evaluation((), problem=reason + (f"\nlast output:\n{truncate(tail, 1500, 'tail')}" if tail else ""))
        case SetupFailed(reason=reason, traceback=trace):
            return Evaluation((), problem=reason + "\n" + trace)
        case Examples(examples=examples):
            return Evaluation.split(examples)
        case _:
            assert_never(outcome)
