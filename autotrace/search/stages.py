"""The measured search: program runs, not LLM calls, that move parameters to a better score.

It works in stages, cheapest first, and stops as soon as the target is reached:

1. **Categories** (booleans, ``one of (...)`` choices): every combination when there are few, else
   each parameter's choices in turn. A sort key or a flag has no slope to follow.
2. **Cheap estimates, one number at a time.** The sensitivity probes (:mod:`.probe`) measure one slope
   per number. A straight line through it reaches the goal exactly when the score is linear in the
   parameter; judges mostly score a closeness (1 minus a sum of absolute errors), V-shaped along
   each parameter, and the line's overshoot tells where the vertex is. So each number gets the
   line's estimate, then the V's vertex, then the estimate's way at 1/2, 1/4, 1/8 (further halvings
   while the program fails or overflows there: a compounding ``d**n`` blows up past its range). A
   number whose probe changed nothing or failed is **bracketed**: steps doubling away from it both
   ways until the score moves, then bisection back to the nearest value that scores as well (a test
   that passes from a threshold on is a step function).
3. **Several floats together**: the score's tangent planes, measured by fine nudges (coarser where
   an output is rounded), are solved together for where they all reach the goal
   (:meth:`Search._planes`); the first plane also tries the one number whose own line reaches the
   goal soonest. A linear model scored by its absolute errors is a cone whose every piece passes
   through the answer, so this recovers it exactly, where one number at a time stalls on the kinks;
   on a smooth ridge (width and height for an area and a perimeter) it is Newton's method. When the
   sweep closed less than a tenth of the gap, a library optimizer (:mod:`.refine`) then takes the
   remaining runs from the best point, sized by how far each line wanted to go.

Every stage asks for a batch of points, has them evaluated together by ``evaluate_many`` (concurrently
once the evaluator can), then reads their scores. Everything stays inside the markers' bounds
(:mod:`.space`) and within ``runs`` program runs per step; values the loop has evaluated before are
not run again: the loop tells their scores through ``known``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autotrace.config import DEFAULTS
from autotrace.evaluation import Evaluation

from .probe import Probe, nudged
from .refine import Refiner, nelder_mead
from .space import Dimension

#: A sweep that closes less than this share of the gap to the goal hands over to the refiner.
_SMALL_GAIN = 0.1

#: Categories are tried in every combination when there are at most this many, else one at a time.
_COMBINATIONS = 12

#: Halvings of a step that failed before the number is given up for this search.
_SHRINKS = 10

#: Doublings of a bracketing step (2**12 times the first step) before a direction is given up.
_DOUBLINGS = 12

#: A plane's nudges, relative to the value: short enough to stay on one piece of a cone of absolute errors.
_FINE = 1e-5

#: Bisections of a bracket (a float's is then within 1/256 of the doubling step that crossed the edge).
_BISECTIONS = 8

Values = dict[str, Any]
Key = tuple[tuple[str, str], ...]
EvaluateMany = Callable[[Sequence[Values]], list[Evaluation]]


@dataclass(frozen=True)
class Point:
    """Evaluated values; ``score`` is -inf when the program failed or gave no score, ``evaluation`` is
    None when the values were evaluated before this search (so they did not beat the loop's best)."""

    values: Values
    score: float
    evaluation: Evaluation | None


def key(values: Mapping[str, Any]) -> Key:
    return tuple(sorted((name, repr(value)) for name, value in values.items()))


def score_of(evaluation: Evaluation) -> float:
    """The score that the search compares: the judge's mean (a raising example at the run's failure
    score); -inf when the program did not run or the judge gave no score."""
    score = evaluation.score
    return -math.inf if score is None else score


class Search:
    """One measured search from ``start`` (see the module's docstring) over ``dimensions``.

    ``evaluate_many`` runs the program on a batch of values; ``known`` gives the score of values
    already evaluated in the run (None for new ones); ``enough`` says whether an evaluation reached
    the target; ``refiner`` walks interacting numbers."""

    def __init__(self, dimensions: Sequence[Dimension], start: Point, probes: Sequence[Probe], goal: float | None,
                 evaluate_many: EvaluateMany, known: Callable[[Values], float | None],
                 enough: Callable[[Evaluation], bool], runs: int = DEFAULTS["measured_runs"],
                 refiner: Refiner = nelder_mead) -> None:
        self.start, self.goal, self._evaluate_many, self._enough = start, goal, evaluate_many, enough
        self.best = start
        self.runs_left = runs
        self._runs = runs
        self._lookups = 4 * runs  # also bounds a refiner that only meets known points
        self._seen: dict[Key, Point] = {key(start.values): start}
        self._known = known
        self._refiner = refiner
        for p in probes:
            if p.evaluation is not None:
                self._seen.setdefault(key(p.values), Point(p.values, score_of(p.evaluation), p.evaluation))
        self._dims = {d.name: d for d in dimensions if d.name in start.values}
        self._probes = {p.name: p for p in probes}
        self._reach: dict[str, float] = {}  # how far each line wanted to go: the refiner's step sizes

    @property
    def runs_made(self) -> int:
        return self._runs - self.runs_left

    def done(self) -> bool:
        return self.runs_left <= 0 or self._lookups <= 0 or self._reached()

    def run(self) -> Point:
        """The best point found (``start`` when nothing beat it)."""
        if self.goal is None or not self._dims or not math.isfinite(self.start.score):
            return self.best
        before = self.best
        self._tidy()  # the last search may have had no run left for it (known values are not run again)
        self._categories()
        self._sweep()
        if not self.done() and self.best is not before:
            self._pattern(before)
        gap = self.goal - before.score
        moving = [d for d in self._dims.values() if d.name in self._reach]
        stalled = (self.best.score - before.score) < _SMALL_GAIN * gap
        if not self.done() and len(moving) >= 2:
            self._planes([d for d in moving if not d.integer])
        if not self.done() and len(moving) >= 2 and stalled:
            self._refiner(moving, self.best.values, dict(self._reach), self.scores, self.done)
        if not self.done() and len(moving) == 1:
            self._descend()  # several numbers: the planes above
        if self.best is not before:
            self._tidy()
        return self.best

    def _tidy(self) -> None:
        """The best values with four significant digits, when they score as well (or reach the target
        as well): a patch should read ``2.727``, not ``2.72727``."""
        best = self.best
        short = {name: self._dims[name].value(float(f"{value:.4g}"))
                 if name in self._dims and type(value) is float else value for name, value in best.values.items()}
        if short == best.values:
            return
        point = self._try(short)
        if point is None or point.evaluation is None:
            return
        if point.score >= best.score or (self._enough(point.evaluation) and self._reached_by(best)):
            self.best = point

    # --- categories --------------------------------------------------------------------------------

    def _categories(self) -> None:
        dims = [d for d in self._dims.values() if d.categorical]
        if not dims:
            return
        here = self.best.values
        if math.prod(len(d.domain.choices) for d in dims) <= _COMBINATIONS:
            combos = itertools.product(*(d.domain.choices for d in dims))
            self._try_many([{**here, **{d.name: c for d, c in zip(dims, combo, strict=False)}} for combo in combos])
            return
        for dim in dims:
            if self.done():
                return
            self._try_many([{**self.best.values, dim.name: choice} for choice in dim.domain.choices])

    # --- one number at a time ------------------------------------------------------------------------

    def _sweep(self) -> None:
        numbers = [d for d in self._dims.values() if not d.categorical]
        sloped = sorted((d for d in numbers if self._slope_known(d.name)), key=self._relative_change)
        for dim in [*sloped, *(d for d in numbers if d not in sloped)]:
            if self.done():
                return
            self._line(dim, self._probes.get(dim.name) if self.best is self.start else None)

    def _slope_known(self, name: str) -> bool:
        p = self._probes.get(name)
        return p is not None and p.probed_score is not None and p.probed_score != p.score

    def _relative_change(self, dim: Dimension) -> float:
        assert self.goal is not None
        value = self._probes[dim.name].value_for(self.goal)
        old = self._probes[dim.name].old
        return math.inf if value is None else abs(value - old) / (abs(old) or 1.0)

    def _line(self, dim: Dimension, probe: Probe | None) -> None:
        """Search along ``dim`` from the best point; ``probe`` is its probe there, if it has one."""
        assert self.goal is not None
        here = self.best
        x0 = here.values[dim.name]
        if probe is not None:
            h, s1 = probe.new - probe.old, probe.probed_score
        else:
            moved = dim.nudged(x0, nudged(x0) - x0)
            nudge = self._try({**here.values, dim.name: moved}) if moved is not None else None
            if nudge is None:
                return
            h, s1 = moved - x0, nudge.score
        if s1 is None or not math.isfinite(s1) or s1 == here.score:
            self._bracket(dim, abs(h))  # nothing to follow: a step function, or a failure to step back from
            return
        slope = (s1 - here.score) / h
        self._reach[dim.name] = max(abs((self.goal - here.score) / slope), abs(h))
        self._follow(here, {dim.name: 1.0}, slope, max(here.score, s1))

    def _descend(self) -> None:
        """Secant steps again from each better point (a line is a plane of one number): a fresh slope,
        measured by a nudge a tenth of the last move long, and its estimate, while that gains. A
        compounding ``d**n`` converges this way, where one straight line is far off."""
        names = [n for n in self._reach if not self._dims[n].categorical]
        before = self.start
        while not self.done() and self.runs_left > len(names) + 1 and self.best is not before:
            here = self.best
            nudges = {}
            for name in names:
                x = here.values[name]
                step = abs(x - before.values[name]) / 10 or abs(nudged(x) - x)
                nudges[name] = self._dims[name].nudged(x, max(step, abs(x) * 1e-9, 1e-12))
            asked = [n for n in names if nudges[n] is not None]
            points = self._try_many([{**here.values, n: nudges[n]} for n in asked])
            slopes = {n: (p.score - here.score) / (nudges[n] - here.values[n])
                      for n, p in zip(asked, points, strict=False)
                      if p is not None and math.isfinite(p.score)}
            if not any(slopes.values()) or self.done():
                return
            before = here
            self._follow(here, slopes, sum(g * g for g in slopes.values()), self.best.score)

    def _planes(self, dims: Sequence[Dimension]) -> None:
        """Where the score's tangent planes meet the goal. Nudging each number (finely, see
        :meth:`_slopes`; where an output is rounded, by a hundredth of how far its line wanted to go,
        later by a tenth of the last move, shrunk with the gap) measures one plane per point; the
        latest planes, one per number, are solved together for the smallest move that reaches the
        goal on all of them (an SVD least-squares solve), and the move is run. The first plane alone
        cannot place the move, so one number moves alone first (:meth:`_alone`).

        A linear model scored by its absolute errors (1 minus their sum) is a cone: every piece of it
        is a plane through the answer at the goal, so each new point either reaches the goal or adds
        the plane of a piece not seen yet, and as many independent planes as numbers pin the answer
        down exactly, where one number at a time and a simplex stall on the kinks. A smooth ridge
        (area and perimeter) is met as Newton's method meets it. The planes stop after one point more
        than there are numbers in a row that gained nothing (each of them still added a plane)."""
        assert self.goal is not None
        if len(dims) < 2:
            return
        names = [d.name for d in dims]
        scale = {n: self._reach[n] or abs(self.best.values[n]) or 1.0 for n in names}
        planes: list[tuple[list[float], float]] = []  # (slopes per scaled number, goal minus the plane at 0)
        here, step = self.best, {n: self._reach[n] / 100 for n in names}
        coarse: set[str] = set()  # numbers whose fine nudges changed nothing (a rounded output)
        flat = 0
        while not self.done() and self.runs_left > len(names) and flat < len(names):
            slopes = self._slopes(dims, here, step, coarse, first=not planes)
            if slopes is None:
                return
            u = [here.values[n] / scale[n] for n in names]
            g = [slopes[n] * scale[n] for n in names]
            planes.append((g, self.goal - here.score + sum(a * b for a, b in zip(g, u, strict=False))))
            del planes[:-len(names)]
            best_u = [self.best.values[n] / scale[n] for n in names]
            move = _smallest_move([p[0] for p in planes], [p[1] - sum(a * b for a, b in zip(p[0], best_u, strict=False))
                                                          for p in planes])
            if move is None:
                return
            before = self.best
            gap = self.goal - before.score
            moved = self._moved(before, names, scale, move, 1.0)
            if len(planes) == 1 and before is not here and moved == before.values:
                here = before  # one number alone did better and lies on this plane: the next is measured there
                continue
            point = self._try(moved)
            if point is None or not math.isfinite(point.score) or point.values == before.values:
                return
            if point.score < before.score and not self.done() and gap > 0:
                # Worse: the plane overshot (a power of the error below 1 is no cone). The vertex of
                # the V the move's two ends make, as along one line; the next planes start from the
                # move's end all the same (on a cone it lies on a piece not seen yet).
                at = (1 + (point.score - before.score) / gap) / 2
                if 0 < at < 1:
                    self._try(self._moved(before, names, scale, move, at))
            flat = 0 if self.best is not before else flat + 1
            # The next nudges (when coarse): a tenth of this move, shrunk as the gap to the goal shrank
            # (on a cone the distance to the answer is in proportion to the gap).
            shrink = min(1.0, (self.goal - point.score) / gap) if gap > 0 else 1.0
            step = {n: abs(point.values[n] - before.values[n]) * shrink / 10 or step[n] / 10 for n in names}
            here = point

    def _alone(self, here: Point, slopes: Mapping[str, float]) -> bool:
        """One plane cannot tell a move of all numbers from a move of one: first the number whose own
        line reaches the goal with the smallest relative change moves alone (what the next step's
        sweep would run first; when the numbers do not interact, only one may still be off). True
        when that reached the target."""
        assert self.goal is not None
        moves = {n: (self.goal - here.score) / g for n, g in slopes.items() if g}
        name = min(moves, key=lambda n: abs(moves[n]) / (abs(here.values[n]) or 1.0), default=None)
        if name is None:
            return False
        self._try({**here.values, name: self._dims[name].value(here.values[name] + moves[name])})
        return self._reached()

    def _moved(self, here: Point, names: Sequence[str], scale: Mapping[str, float], move: Sequence[float],
               t: float) -> Values:
        """``here`` moved by ``t`` times ``move`` (in units of ``scale``)."""
        return {**here.values, **{n: self._dims[n].value(here.values[n] + t * m * scale[n])
                                  for n, m in zip(names, move, strict=False)}}

    def _slopes(self, dims: Sequence[Dimension], here: Point, step: Mapping[str, float], coarse: set[str],
                first: bool = False) -> dict[str, float] | None:
        """The score's slope along each of ``dims`` at ``here``, by one nudge each (one batch); None
        when a nudge fails, no number can move or the target was reached.

        A nudge is fine (a hundred-thousandth of the value) unless the number is in ``coarse``: on a
        cone of absolute errors a nudge longer than the distance to the nearest kink measures a mix
        of two pieces, and the planes then meet away from the answer (docs/decisions/measured-search.md).
        A rounded output
        has no slope that fine: a fine nudge that changes nothing is run again at ``step``, and the
        number stays in ``coarse`` for the rest of the search. The ``first`` plane is measured at the
        sweep's best, which sits on kinks, rounding edges among them: there a fine nudge that raised
        the score is run the other way too, and when that changes nothing or also raises it (a dip,
        neither a concave kink nor a smooth slope) the first nudge jumped over a rounding edge, and
        the number is nudged at ``step``. Between the fine nudges and the coarse ones, the ``first``
        plane tries one number alone (:meth:`_alone`)."""
        def nudge(dim: Dimension, size: float, way: float = 1.0) -> int | float | None:
            x = here.values[dim.name]
            return dim.nudged(x, way * max(size, abs(x) * _FINE, 1e-9))

        def run(asked: Mapping[str, Any]) -> dict[str, Point | None]:
            return dict(zip(asked, self._try_many([{**here.values, n: v} for n, v in asked.items()]), strict=False))

        def slope(name: str, point: Point | None) -> float:
            assert point is not None
            return (point.score - here.score) / (point.values[name] - here.values[name])

        nudges = {d.name: moved for d in dims if (moved := nudge(d, step[d.name] if d.name in coarse else 0.0))
                  is not None}
        points = run(nudges)
        if any(p is None or not math.isfinite(p.score) for p in points.values()):
            return None
        fine = [n for n in nudges if n not in coarse]
        back = run({n: v for n in fine if first and points[n].score > here.score  # type: ignore[union-attr]
                    and (v := nudge(self._dims[n], 0.0, -1.0)) is not None})
        slopes: dict[str, float] = {}
        again: dict[str, int | float] = {}
        for name in nudges:
            right = slope(name, points[name])
            if name in back and back[name] is not None:
                left = slope(name, back[name])
                jumped = left == 0 or right - left > 0.5 * max(abs(left), abs(right))
            else:
                jumped = right == 0 and name in fine
            if not jumped:
                slopes[name] = right
            elif (moved := nudge(self._dims[name], step[name])) is not None:
                again[name] = moved
        if first and self._alone(here, slopes):
            return None
        coarse.update(again)
        points = run(again)
        if any(p is None or not math.isfinite(p.score) for p in points.values()):
            return None
        for name in again:
            slopes[name] = slope(name, points[name])
        return {d.name: slopes.get(d.name, 0.0) for d in dims} if nudges else None

    def _follow(self, here: Point, direction: Mapping[str, float], slope: float, line_best: float) -> None:
        """The line from ``here`` along ``direction`` (a step ``t`` moves each number by ``t`` times its
        component), whose score rises by ``slope`` per unit of ``t``: its estimate of the goal, the
        vertex of the V when the estimate overshot, then shorter steps."""
        assert self.goal is not None
        t = (self.goal - here.score) / slope
        at_estimate = self._try(self._along(here, direction, t))
        if at_estimate is None or self._reached():
            return
        if math.isfinite(at_estimate.score) and at_estimate.score < self.goal:
            # Past the vertex the score falls as fast as it rose before it (from where the estimate
            # was run: a bound may have held it back).
            ran = sum((at_estimate.values[n] - here.values[n]) * c for n, c in direction.items())
            ran /= sum(c * c for c in direction.values())
            vertex = ran / 2 + (at_estimate.score - here.score) / (2 * slope)
            at_vertex = self._try(self._along(here, direction, vertex))
            if self._reached() or (at_vertex is not None and at_vertex.score > line_best):
                return
        if at_estimate.score > line_best:
            return
        # All three in one batch: the first that does better need not be the best of them.
        halves = self._try_many([self._along(here, direction, t / d) for d in (2, 4, 8)])
        shrink = 8
        while (not self.done() and all(p is not None and not math.isfinite(p.score) for p in halves)
               and shrink < 2 ** _SHRINKS):
            shrink *= 2  # the program fails or overflows all along: step back further
            halves = self._try_many([self._along(here, direction, t / shrink)])

    def _along(self, here: Point, direction: Mapping[str, float], t: float) -> Values:
        return {**here.values, **{n: self._dims[n].value(here.values[n] + t * c) for n, c in direction.items()}}

    def _bracket(self, dim: Dimension, step: float) -> None:
        """Steps doubling away from the best value both ways (halving where the program fails) until one
        scores better, then bisection back towards the start: the nearest value that scores as well."""
        here = self.best
        x0 = here.values[dim.name]
        sizes = {+1: step, -1: step}
        last: dict[int, Any] = {+1: x0, -1: x0}  # the farthest value each way that did no better
        for _ in range(_DOUBLINGS + _SHRINKS):
            if self.done() or not sizes:
                return
            asked = {}
            for way, size in sizes.items():
                value = dim.value(x0 + way * size)
                if value != last[way] and dim.domain.contains(value):
                    asked[way] = value
            points = self._try_many([{**here.values, dim.name: v} for v in asked.values()])
            by_way = dict(zip(asked, points, strict=False))  # a way missing from ``asked`` is at its bound
            for way in list(sizes):
                point = by_way.get(way)
                if point is None:
                    del sizes[way]  # at the bound, or out of runs
                elif point.score > here.score:
                    self._bisect(dim, here, last[way], point)
                    return
                elif not math.isfinite(point.score) and last[way] == x0:
                    sizes[way] /= 2  # failing from the first step on: shrink it
                    if sizes[way] < step / 2 ** _SHRINKS:
                        del sizes[way]
                elif not math.isfinite(point.score):
                    del sizes[way]  # did no better, then failed further out: the edge is between
                else:
                    last[way] = point.values[dim.name]
                    sizes[way] *= 2
                    if sizes[way] > step * 2 ** _DOUBLINGS:
                        del sizes[way]

    def _bisect(self, dim: Dimension, here: Point, inner: Any, outer: Point) -> None:
        """Between ``inner`` (no better than ``here``) and ``outer`` (better): the value nearest to
        ``inner`` that scores as well as ``outer``, which becomes the best when it is found."""
        for _ in range(_BISECTIONS):
            x = outer.values[dim.name]
            middle = dim.value((inner + x) / 2)
            if self.runs_left <= 0 or self._lookups <= 0 or middle in (inner, x):  # on past the target too
                break
            point = self._try({**here.values, dim.name: middle})
            if point is None:
                break
            if point.score >= outer.score:
                outer = point
            elif point.score <= here.score:
                inner = middle
            else:
                break  # between the two: a slope, not a step; no edge to find
        if outer.evaluation is not None and outer.score >= self.best.score:
            self.best = outer

    def _pattern(self, before: Point) -> None:
        """After a sweep that moved, one more move the same way (Hooke–Jeeves)."""
        moved = {name: dim.value(2 * self.best.values[name] - before.values[name])
                 for name, dim in self._dims.items() if not dim.categorical and name in self._reach}
        if moved:
            self._try({**self.best.values, **moved})

    # --- evaluation ----------------------------------------------------------------------------------

    def scores(self, batch: Sequence[Values]) -> list[float]:
        """The scores of a batch of values (a refiner's view): -inf where the program failed, nan where
        no run was left to make."""
        return [math.nan if p is None else p.score for p in self._try_many(batch)]

    def _reached(self) -> bool:
        return self._reached_by(self.best)

    def _reached_by(self, point: Point) -> bool:
        return point.evaluation is not None and self._enough(point.evaluation)

    def _try(self, values: Values) -> Point | None:
        return self._try_many([values])[0]

    def _try_many(self, batch: Sequence[Values]) -> list[Point | None]:
        """The points of ``batch`` (values rounded as their parameters want), evaluated together in one
        call of ``evaluate_many`` unless seen before; None for those past the run limit. The best point
        follows."""
        points: dict[Key, Point | None] = {}
        new: dict[Key, Values] = {}
        for values in batch:
            values = self._rounded(values)
            k = key(values)
            if k in points or k in new:
                continue
            self._lookups -= 1
            point = self._seen.get(k)
            if point is None and (known := self._known(values)) is not None:
                point = self._seen[k] = Point(values, known, None)
            if point is None and len(new) < self.runs_left:
                new[k] = values
            points[k] = point
        if new:
            self.runs_left -= len(new)
            for (k, values), evaluation in zip(new.items(), self._evaluate_many(list(new.values())), strict=False):
                points[k] = self._seen[k] = Point(values, score_of(evaluation), evaluation)
        for point in points.values():
            if point is not None and point.evaluation is not None and point.score > self.best.score:
                self.best = point
        return [points[key(self._rounded(values))] for values in batch]

    def _rounded(self, values: Values) -> Values:
        return {name: self._dims[name].value(value) if name in self._dims and not self._dims[name].categorical
                else value for name, value in values.items()}


def _smallest_move(slopes: Sequence[Sequence[float]], rises: Sequence[float]) -> list[float] | None:
    """The shortest move ``m`` with ``slopes[k] . m = rises[k]`` for every plane ``k`` (least squares
    when they disagree; numpy's SVD solve); None when every slope is 0."""
    import numpy

    a = numpy.array(slopes, dtype=float)
    if not a.any():
        return None
    move, *_ = numpy.linalg.lstsq(a, numpy.array(rises, dtype=float), rcond=1e-3)
    return [float(m) for m in move] if numpy.isfinite(move).all() else None
