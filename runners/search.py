"""The measured search: program runs, not LLM calls, that move numeric parameters to a better score.

The sensitivity probes (:mod:`.probe`) measure one slope per numeric parameter. A straight line
through that measurement reaches the goal exactly only when the score is linear in the parameter.
Judges mostly score a closeness (1 minus a sum of absolute errors), which is V-shaped along each
parameter: the line overshoots the vertex, and the overshoot itself tells where the vertex is. So
each parameter gets a short line search, one after the other (a coordinate sweep):

1. the line's estimate; 2. the vertex of the V through the two probe points and the estimate;
3. when neither beats the start, the estimate's direction at 1/2, 1/4, 1/8 of its length (a score
   with several kinks, one per output, has its best inside).

Parameters that feed separate outputs are solved by one sweep. Parameters that interact (width
and height both enter area and perimeter) put the best values on a ridge no axis follows; after a
sweep that gained little, a Nelder–Mead simplex, sized by how far each line wanted to go, walks it.

Everything runs within ``runs`` program evaluations per step. Values the loop has evaluated before are
not run again: the loop tells their scores through ``known``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .evaluation import Evaluation
from .probe import Probe, nudged

#: Program runs one measured step may make, besides the probes.
DEFAULT_RUNS = 30

#: A sweep that closes less than this share of the gap to the goal hands over to the simplex.
_SMALL_GAIN = 0.1

Values = dict[str, Any]
Key = tuple[tuple[str, str], ...]


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
    """The score that the search compares: -inf unless every example ran and was scored."""
    score = evaluation.complete_score
    return -math.inf if score is None else score


class Search:
    """One measured search from ``start`` (see the module's docstring).

    ``evaluate`` runs the program; ``known`` gives the score of values already evaluated in the run
    (None for new ones); ``enough`` says whether an evaluation reached the target."""

    def __init__(self, start: Point, probes: Sequence[Probe], goal: float | None,
                 evaluate: Callable[[Values], Evaluation], known: Callable[[Values], float | None],
                 enough: Callable[[Evaluation], bool], runs: int = DEFAULT_RUNS) -> None:
        self.start, self.goal, self._evaluate, self._enough = start, goal, evaluate, enough
        self.best = start
        self.runs_left = runs
        self._runs = runs
        self._lookups = 4 * runs  # also bounds a simplex that only meets known points
        self._seen: dict[Key, Point] = {key(start.values): start}
        self._known = known
        for p in probes:
            if p.evaluation is not None:
                self._seen.setdefault(key(p.values), Point(p.values, score_of(p.evaluation), p.evaluation))
        self._ints = {p.name for p in probes if type(p.old) is int}
        # Only parameters whose probe moved the score: the others give the search nothing to go on.
        self._probes = {p.name: p for p in probes if p.probed_score is not None and p.probed_score != p.score}
        self._reach: dict[str, float] = {}  # how far each line wanted to go: the simplex's size

    @property
    def runs_made(self) -> int:
        return self._runs - self.runs_left

    def done(self) -> bool:
        return self.runs_left <= 0 or self._lookups <= 0 or self._reached()

    def run(self) -> Point:
        """The best point found (``start`` when nothing beat it)."""
        if self.goal is not None and self._probes:
            before = self.best
            self._sweep()
            if not self.done() and self.best is not before:
                self._pattern(before)
            gap = self.goal - before.score
            if not self.done() and (self.best.score - before.score) < _SMALL_GAIN * gap:
                self._simplex()
            if self.best is not before:
                self._tidy()
        return self.best

    def _tidy(self) -> None:
        """The best values with four significant digits, when they score as well (or reach the target
        as well): a patch should read ``2.727``, not ``2.72727``."""
        best = self.best
        short = {name: float(f"{value:.4g}") if name in self._probes and type(value) is float else value
                 for name, value in best.values.items()}
        if short == best.values:
            return
        point = self._try(short)
        if point is None or point.evaluation is None:
            return
        if point.score >= best.score or (self._enough(point.evaluation) and self._reached_by(best)):
            self.best = point

    # --- one parameter at a time -------------------------------------------------------------

    def _sweep(self) -> None:
        order = sorted(self._probes.values(), key=self._relative_change)
        for probe in order:
            if self.done():
                return
            self._line(probe.name, probe if self.best is self.start else None)

    def _relative_change(self, probe: Probe) -> float:
        assert self.goal is not None
        value = probe.value_for(self.goal)
        return math.inf if value is None else abs(value - probe.old) / (abs(probe.old) or 1.0)

    def _line(self, name: str, probe: Probe | None) -> None:
        """Search along ``name`` from the best point; ``probe`` is its probe there, if it has one."""
        assert self.goal is not None
        here = self.best
        x0 = here.values[name]
        if probe is None:
            nudge = self._try({**here.values, name: nudged(x0)})
            if nudge is None:
                return
            h, s1 = nudge.values[name] - x0, nudge.score
        else:
            h, s1 = probe.new - probe.old, probe.probed_score
        if s1 is None or not math.isfinite(s1) or s1 == here.score or h == 0:
            return
        slope = (s1 - here.score) / h
        estimate = x0 + (self.goal - here.score) / slope
        self._reach[name] = max(abs(estimate - x0), abs(h))
        at_estimate = self._try({**here.values, name: estimate})
        if at_estimate is None or self._reached():
            return
        line_best = max(here.score, s1)
        if math.isfinite(at_estimate.score) and at_estimate.score < self.goal:
            # Past the vertex the score falls as fast as it rose before it.
            vertex = (x0 + estimate) / 2 + (at_estimate.score - here.score) / (2 * slope)
            at_vertex = self._try({**here.values, name: vertex})
            if self._reached() or (at_vertex is not None and at_vertex.score > line_best):
                return
        if at_estimate.score > line_best:
            return
        for halving in (2, 4, 8):  # all three: the first that does better need not be the best of them
            self._try({**here.values, name: x0 + (estimate - x0) / halving})
            if self._reached():
                return

    def _pattern(self, before: Point) -> None:
        """After a sweep that moved, one more move the same way (Hooke–Jeeves)."""
        self._try({name: 2 * self.best.values[name] - before.values[name] if name in self._probes else value
                   for name, value in self.best.values.items()})

    # --- all parameters together ---------------------------------------------------------------

    def _simplex(self) -> None:
        """Nelder–Mead over the parameters with a measured slope, from the best point, until the runs
        are spent, the target is reached or the simplex has shrunk to a thousandth of its size (it
        is then sitting on a point no direction improves)."""
        names = [n for n in self._probes if n in self.best.values]
        if len(names) < 2:
            return
        origin = self.best
        vertices: list[tuple[float, list[float]]] = [(origin.score, [float(origin.values[n]) for n in names])]
        sizes = []
        for i, name in enumerate(names):
            x = list(vertices[0][1])
            value = x[i]
            reach = self._reach.get(name, abs(nudged(value) - value))
            sizes.append(min(reach, abs(value)) if value else reach)
            x[i] = value + sizes[i]
            vertices.append((self._score_at(names, x), x))
        n = len(names)
        while not self.done():
            vertices.sort(key=lambda v: -v[0])
            (best, _), (second, _), (worst, x_worst) = vertices[0], vertices[-2], vertices[-1]
            centre = [sum(v[1][i] for v in vertices[:-1]) / n for i in range(n)]

            def along(t: float) -> list[float]:
                return [c + t * (w - c) for c, w in zip(centre, x_worst)]

            reflected = along(-1.0)
            s_r = self._score_at(names, reflected)
            if s_r > best:
                expanded = along(-2.0)
                s_e = self._score_at(names, expanded)
                vertices[-1] = (s_e, expanded) if s_e > s_r else (s_r, reflected)
            elif s_r > second:
                vertices[-1] = (s_r, reflected)
            else:
                contracted = along(-0.5 if s_r > worst else 0.5)
                s_c = self._score_at(names, contracted)
                if s_c > max(s_r, worst):
                    vertices[-1] = (s_c, contracted)
                else:
                    top = vertices[0][1]
                    shrunk = [[t + (x - t) / 2 for t, x in zip(top, v[1])] for v in vertices[1:]]
                    if all(abs(v[i] - top[i]) < 1e-3 * sizes[i] for v in shrunk for i in range(n)):
                        return
                    vertices[1:] = [(self._score_at(names, s), s) for s in shrunk]

    def _score_at(self, names: Sequence[str], x: Sequence[float]) -> float:
        point = self._try(self._rounded(names, x))
        return point.score if point is not None else -math.inf

    def _rounded(self, names: Sequence[str], x: Sequence[float]) -> Values:
        return {**self.best.values, **{n: self._round(n, v) for n, v in zip(names, x)}}

    # --- evaluation ----------------------------------------------------------------------------

    def _reached(self) -> bool:
        return self._reached_by(self.best)

    def _reached_by(self, point: Point) -> bool:
        return point.evaluation is not None and self._enough(point.evaluation)

    def _try(self, values: Values) -> Point | None:
        """Evaluate ``values`` (rounded as the parameters' types want) unless seen; None when no run
        is left. The best point follows."""
        values = {name: self._round(name, value) for name, value in values.items()}
        k = key(values)
        point = self._seen.get(k)
        self._lookups -= 1
        if point is None and (known := self._known(values)) is not None:
            point = self._seen[k] = Point(values, known, None)
        if point is None:
            if self.runs_left <= 0:
                return None
            self.runs_left -= 1
            evaluation = self._evaluate(values)
            point = self._seen[k] = Point(values, score_of(evaluation), evaluation)
            if point.score > self.best.score:
                self.best = point
        return point

    def _round(self, name: str, value: Any) -> Any:
        if name not in self._probes:
            return value
        if name in self._ints:
            return int(round(value))
        if type(value) is float and math.isfinite(value):
            return float(f"{value:.6g}")  # a value fit to be patched into a source file
        return value
