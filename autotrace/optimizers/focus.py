"""Which parameter the next reflective question asks about: the one the feedback implicates most
(:mod:`.credit`) that has not been tried without gain.

Drawn at random among the functions a run called, the question kept coming back to a function the
feedback did not point at: a class with two buggy methods, judged on what one of them returned, got
six steps of answers rewriting the *other* one, or repeating values already run (issue 33). So the
question goes down the credit order instead, and moves on: a parameter is *spent* once a question
about it was followed by no gain (its answer changed nothing, repeated values already run, or gave
values that did not beat the best), and the next question is about the next parameter. A gain makes
every parameter worth asking about again (the feedback it is asked on is new); when all are spent,
the order starts over.

Gain is read from the optimizer's memory of evaluated attempts (the best score in it), which the loop
fills at the end of every step: within a step the loop asks again only while nothing new was found,
so the next question there always follows an answer without gain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from autotrace.optimizers.credit import Implicated
from autotrace.params import ParamSpec


@dataclass
class Focus:
    """The state of the asks over a run: the parameters spent, the last one asked about and the best
    score when it was asked."""

    spent: set[str] = field(default_factory=set)
    asked: str | None = None
    best_then: float | None = None

    def choose(self, targets: Sequence[ParamSpec], credit: Sequence[Implicated], best: float | None) -> ParamSpec:
        """The parameter of ``targets`` to ask about now, given the step's ``credit`` and the best score
        so far (``best``, None before any score); recorded as asked."""
        if not targets:
            raise ValueError("no parameter to ask about")
        if self.asked is not None:
            if best is not None and (self.best_then is None or best > self.best_then):
                self.spent.clear()
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
