"""How a run ends: the values the patch is made of (validated on held-out examples, confirmed on fresh
draws when the program is noisy), the patch written, the run's summary stored, its report page written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autotrace.evaluation import Evaluation
from autotrace.patches import Patch, apply_saved, make_patch, save_patch
from autotrace.records import RunSummary
from autotrace.report import write_run_report
from autotrace.scoring import rises

from .selection import validated
from .state import Held, RunState

if TYPE_CHECKING:
    from .engine import Engine


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    best_score: str
    best_values: dict[str, Any]
    patch: Patch
    applied: list[str]
    reached_target: bool
    evaluations: int = 0  # programs run in this invocation: initial values, candidates and probes
    stopped: str = ""  # why the run ended before its last step without reaching the target
    report: Path | None = None  # the run's HTML page, beside patch.diff
    no_patch: str = ""  # why no patch was written ("" when one was)
    stopped_by: str = ""  # the stopper that ended the run ("budget", "unchanged", "repeated"; "" for none)


def finish(engine: Engine, state: RunState, run_dir: Path) -> RunResult:
    """Write the patch of the run's best values (or say why there is none) and store the run as done."""
    ledger, options, root = engine.ledger, engine.options, engine.project.root
    reached = engine.done(state)
    best, unpatched = _confirmed(engine, validated(ledger, state.best))
    changes = [(p, best.values[p.name]) for p in engine.project.params if best.values[p.name] != p.initial]
    if not changes and not unpatched:
        unpatched = no_gain(best.evaluation)
    patch = make_patch(root, changes)
    save_patch(run_dir, patch)
    applied = apply_saved(root, run_dir) if options.apply and patch.files else []
    evaluation = best.evaluation
    engine.store.finish_run(state.run_id, "done", RunSummary(
        score=evaluation.score, describe=evaluation.describe(),
        validation=evaluation.validation.score if evaluation.holdout else None,
        values=ledger.texts(best.values), reached_target=reached, evaluations=ledger.count,
        stopped=state.stopped, no_patch=unpatched))
    report = write_run_report(engine.store, state.run_id, run_dir)
    return RunResult(state.run_id, run_dir, evaluation.describe(), best.values, patch, applied, reached, ledger.count,
                     state.stopped, report, unpatched, state.stopped_by)


def _confirmed(engine: Engine, best: Held) -> tuple[Held, str]:
    """The values the patch is made of with their evaluation, and why there is no patch ("" when there
    is one, or nothing changed). A noisy run's best was chosen among many candidates on the same
    draws, so its lead can be luck: it becomes the patch only when it still beats the original
    values on as many fresh draws (seeds no evaluation used), by the same paired test."""
    ledger = engine.ledger
    initial, original = ledger.initial, ledger.original()
    if best.values == initial or original is None:
        return best, ""
    if not ledger.rule.noisy:
        if rises(best.evaluation, original):
            return best, ""
        return Held(initial, original), no_gain(original)
    repeats = ledger.rule.repeats
    fresh_best, fresh_initial = ledger.run_many([best.values, initial], draws=range(repeats, 2 * repeats))
    ledger.count += 2
    if engine.acceptance(fresh_best, fresh_initial, True) and rises(fresh_best, fresh_initial):
        return best, ""
    return Held(initial, original), (f"the best candidate ({best.evaluation.describe()}) did not beat the original "
                                     f"values on {repeats} fresh draws ({fresh_best.describe()} against "
                                     f"{fresh_initial.describe()}): the difference is within the noise")


def no_gain(original: Evaluation) -> str:
    """Why a run writes no patch when nothing beat the original values (``original``: their evaluation)."""
    return f"no candidate scored better than the original values ({original.describe()}) on the judge"
