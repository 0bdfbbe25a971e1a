"""Geometry of the page's pictures: the score plot, the heat map's colours and the lineage.

Plotting choice: inline SVG that this module lays out and the template writes — a few kilobytes, no
script, no library to inline (a plotting library that inlines itself is 1-3 MB of JavaScript), and
the markup stays readable in a code review. Only numbers and positions are computed here; every text
goes through the template's escaping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .run import Heat, Step

WIDTH, HEIGHT = 720.0, 260.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 64.0, 16.0, 16.0, 36.0


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    step: int
    label: str
    kind: str  # "step" (the values a step ended with), "run" (any program run of a step), "failed", "best"


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class ScorePlot:
    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    best_path: str  # SVG path of the best score so far
    points: tuple[Point, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]


def score_plot(steps: Sequence[Step]) -> ScorePlot | None:
    """Every evaluated candidate (small dots: each program run of a step; circles: the values the
    step ended with; crosses: failed), and the best score so far as a step line."""
    scores = [s.score for s in steps if s.score is not None] + [v for s in steps for v in s.evaluated if v is not None]
    if not steps or not scores:
        return None
    low, high = min(scores), max(scores)
    if high - low < 1e-12:
        low, high = low - 1.0, high + 1.0
    pad = (high - low) * 0.06
    low, high = low - pad, high + pad
    first, last = steps[0].step, max(steps[-1].step, steps[0].step + 1)
    right, bottom = WIDTH - _RIGHT, HEIGHT - _BOTTOM

    def x(step: float) -> float:
        return _LEFT + (step - first) / (last - first) * (right - _LEFT)

    def y(score: float) -> float:
        return bottom - (score - low) / (high - low) * (bottom - _TOP)

    points: list[Point] = []
    path: list[str] = []
    for s in steps:
        for i, value in enumerate(s.evaluated):
            if value is not None:
                jitter = (i % 7 - 3) * 1.5
                points.append(Point(x(s.step) + jitter, y(value), s.step, f"step {s.step}, run {i + 1}: {value:.4g}",
                                    "run"))
        if s.score is None:
            points.append(Point(x(s.step), bottom, s.step, f"step {s.step}: {s.describe}", "failed"))
        else:
            points.append(Point(x(s.step), y(s.score), s.step, f"step {s.step}: {s.describe}",
                                "best" if s.is_best else "step"))
        best = s.best_score
        if best is not None:  # a step line: across to this step, then up to its best
            path.append(f"H{x(s.step):.1f} V{y(best):.1f}" if path else f"M{x(s.step):.1f} {y(best):.1f}")
    return ScorePlot(WIDTH, HEIGHT, _LEFT, right, _TOP, bottom, " ".join(path), tuple(points),
                     tuple(Tick(x(t), str(t)) for t in _integer_ticks(first, last)),
                     tuple(Tick(y(v), f"{v:.4g}") for v in _ticks(low, high)))


def _integer_ticks(first: int, last: int, most: int = 12) -> list[int]:
    every = max(1, math.ceil((last - first) / most))
    return list(range(first, last + 1, every))


def _ticks(low: float, high: float, most: int = 5) -> list[float]:
    raw = (high - low) / most
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.ceil(low / step) * step
    return [start + i * step for i in range(int((high - start) / step) + 1)]


def heat_colour(heat: Heat, value: float | None) -> str:
    """A cell's fill: red (lowest score of the matrix) through yellow to green (highest); grey: failed."""
    if value is None:
        return "#9ca3af"
    t = 0.5 if heat.high - heat.low < 1e-12 else (value - heat.low) / (heat.high - heat.low)
    hue = 120.0 * t  # 0 red, 60 yellow, 120 green
    return f"hsl({hue:.0f}, 70%, {72 - 12 * abs(t - 0.5):.0f}%)"


@dataclass(frozen=True)
class LineageNode:
    step: int
    x: float
    y: float
    kind: str  # "model", "measured", "initial", "failed"
    best: bool
    label: str


@dataclass(frozen=True)
class LineageEdge:
    path: str
    merge: bool  # one of several parents


@dataclass(frozen=True)
class Lineage:
    width: float
    height: float
    nodes: tuple[LineageNode, ...]
    edges: tuple[LineageEdge, ...]


def lineage(steps: Sequence[Step]) -> Lineage | None:
    """Steps left to right; an edge from each parent (an arc over the steps between when the step
    went back to an earlier one; several arcs when a step merges candidates)."""
    if not steps:
        return None
    gap = min(56.0, max(18.0, (WIDTH - 40) / max(len(steps), 1)))
    mid = 70.0
    where = {s.step: 20.0 + i * gap for i, s in enumerate(steps)}
    nodes = tuple(LineageNode(
        s.step, where[s.step], mid,
        "initial" if not s.parents else "failed" if s.failed else "measured" if s.measured else "model",
        s.is_best, f"step {s.step}: {s.describe}" + (f" — {s.note}" if s.note else "")) for s in steps)
    edges = []
    for s in steps:
        for parent in s.parents:
            if parent not in where:
                continue
            x1, x2 = where[parent], where[s.step]
            if abs(x2 - x1) <= gap + 0.1:
                path = f"M{x1 + 7:.1f} {mid:.1f} L{x2 - 7:.1f} {mid:.1f}"
            else:  # back to an earlier step: an arc above the line
                lift = min(60.0, 12.0 + (x2 - x1) / 6)
                path = (f"M{x1:.1f} {mid - 7:.1f} C{x1:.1f} {mid - lift:.1f} {x2:.1f} {mid - lift:.1f}"
                        f" {x2:.1f} {mid - 7:.1f}")
            edges.append(LineageEdge(path, len(s.parents) > 1))
    return Lineage(max(WIDTH, 40 + len(steps) * gap), 100.0, nodes, tuple(edges))
