"""What the engine tells the world after each step: a :class:`StepDone` event, which the store writer
turns into the step's :class:`~autotrace.records.StepRecord` and the progress callback into one line."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autotrace.evaluation import Evaluation
from autotrace.llm.client import LLMReply
from autotrace.llm.timings import ServerTimings, total
from autotrace.optimizers.base import Proposal, Sensitivity
from autotrace.records import MergeNote, OtherAnswer, StepRecord
from autotrace.store import RunStore

from .ledger import Ledger


@dataclass
class StepReport:
    """What the progress display shows after each step."""

    step: int
    steps: int
    score: str
    best: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    note: str = ""
    cache: str = ""  # the share of the prompt tokens the server took from its cache ("cache 72%"), if it said


@dataclass(frozen=True)
class MergeDone:
    """A merge tried during a step: the progress note, and the model's reply when it was asked."""

    note: str
    reply: LLMReply | None = None


@dataclass(frozen=True)
class StepDone:
    """A completed step: the values it ends with and their evaluation, the best so far, and what it asked.
    ``proposal``: the answer the values came from; ``candidate``: the changed values when they came
    from a measurement instead; ``others``: the step's other answers (``--candidates``, ``--resample``)."""

    step: int
    values: dict[str, Any]
    evaluation: Evaluation
    best: Evaluation
    seconds: float
    note: str
    proposal: Proposal | None = None
    sensitivity: Sensitivity = field(default_factory=Sensitivity)
    candidate: Mapping[str, Any] | None = None
    others: Sequence[Proposal] = ()
    merged: MergeDone | None = None
    #: The model's answers the step had and how many were new (:attr:`autotrace.records.StepRecord.answers`).
    answers: int | None = None
    new_answers: int | None = None

    @property
    def replies(self) -> list[Proposal | LLMReply]:
        """The step's model answers: its proposals' and a merge's."""
        merge = self.merged.reply if self.merged else None
        return [r for r in (self.proposal, *self.others, merge) if r is not None]

    @property
    def tokens(self) -> tuple[int, int]:
        """Prompt and completion tokens of the step: its answers' and a merge's."""
        return sum(r.prompt_tokens for r in self.replies), sum(r.completion_tokens for r in self.replies)

    @property
    def timings(self) -> ServerTimings:
        """What the server said the step's calls cost (:mod:`autotrace.llm.timings`), summed."""
        return total(r.timings for r in self.replies)


#: Called with each completed step.
StepCallback = Callable[[StepDone], None]


def progress_of(report: Callable[[StepReport], None], steps: int) -> StepCallback:
    """A step callback that shows each step as a :class:`StepReport` (``steps``: the run's number of steps)."""
    def show(done: StepDone) -> None:
        report(StepReport(done.step, steps, done.evaluation.describe(), done.best.describe(), *done.tokens,
                          done.seconds, done.note, done.timings.describe()))
    return show


class StoreWriter:
    """Writes each completed step to the run store, with the scores of the program runs since the last."""

    def __init__(self, store: RunStore, ledger: Ledger) -> None:
        self.store, self.ledger = store, ledger

    def __call__(self, done: StepDone) -> None:
        ledger, proposal = self.ledger, done.proposal
        assert ledger.run_id is not None, "a step completes before its run is stored"
        candidate = proposal.values if proposal is not None else done.candidate
        evaluated, ledger.unsaved_scores = ledger.unsaved_scores, []
        prompt_tokens, completion_tokens = done.tokens
        merged = done.merged
        self.store.add_step(ledger.run_id, done.step, StepRecord(
            values=ledger.texts(done.values), evaluation=done.evaluation, candidate=ledger.texts_of(candidate or {}),
            rejected=proposal.rejected if proposal else {}, reasoning=proposal.reasoning if proposal else "",
            prompt=tuple(proposal.messages) if proposal else (), response=proposal.response if proposal else "",
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, timings=done.timings,
            cached=proposal.cached if proposal else False, seconds=done.seconds, note=done.note,
            sensitivity=done.sensitivity.text, evaluated=tuple(evaluated), parent=ledger.parents,
            front=tuple(c.id for c in ledger.pool.front()),
            other_answers=tuple(OtherAnswer(p.response, p.error, ledger.texts_of(p.values)) for p in done.others),
            merge=MergeNote(merged.note, merged.reply.text if merged.reply else "") if merged else None,
            answers=done.answers, new_answers=done.new_answers,
        ))
