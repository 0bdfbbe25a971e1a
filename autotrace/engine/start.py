"""How a run starts: a new run evaluates the original values as step 0 (over the run's draws, finding out
whether the program is noisy) and is stored; a resumed run builds its state again from its store."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from autotrace.evaluation import Evaluation
from autotrace.optimizers.base import Attempt
from autotrace.records import SCORING_OPTIONS, RunConfig
from autotrace.scoring import AUTO_REPEATS

from .acceptance import pooled_best
from .callbacks import StepDone
from .state import Held, RunState, Stall, Usage

if TYPE_CHECKING:
    from .engine import Engine


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def start(engine: Engine) -> RunState:
    """The state the run starts its first step from."""
    return resume(engine, engine.options.resume) if engine.options.resume else new_run(engine)


def new_run(engine: Engine) -> RunState:
    """A new run, stored, with the original values evaluated as step 0."""
    ledger, rule, options = engine.ledger, engine.ledger.rule, engine.options
    initial = ledger.initial
    first = engine.initial.under(rule) if engine.initial is not None else ledger.run_many([initial], [0])[0]
    evaluation, noise = _draw_original(engine, initial, first)
    run_id = ledger.run_id = new_run_id()
    scoring = replace(options.the_scoring(), repeats=rule.repeats, noisy=rule.noisy, failure_score=rule.failure)
    engine.store.create_run(run_id, RunConfig(
        subject=engine.subject, steps=options.steps, optimizer=options.optimizer, model=options.llm.model,
        params=tuple(p.name for p in engine.project.params), root=str(engine.project.root),
        candidates=options.candidates, scoring=scoring))
    if engine.initial is None:
        ledger.counted(initial, evaluation, "initial", ())
    else:
        ledger.record(initial, evaluation, "initial", ())
    note = "; ".join(filter(None, ["initial values", noise]))
    engine.write(StepDone(0, initial, evaluation, evaluation, 0.0, note))
    # As a resumed run does: a model whose first change did worse must see what it started from.
    engine.remember(initial, evaluation)
    held = Held(initial, evaluation)
    return RunState(run_id, 1, held, held, ledger, Stall(evaluation.rank), start_note=note)


def _draw_original(engine: Engine, initial: dict[str, Any], first: Evaluation) -> tuple[Evaluation, str]:
    """The original values' evaluation over the run's draws (``first``: draw 0), and a note when it
    found the program noisy. Unless ``--repeats`` was given, the original values run once more with
    another seed: when the two disagree, the program's output varies, and every evaluation from
    then on runs each example :data:`AUTO_REPEATS` times and is compared by the paired test."""
    ledger, rule = engine.ledger, engine.ledger.rule
    if first.problem:
        return first, ""
    if engine.options.repeats is None:
        second = ledger.run_many([initial], [1])[0]
        ledger.count += 1
        if _same_draws(first, second):
            return first, ""
        rule.repeats, rule.noisy = AUTO_REPEATS, True
        rest = ledger.run_many([initial], range(2, AUTO_REPEATS))[0]
        return (Evaluation.combine([first, second, rest]).under(rule),
                f"noisy: the original values scored {first.describe()} and {second.describe()} when run twice, "
                f"so each example runs {AUTO_REPEATS} times and a candidate must beat the best beyond the noise")
    if rule.repeats > 1:
        rest = ledger.run_many([initial], range(1, rule.repeats))[0]
        return Evaluation.combine([first, rest]).under(rule), ""
    return first, ""


def _same_draws(a: Evaluation, b: Evaluation) -> bool:
    """Whether two runs of the same values were judged alike, example by example."""
    def judged(e: Evaluation) -> list[tuple[float | None, bool]]:
        return [(x.score, x.failed) for x in (*e.examples, *e.holdout)]

    return a.problem == b.problem and judged(a) == judged(b)


def resume(engine: Engine, run_id: str) -> RunState:
    """The state stored run ``run_id`` stopped in: its scoring, its pool, the optimizer's memory of its
    steps, the current values (its last step's), the best (:func:`~.acceptance.pooled_best`) and the
    tokens it spent."""
    ledger, store, rule = engine.ledger, engine.store, engine.ledger.rule
    run = store.get_run(run_id)
    if run is None:
        raise ValueError(f"no run {run_id!r} to resume (see 'autotrace runs')")
    if run.scoring is not None:  # None: stored before the scoring was; the settings as given
        stored = run.scoring.resumed(engine.options.the_scoring(), SCORING_OPTIONS, run_id)
        rule.repeats, rule.noisy = stored.repeats, stored.noisy
        if stored.failure_score is not None:
            rule.failure = stored.failure_score
    ledger.run_id = run_id
    ledger.load(run_id)
    steps = store.steps(run_id)
    initial = ledger.initial
    current: Held | None = None
    best: Held | None = None
    for record in steps:
        held = Held({**initial, **ledger.parse(record.values)}, record.evaluation.under(rule))
        engine.optimizer.remember(Attempt(dict(record.values), held.evaluation.score, held.evaluation.message()))
        current = held
        if best is None or engine.acceptance(held.evaluation, best.evaluation, rule.noisy):
            best = held
    if (pooled := pooled_best(ledger.pool.candidates, ledger.evaluated, rule.noisy, engine.acceptance)) is not None:
        best = Held(ledger.values(pooled.values), ledger.evaluated[pooled.id])  # None: a store written before the pool
    app = store.app_usage(run_id)
    usage = Usage(sum(r.prompt_tokens + r.completion_tokens for r in steps),
                  app.total.prompt_tokens + app.total.completion_tokens if app else 0)
    if current is None or best is None:
        evaluation = ledger.evaluate(initial, "initial", ())
        engine.write(StepDone(0, initial, evaluation, evaluation, 0.0, "initial values"))
        held = Held(initial, evaluation)
        return RunState(run_id, 1, held, held, ledger, Stall(evaluation.rank), usage)
    return RunState(run_id, len(steps), current, best, ledger, Stall(best.evaluation.rank), usage,
                    start_note="initial values" if len(steps) == 1 else "resumed")
