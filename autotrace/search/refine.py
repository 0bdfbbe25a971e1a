"""Walking interacting numbers with a library optimizer: scipy's bounded Nelder–Mead.

When the one-number-at-a-time estimates of :mod:`.search` gain little, the best values lie on a
ridge no axis follows (width and height both set an area and a perimeter). scipy's Nelder–Mead was
picked over CMA-ES and TPE by measurement (docs/decisions/measured-search.md). Nelder–Mead asks for
one point at a time, so this stage does not batch; the search's other stages do.

It starts from a simplex sized by how far each number's line wanted to go (by the logarithm for a
number marked ``log``), keeps inside the markers' bounds, and stops when the search is done (target
reached, runs spent): a failed run is worse than every finite score.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .space import Dimension

if TYPE_CHECKING:
    import numpy as np

Values = dict[str, Any]
#: A refiner: (numbers to move, values to start from, a step size per number, a batch's scores, done?).
Refiner = Callable[[Sequence[Dimension], Values, Mapping[str, float],
                    Callable[[Sequence[Values]], list[float]], Callable[[], bool]], None]

#: What a failed run scores for the simplex: worse than any finite score.
_FAILED = 1e300


class _Done(Exception):
    """The search is done: the simplex stops where it is."""


def nelder_mead(dims: Sequence[Dimension], start: Values, sizes: Mapping[str, float],
                scores: Callable[[Sequence[Values]], list[float]], done: Callable[[], bool]) -> None:
    """scipy's Nelder–Mead from ``start``, one simplex edge per number from ``sizes``, until ``done``."""
    from scipy.optimize import minimize

    values = [float(start[d.name]) for d in dims]
    x0 = [_inside(d, v) for d, v in zip(dims, values, strict=False)]
    steps = [_edge(d, v, sizes.get(d.name) or abs(v) * 0.1 or 0.1) for d, v in zip(dims, values, strict=False)]
    simplex = [x0] + [[x + steps[i] if i == j else x for j, x in enumerate(x0)] for i in range(len(dims))]
    bounds = [(_finite(_inside(d, d.domain.low)), _finite(_inside(d, d.domain.high))) for d in dims]

    def minus_score(x: np.ndarray[tuple[int], np.dtype[np.float64]]) -> float:
        if done():
            raise _Done
        (score,) = scores([{**start, **{d.name: d.value(_outside(d, v)) for d, v in zip(dims, x, strict=False)}}])
        if math.isnan(score):  # no run left
            raise _Done
        return -score if math.isfinite(score) else _FAILED

    try:
        minimize(minus_score, x0, method="Nelder-Mead", bounds=bounds,
                 # ends when the simplex has shrunk to a hundredth of its first size: sitting on a point
                 # no direction improves, it would only go on rounding to values already run
                 options={"initial_simplex": simplex, "xatol": 1e-2 * min(map(abs, steps)), "fatol": math.inf,
                          "maxfev": 100_000})
    except _Done:
        pass


def _edge(dim: Dimension, value: float, size: float) -> float:
    """The simplex's first edge along ``dim``: ``size`` up, or down when a bound is in the way."""
    for moved in (value + size, value - size):
        edge = _inside(dim, dim.domain.clip(moved)) - _inside(dim, value)
        if edge:
            return edge
    return size


def _inside(dim: Dimension, value: float) -> float:
    """The simplex's coordinate for ``value``: its logarithm on a log scale (-inf for 0)."""
    if dim.log:
        return math.log(value) if value > 0 else -math.inf
    return value


def _outside(dim: Dimension, x: float) -> float:
    return math.exp(min(x, 700.0)) if dim.log else x


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
