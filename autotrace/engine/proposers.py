"""Where a step's new values come from. Each source is a :class:`Proposer`: given the :class:`Step` (its
number, the values it is about, the best so far, the samplings to ask with), it gives an :class:`Offer`
or None (nothing to offer this time). The questions to the model (:class:`WholeProgram`,
:class:`Reflective`) offer answers whose values the engine evaluates; the measured search
(:mod:`.measured`) and the merges (:mod:`.merging`) offer values they evaluated themselves.

A step asks :class:`WholeProgram` first (``--candidates`` answers at once), then, while no answer gave
a new candidate, the proposers of the resampling rotation in turn (:class:`Asking`), each answer
sampled with a seed of its own."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from autotrace.evaluation import Evaluation
from autotrace.llm.client import LLMReply, Sampling, derived_seed
from autotrace.optimizers.base import Optimizer, Proposal, Sensitivity
from autotrace.optimizers.reflect import tried_scores
from autotrace.proposal_key import ProposalKey
from autotrace.text import truncate

from .ledger import Ledger
from .options import SAMPLE_TEMPERATURE
from .state import Held


@dataclass(frozen=True)
class Step:
    """What a proposer is asked about: step ``number``'s ``current`` values (its parent), the ``best``
    so far, and the samplings to ask the model with (one answer each)."""

    number: int
    current: Held
    best: Held
    samplings: tuple[Sampling, ...]


@dataclass(frozen=True)
class Offer:
    """What a proposer gives: model ``answers`` whose values are still to be evaluated, or ``values`` it
    evaluated itself (with their ``evaluation``), a ``note`` for the progress line, a model ``reply``
    it asked outside the answers (a merge's), the ``sensitivity`` it measured, and a ``best`` it found
    on the way (a probe that beat the best)."""

    answers: tuple[Proposal, ...] = ()
    values: dict[str, Any] | None = None
    evaluation: Evaluation | None = None
    note: str = ""
    reply: LLMReply | None = None
    sensitivity: Sensitivity = field(default_factory=Sensitivity)
    best: Held | None = None


class Proposer(Protocol):
    """A source of new values for a step."""

    def propose(self, step: Step) -> Offer | None:
        ...


class WholeProgram:
    """The whole problem asked of the optimizer (the graph's feedback, the memory, the measurements):
    one answer per sampling, asked at once; with ``induced`` (``--induce``), also the texts induced from
    the outputs wanted (:func:`autotrace.optimizers.induce.induce`, given the step's number and the best
    values so far), evaluated in the same batch; with ``screen``, the answers go through it first
    (:func:`autotrace.optimizers.induce.screened`: a prompt quoting a visible example's wanted output is rejected)."""

    def __init__(self, optimizer: Optimizer,
                 induced: Callable[[int, dict[str, Any]], list[Proposal]] | None = None,
                 screen: Callable[[list[Proposal]], list[Proposal]] | None = None) -> None:
        self.optimizer, self.induced, self.screen = optimizer, induced, screen

    def propose(self, step: Step) -> Offer:
        answers = self.optimizer.step_many(step.samplings)
        if self.screen is not None:
            answers = self.screen(answers)
        if self.induced is not None:
            answers += self.induced(step.number, step.best.values)
        return Offer(answers=tuple(answers))


class Reflective:
    """The reflective question about the one function or text the feedback implicates most
    (:meth:`autotrace.optimizers.base.Optimizer.reflect`); None when no parameter can be asked about alone."""

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer

    def propose(self, step: Step) -> Offer | None:
        proposal = self.optimizer.reflect(step.samplings[0])
        return None if proposal is None else Offer(answers=(proposal,))


#: A proposal, the values it gave (over the values the step started from) and their evaluation.
Evaluated = tuple[Proposal, dict[str, Any], Evaluation]


@dataclass
class Asked:
    """A step's answers: every proposal, those actually answered (not repeats of a question asked
    before), the new candidates with their evaluations, and (step, evaluation) of an earlier candidate
    an answer repeated, with the scores of the values tried for what it changed."""

    proposals: list[Proposal]
    answered: list[Proposal]
    new: list[Evaluated]
    repeat: tuple[int, Evaluation] | None
    #: The scores of the values tried before for the parameters the repeating answer changed.
    tried: str = ""


class Asking:
    """A step's questions to the model, evaluated: ``first`` with the step's samplings, then, while none
    gave a new candidate, up to ``resample`` more answers, one at a time from ``rotation`` in turn
    (falling back to ``first`` when one has nothing to ask), each told what was wrong with the last."""

    def __init__(self, optimizer: Optimizer, ledger: Ledger, seed: int, resample: int,
                 first: Proposer, rotation: Sequence[Proposer]) -> None:
        self.optimizer, self.ledger, self.seed, self.resample = optimizer, ledger, seed, resample
        self.first, self.rotation = first, tuple(rotation)

    def ask(self, step: Step) -> Asked:
        offer = self.first.propose(step)
        proposals = list(offer.answers) if offer else []
        answered = [p for p in proposals if not p.repeated]
        new, repeat = self.evaluate(answered, step)
        found = list(new)
        for again in range(1, self.resample + 1):
            if new and not self._stuck(new, step):
                break
            if repeat is not None:
                self.optimizer.tell(repeat_problem(repeat[0], repeat[1], self._tried_scores(repeat[2])))
            more = self._again(step, again)
            fresh = [p for p in more if not p.repeated]
            proposals += more
            answered += fresh
            new, repeat_now = self.evaluate(fresh, step)
            found += new
            repeat = repeat_now or repeat
        if repeat is None:
            return Asked(proposals, answered, found, None)
        return Asked(proposals, answered, found, (repeat[0], repeat[1]), self._tried_scores(repeat[2]))

    def _stuck(self, new: Sequence[Evaluated], step: Step) -> bool:
        """Whether the new candidates of an ask went round in circles: none beat the step's best, and
        every parameter they changed had been changed before in the run by an answer without gain (the
        model rewriting the same function again and again). Then the step asks once more, about the
        next implicated parameter (:meth:`autotrace.optimizers.base.Optimizer.rewritten`)."""
        best = step.best.evaluation.rank
        gained = any(evaluation.rank > best for _, _, evaluation in new)
        names = [name for proposal, _, _ in new for name in (proposal.about and [proposal.about] or proposal.values)]
        return self.optimizer.rewritten(list(dict.fromkeys(names)), gained)

    def _again(self, step: Step, again: int) -> list[Proposal]:
        """The step's ``again``-th extra answer, sampled: at temperature 0 the same question gets the
        same answer, so each has a seed of its own derived from the run's seed."""
        sampling = Sampling(max(self.optimizer.llm.sampling.temperature, SAMPLE_TEMPERATURE),
                            derived_seed(self.seed, step.number, "again", again))
        asked = replace(step, samplings=(sampling,))
        offer = self.rotation[(again - 1) % len(self.rotation)].propose(asked) if self.rotation else None
        if offer is None:
            offer = self.first.propose(asked)
        return list(offer.answers) if offer else []

    def evaluate(self, answered: Sequence[Proposal], step: Step
                 ) -> tuple[list[Evaluated], tuple[int, Evaluation, list[str]] | None]:
        """Evaluate the step's new candidates as one batch: each proposal's values over the step's
        current ones, once each, none evaluated before in this run. Returns them with their evaluations,
        and (step, evaluation, the parameters it changed) of an earlier candidate that an answer
        repeated, if any. A candidate this step evaluated before the run was killed counts as new (it is
        not run again). An answer that repeated values run before, or changed nothing, *collapsed*: the
        optimizer is told (:meth:`autotrace.optimizers.base.Optimizer.collapsed`), so that the next
        question moves on or is put another way."""
        ledger = self.ledger
        current = ledger.key(step.current.values)  # an answer giving these back copied them
        fresh: dict[ProposalKey, tuple[Proposal, dict[str, Any]]] = {}
        reused: list[Evaluated] = []
        repeat: tuple[int, Evaluation, list[str]] | None = None
        for proposal in answered:
            if not proposal.values:
                if not proposal.escaping:
                    self._collapsed(proposal, _nothing(proposal))
                continue
            values = {**step.current.values, **proposal.values}
            key = ledger.key(values)
            known = ledger.pool.get(key)
            if key in fresh or any(v == values for _, v, _ in reused):
                self._collapsed(proposal, "it gave the values another answer of this step gave")
                continue
            if known is None:
                fresh[key] = (proposal, values)
            elif known.step == step.number and known.origin == "proposal":
                reused.append((proposal, values, ledger.evaluated[known.id]))
            else:
                evaluation = ledger.evaluated[known.id]
                self._collapsed(proposal, f"it gave values run before again ({_when(known.step)}, which scored "
                                          f"{evaluation.describe()})", copied=key == current)
                if repeat is None:
                    repeat = (known.step, evaluation, list(proposal.values))
        batch = list(fresh.values())
        evaluations = ledger.evaluate_many([values for _, values in batch], "proposal", ledger.parents)
        return [(p, v, e) for (p, v), e in zip(batch, evaluations, strict=False)] + reused, repeat

    def _collapsed(self, proposal: Proposal, why: str, copied: bool = False) -> None:
        """Tell the optimizer an answer collapsed: about its one parameter, or those it changed. A whole
        answer that gave functions back as they are (``copied``: its values are the step's current ones,
        if not in the same text) is charged to none of them (it is still said in the next question):
        copying a function among several is no sign the question about it alone was asked, and spending
        it would send that question to a parameter the feedback implicates less."""
        names = [proposal.about] if proposal.about else [] if copied else list(proposal.values)
        self.optimizer.collapsed(names, why)

    def _tried_scores(self, names: Sequence[str]) -> str:
        """For each of ``names``, the scores of its values tried before (:func:`tried_scores`)."""
        return "; ".join(filter(None, (tried_scores(name, self.optimizer.tried(name)) for name in names)))


def _when(step: int) -> str:
    return "the initial values" if step == 0 else f"step {step}'s"


def _nothing(proposal: Proposal) -> str:
    """Why an answer without values gave nothing."""
    if proposal.error:
        return f"it was not usable ({truncate(proposal.error, 200)})"
    if proposal.rejected:
        return "it was rejected: " + "; ".join(truncate(r, 200) for r in proposal.rejected.values())
    if proposal.unchanged:
        return "it gave " + ", ".join(proposal.unchanged) + " again unchanged"
    return "it changed nothing"


def samplings(first: Sampling, seed: int, step: int, candidates: int) -> tuple[Sampling, ...]:
    """The temperature and seed of each answer a step asks for at once (``Options.candidates``)."""
    temperature = max(first.temperature, SAMPLE_TEMPERATURE)
    return (first, *(Sampling(temperature, derived_seed(seed, step, i)) for i in range(1, candidates)))


def repeat_problem(step: int, evaluation: Evaluation, tried: str = "") -> str:
    """What the model is told about an answer whose values were run before in this run; ``tried``: the
    scores of the values tried before for the parameters it changed (:func:`tried_scores`)."""
    when = "the initial values" if step == 0 else f"attempt {step} (step {step} of this run)"
    return (f"this is {when} again; it scored {evaluation.describe()}, so it was not run again."
            + (f" Values tried before: {tried}." if tried else "") + " Propose a change that was not tried before.")


def answers_note(proposals: Sequence[Proposal], new: Sequence[Evaluated], asked: int) -> str:
    """A step's answers in one phrase: one answer's :func:`answer_note`, or ``4 proposed, 3 new, best
    0.83`` (``asked``: how many were asked at once, the others were asked again after them)."""
    if len(proposals) == 1:
        return answer_note(proposals[0])
    best = max((e for _, _, e in new), key=lambda e: e.rank, default=None)
    again = len(proposals) - asked
    return (f"{len(proposals)} proposed" + (f" ({again} sampled again)" if again > 0 else "") + f", {len(new)} new"
            + (f", best {best.describe()}" if best else ""))


def answer_note(proposal: Proposal) -> str:
    if proposal.error:
        return f"no usable answer: {proposal.error}"
    parts = [f"changed {', '.join(proposal.values)}"] if proposal.values else ["no change proposed"]
    if proposal.rejected:
        parts.append(f"rejected {', '.join(name or 'the answer' for name in proposal.rejected)}")
    return "; ".join(parts)


#: Builds a proposer from the engine's optimizer (what the resampling rotation is made of).
ProposerFactory = Callable[[Optimizer], Proposer]
#: The resampling rotation: the reflective question, then the whole problem again, in turn.
ROTATION: tuple[ProposerFactory, ...] = (Reflective, WholeProgram)
