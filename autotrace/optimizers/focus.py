"""Which parameter the next reflective question asks about: the one the feedback implicates most
(:mod:`.credit`) that has not been tried without gain.

Drawn at random among the functions a run called, the question can keep coming back to a function the
feedback does not point at (docs/decisions/no-collapse.md). So the question goes down the credit order
instead, and moves on: a parameter is *spent* once a question
about it was followed by no gain (its answer changed nothing, repeated values already run, or gave
values that did not beat the best), and the next question is about the next parameter. A gain makes
every parameter worth asking about again (the feedback it is asked on is new); when all are spent,
the order starts over.

Gain is read from the optimizer's memory of evaluated attempts (the best score in it), which the loop
fills at the end of every step: within a step the loop asks again only while nothing new was found,
so the next question there always follows an answer without gain.

An answer about a parameter *collapsed* when it repeated values already run or changed nothing
(:meth:`Focus.collapsed`): sampled again, the same question tends to give the same answer. So the
next question moves to the next implicated parameter first (it is spent); when the order comes back
to a parameter whose answers collapsed, the question about it is put another way (:class:`Way`): the
failing examples one at a time (the next one each time), or, for a function longer than
:data:`LONG_LINES` lines, every other time a small edit of a few lines, which a model that rewrites
the whole function again and again can make without copying the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from autotrace.optimizers.credit import Implicated
from autotrace.params import ParamKind, ParamSpec

#: A function longer than this (lines of source) may be asked for a small edit instead of whole.
LONG_LINES = 25


class Way(StrEnum):
    """How the one-parameter question is put: the parameter whole with all the feedback, one failing
    example at a time, or a small edit of a few lines of a long function."""

    WHOLE = "whole"
    EXAMPLE = "example"
    EDIT = "edit"


@dataclass(frozen=True)
class Ask:
    """A one-parameter question: about ``spec``, put ``way``; ``example``: which failing example (an
    index into the failing ones, for :attr:`Way.EXAMPLE`)."""

    spec: ParamSpec
    way: Way = Way.WHOLE
    example: int = 0


@dataclass
class Focus:
    """The state of the asks over a run: the parameters spent, the last one asked about and the best
    score when it was asked."""

    spent: set[str] = field(default_factory=set)
    asked: str | None = None
    best_then: float | None = None
    #: Per parameter, how many answers about it collapsed (repeated values run before, changed nothing).
    collapses: dict[str, int] = field(default_factory=dict)
    #: The parameters new answers changed without gain since the last gain.
    rewritten: set[str] = field(default_factory=set)

    def rewrote(self, names: Sequence[str], gained: bool) -> bool:
        """New values of ``names`` were run, ``gained``: whether they beat the best. True when they did not
        and every one of ``names`` had been changed without gain before: each is spent (the next question
        moves on); a gain makes every parameter fresh again."""
        if gained:
            self.rewritten.clear()
            self.spent.clear()
            self.collapses.clear()
            return False
        again = bool(names) and all(name in self.rewritten for name in names)
        self.rewritten.update(names)
        if again:
            self.spent.update(names)
        return again

    def collapsed(self, names: Iterable[str]) -> None:
        """Answers about ``names`` collapsed: each is spent, and its next question is put another way."""
        for name in names:
            self.spent.add(name)
            self.collapses[name] = self.collapses.get(name, 0) + 1

    def ask(self, targets: Sequence[ParamSpec], credit: Sequence[Implicated], best: float | None,
            values: dict[str, object]) -> Ask:
        """The next one-parameter question: its parameter (:meth:`choose`) and how it is put
        (:func:`way_for`, given its current value in ``values``)."""
        spec = self.choose(targets, credit, best)
        way, example = way_for(spec, values.get(spec.name), self.collapses.get(spec.name, 0))
        return Ask(spec, way, example)

    def choose(self, targets: Sequence[ParamSpec], credit: Sequence[Implicated], best: float | None) -> ParamSpec:
        """The parameter of ``targets`` to ask about now, given the step's ``credit`` and the best score
        so far (``best``, None before any score); recorded as asked."""
        if not targets:
            raise ValueError("no parameter to ask about")
        if self.asked is not None:
            if best is not None and (self.best_then is None or best > self.best_then):
                self.spent.clear()
                self.collapses.clear()  # new feedback: each question is worth asking whole again
            else:
                self.spent.add(self.asked)
        order = ranked(targets, credit)
        fresh = [spec for spec in order if spec.name not in self.spent]
        if not fresh:
            self.spent.clear()
            fresh = order
        self.asked, self.best_then = fresh[0].name, best
        return fresh[0]


def ranked(targets: Sequence[ParamSpec], credit: Sequence[Implicated]) -> list[ParamSpec]:
    """``targets`` in the order of ``credit`` (most implicated first), those it does not name after
    them in their own order."""
    place = {c.name: i for i, c in enumerate(credit)}
    return sorted(targets, key=lambda spec: place.get(spec.name, len(place)))


def way_for(spec: ParamSpec, value: object, collapses: int) -> tuple[Way, int]:
    """How to ask about ``spec`` (currently ``value``) after ``collapses`` collapsed answers about it, and
    which failing example (counted from 0, to be taken modulo their number): whole at first; then one
    failing example at a time, the next each time; a function of more than :data:`LONG_LINES` lines is
    asked for a small edit every other time, starting with the first collapse."""
    if collapses == 0:
        return Way.WHOLE, 0
    long = spec.kind is ParamKind.CODE and isinstance(value, str) and len(value.strip().splitlines()) > LONG_LINES
    if long and collapses % 2 == 1:
        return Way.EDIT, 0
    return Way.EXAMPLE, (collapses // 2 if long else collapses) - 1
