"""What becomes a run's best: one rule, asked by the engine while it runs and by a resumed run, which
chooses its best again from everything the stored run evaluated (:func:`pooled_best`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from autotrace.evaluation import Evaluation
from autotrace.pool import Candidate, Origin
from autotrace.scoring import better


class Acceptance(Protocol):
    """Whether ``candidate`` (evaluated as ``origin``) takes the place of the best so far, ``held``."""

    def __call__(self, candidate: Evaluation, held: Evaluation, noisy: bool, origin: Origin = "proposal") -> bool:
        ...


def takes(candidate: Evaluation, held: Evaluation, noisy: bool, origin: Origin = "proposal") -> bool:
    """The run's acceptance rule: ``candidate`` is :func:`autotrace.scoring.better` than ``held`` (by the
    paired test when the run is ``noisy``). A measured step's result also takes the place when it ranks
    as high: it was taken because it beat the best, and may only equal a point of its own search (its
    tidier spelling), which a resumed run sees pooled before it."""
    return better(candidate, held, noisy) or (origin == "measured" and candidate.rank >= held.rank)


def pooled_best(candidates: Sequence[Candidate], evaluated: Mapping[int, Evaluation], noisy: bool = False,
                acceptance: Acceptance = takes) -> Candidate | None:
    """The best of ``candidates`` (a run's pool, with each one's evaluation), chosen as the engine chose
    it while it ran: in the order of evaluation, each one ``acceptance`` takes over the best so far. A
    resumed run starts from it: its stored steps alone miss a best that a probe found and no step kept."""
    best: Candidate | None = None
    for candidate in candidates:
        if best is None or acceptance(evaluated[candidate.id], evaluated[best.id], noisy, candidate.origin):
            best = candidate
    return best
