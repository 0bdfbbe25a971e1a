"""One run's state: the values the next prompt is about, the best so far, the run's evaluations
(:class:`~autotrace.engine.ledger.Ledger`), the stall count and the tokens spent. The store holds it
as the run goes (each candidate as it is evaluated, each step as it completes), and a resumed run
builds it again from there (:mod:`autotrace.engine.start`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from autotrace.evaluation import Evaluation

from .ledger import Ledger


@dataclass
class Held:
    """A set of values and its evaluation."""

    values: dict[str, Any]
    evaluation: Evaluation


@dataclass
class Stall:
    """Counts the steps in a row whose answers gave nothing to evaluate while the best score stood still
    (``Options.max_unchanged``). The best is compared with its rank at the previous step's answers, so
    a gain made in between (a probe, a measured step without an LLM call) also ends the streak."""

    best: tuple[float, float]  # the best values' rank when the last answer was counted
    answers: int = 0
    #: The one-parameter questions put so far (parameter, way): a step that put one a new way is no stall.
    questions: set[tuple[str, str]] = field(default_factory=set)

    def after(self, changed: bool, best: tuple[float, float], questions: Iterable[tuple[str, str]] = ()) -> int:
        """Count one step's answers (``changed``: they gave values to evaluate; ``questions``: the
        one-parameter questions it put, as (parameter, way)); the streak so far. A step that asked about
        a parameter, or put its question a way, not tried before in this run does not count: the
        variations of :mod:`autotrace.optimizers.focus` get their turn before the run stops."""
        new = set(questions) - self.questions
        self.questions |= new
        self.answers = 0 if changed or new or best > self.best else self.answers + 1
        self.best = best
        return self.answers


@dataclass
class Usage:
    """The tokens a run spent: its optimizer's (answers and merges, every stored step's) and its
    program's own model calls (those autotrace's proxy answered, earlier invocations' included)."""

    optimizer: int = 0
    program: int = 0

    @property
    def total(self) -> int:
        return self.optimizer + self.program


@dataclass
class RunState:
    """Where a run stands between two steps."""

    run_id: str
    #: The first step this invocation runs (1 for a new run).
    first_step: int
    current: Held
    best: Held
    ledger: Ledger
    stall: Stall
    usage: Usage = field(default_factory=Usage)
    #: What the first progress line says ("initial values", a noise note, or "resumed").
    start_note: str = "initial values"
    #: Why the run ended before its last step without reaching the target ("" otherwise), and which
    #: stopper ended it ("budget", "unchanged", "repeated", or "" for none or the target).
    stopped: str = ""
    stopped_by: str = ""

    def take_current(self, held: Held) -> None:
        self.current = held

    def take_best(self, held: Held) -> None:
        """``held`` becomes the best and the current values."""
        self.current = self.best = held
