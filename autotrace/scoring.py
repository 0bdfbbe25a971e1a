"""What a run's scores mean, and when one candidate replaces another.

The number the user reads, the search compares and the patch is chosen on is the judge's mean over
*all* examples: an example whose run raised (or timed out) scores the run's *failure score*, so a
candidate cannot buy a better rank by trading right answers for fewer exceptions. The count of raising
runs is shown beside the score and only breaks ties.

A program whose output varies from run to run (a model at temperature > 0, a seeded simulation) is
evaluated on several *draws* (``--repeats``), each seeded the same way for every candidate (common
random numbers), and a candidate replaces the best only when a paired test over (example, draw) says
it is better by more than the noise. The reasons for the test and its level:
``docs/decisions/noise-aware-acceptance.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autotrace.pool import example_labels

if TYPE_CHECKING:
    from autotrace.evaluation import Evaluation

#: One-sided level of the paired test: a candidate replaces the best, and the best becomes the patch,
#: only when a difference this unlikely under "no better" is seen.
ALPHA = 0.01
#: Draws per example once the original values, evaluated twice, disagreed with themselves.
AUTO_REPEATS = 5


@dataclass
class ScoreRule:
    """One run's scoring, shared by every evaluation of the run (each holds a reference to it).

    ``failure``: the score a raising example gets when the user set one (``--failure-score``, the
    judge's ``failure_score``); else the lowest score the judge gave in the run so far, or 0 while every
    score was in [0, 1]. ``repeats``: draws per example; ``noisy``: compare with the paired test (the
    program's output varies), else a strictly higher mean wins."""

    failure: float | None = None
    repeats: int = 1
    noisy: bool = False
    _lowest: float | None = None
    _unit: bool = True
    #: Bumped whenever :attr:`failure_score` changes, so that a holder of derived numbers (the pool's
    #: per-example scores) knows to recompute them.
    version: int = 0

    @property
    def failure_score(self) -> float:
        if self.failure is not None:
            return self.failure
        if self._unit or self._lowest is None:
            return 0.0
        return self._lowest

    def see(self, scores: Iterable[float]) -> None:
        """Take the judge's scores of one more evaluation into account (the lowest so far)."""
        before = self.failure_score
        for score in scores:
            if not 0.0 <= score <= 1.0:
                self._unit = False
            if self._lowest is None or score < self._lowest:
                self._lowest = score
        if self.failure_score != before:
            self.version += 1


def draw_scores(evaluation: Evaluation) -> dict[tuple[str, int], float]:
    """Each (example label, draw) the evaluation has a number for, with the run's failure score for a
    run that raised: the pairs the paired test matches between two candidates."""
    failure = evaluation.failure_score
    return {(label, index): value
            for label, example in zip(example_labels(evaluation.examples), evaluation.examples, strict=True)
            for index, draw in enumerate(example.draws) if (value := draw.value(failure)) is not None}


def better(candidate: Evaluation, best: Evaluation, noisy: bool = False, alpha: float = ALPHA) -> bool:
    """Whether ``candidate`` replaces ``best``: the one acceptance rule of the loop, of a resumed run's
    best and of the patch.

    Without noise: a higher mean score, or the same with fewer raising runs. With noise: a paired
    one-sided t-test over the (example, draw) pairs both have (the same seeds, so the same draws where
    the program allows it) says the candidate's mean is higher at level ``alpha``; the raising count
    still breaks an exact tie. A program that did not run replaces nothing."""
    if candidate.problem:
        return False
    if best.problem:
        return True
    if not noisy:
        return candidate.rank > best.rank
    ours, theirs = draw_scores(candidate), draw_scores(best)
    common = [key for key in ours if key in theirs]
    if not common:
        return candidate.rank > best.rank
    differences = [ours[key] - theirs[key] for key in common]
    mean = sum(differences) / len(differences)
    if max(differences) - min(differences) <= 1e-12 * max(1.0, *map(abs, differences)):  # no spread: no test
        return mean > 0 or (mean == 0 and candidate.raised < best.raised)
    if mean <= 0:
        return False
    from scipy import stats  # imported when a test is made: the fork server and its children never need it

    p_value = stats.ttest_1samp(differences, 0.0, alternative="greater").pvalue
    return bool(math.isfinite(p_value) and p_value < alpha)


def rises(candidate: Evaluation, original: Evaluation) -> bool:
    """Whether ``candidate``'s judge score is above ``original``'s: what a patch needs, besides being the
    best (fewer raising examples alone break ties in the search, but change nothing the judge says).
    A judge of messages only has no number: there the raising count is all there is."""
    if candidate.score is None or original.score is None:
        return candidate.score is not None or (original.score is None and candidate.rank > original.rank)
    return candidate.score > original.score
