"""When a run ends before its last step. Each :class:`Stopper` is asked before every step after the
first this invocation runs; the first that answers ends the run: silently when the target is reached,
else with a line saying why (shown as the progress line of the step that does not run)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from autotrace.evaluation import Evaluation

from .options import Options
from .state import RunState


@dataclass(frozen=True)
class Stop:
    """Why a run stops: ``kind`` names the stopper, ``note`` says it in the progress line ("" for none)."""

    kind: str
    note: str = ""


class Stopper(Protocol):
    """Whether the run stops before step ``step``."""

    def check(self, state: RunState, step: int) -> Stop | None:
        ...


class TargetReached:
    """The best values reach the target score (``done``: the engine's test, holdout included)."""

    def __init__(self, done: Callable[[RunState], bool]) -> None:
        self.done = done

    def check(self, state: RunState, step: int) -> Stop | None:
        return Stop("target") if self.done(state) else None


class Unchanged:
    """The last ``limit`` steps' answers changed nothing while the best score stood still (0: never)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def check(self, state: RunState, step: int) -> Stop | None:
        answers = state.stall.answers
        if not self.limit or answers < self.limit:
            return None
        return Stop("unchanged", f"stopped before step {step}: the last {answers} answers changed nothing "
                                 "and the best score stood still")


class Budget:
    """The run spent its tokens: the optimizer's and the program's together, or either one's own."""

    def __init__(self, run: int | None, optimizer: int | None, program: int | None) -> None:
        self.limits = (("", run), ("optimizer ", optimizer), ("program ", program))

    def check(self, state: RunState, step: int) -> Stop | None:
        usage = state.usage
        spent = {"": usage.total, "optimizer ": usage.optimizer, "program ": usage.program}
        for what, limit in self.limits:
            if limit is not None and spent[what] >= limit:
                return Stop("budget", f"stopped before step {step}: the run's {what}token budget is spent "
                                      f"({spent[what]:,} of {limit:,} tokens)")
        return None


def stoppers(options: Options, done: Callable[[RunState], bool]) -> list[Stopper]:
    """The run's stoppers, in the order they are asked (the step limit is the engine's range of steps)."""
    return [Unchanged(options.max_unchanged), TargetReached(done),
            Budget(options.max_run_tokens, options.max_optimizer_tokens, options.max_program_tokens)]


def reached(target: float | None, evaluation: Evaluation) -> bool:
    """Whether ``evaluation``'s complete score reaches ``target`` (never without one)."""
    score = evaluation.complete_score
    return target is not None and score is not None and score >= target
