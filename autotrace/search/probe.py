"""Measured sensitivity of the score to each numeric parameter, as a hint for the optimizer.

An LLM reads from the recorded run *which* constant moves the output, but small models are poor at
working out *how far* to move it: they jump between round numbers (1.5, 2, 3) and oscillate. A
finite difference costs one extra evaluation per numeric parameter and no tokens of reasoning:
nudge one constant by 10%, evaluate, and tell the model what the score did — plus, when the score
looks like minus an error or a target is set, the value that a straight line through the two
measurements would reach it at. The model still decides what to change; the hint only replaces
arithmetic it would otherwise guess.

Only int and float literals are probed (not bools, not containers, not code), inside the bounds their
markers give (a nudge turns down when the bound is in the way), and only when the current values have a
numeric score. A probe is a real evaluation, so the loop keeps a probed value
as the best when it scores best (it says so in the step's note): throwing away a measured
improvement would only cost the user steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autotrace.evaluation import Evaluation
from autotrace.optimizers.base import Sensitivity, number_text
from autotrace.params import ParamSpec

from .space import Dimension, dimensions

#: More numeric parameters than this are not probed: each probe is one more evaluation per step.
MAX_PROBED = 6
RELATIVE_STEP = 0.1


@dataclass(frozen=True)
class Probe:
    """One finite difference: ``name`` moved from ``old`` to ``new`` moved the score from ``score``
    to ``probed_score``; ``values`` and ``evaluation`` are the whole evaluated candidate."""

    name: str
    old: float
    new: float
    score: float
    probed_score: float | None  # None: the nudged program failed or gave no score
    values: dict[str, Any] = field(compare=False, repr=False, default_factory=dict)
    evaluation: Evaluation | None = field(compare=False, repr=False, default=None)

    @property
    def slope(self) -> float | None:
        if self.probed_score is None or self.new == self.old:
            return None
        return (self.probed_score - self.score) / (self.new - self.old)

    def value_for(self, goal: float) -> float | None:
        """Where the straight line through the two measurements reaches score ``goal``."""
        slope = self.slope
        if not slope:
            return None
        value = self.old + (goal - self.score) / slope
        return 0.0 if abs(value) < 1e-9 * max(abs(self.old), abs(self.new)) else value  # float noise around 0


def nudged(value: int | float) -> int | float:
    """``value`` moved up by about 10% (by one unit for a small int, by 0.1 from zero)."""
    if type(value) is int:
        return value + max(1, round(abs(value) * RELATIVE_STEP))
    # Six significant digits: a probe can become the result, and 0.05500000000000001 is no value to patch in.
    return float(f"{value + abs(value) * RELATIVE_STEP:.6g}") if value else RELATIVE_STEP


def probe(params: Sequence[ParamSpec], values: Mapping[str, Any], current: Evaluation,
          evaluate: Callable[[dict[str, Any]], Evaluation],
          enough: Callable[[Evaluation], bool] = lambda e: False, *,
          evaluate_many: Callable[[list[dict[str, Any]]], list[Evaluation]] | None = None,
          batch: int = 1) -> list[Probe]:
    """One extra evaluation per numeric parameter (none when the current values have no score);
    stops early after a probe whose evaluation is ``enough`` (it reached the target). With
    ``evaluate_many``, ``batch`` probes are evaluated at once; those after an ``enough`` one are dropped."""
    score = current.score
    if score is None:
        return []
    candidates = [d for d in dimensions(params, values) if not d.categorical]
    if len(candidates) > MAX_PROBED:
        return []
    run_many = evaluate_many or (lambda many: [evaluate(one) for one in many])
    tried: list[tuple[Dimension, Any, Any]] = []  # (dimension, old, new) of each probe, in order
    for dim in candidates:
        old = values[dim.name]
        new = dim.nudged(old, nudged(old) - old)  # down instead when the marker's bound is in the way
        if new is not None:
            tried.append((dim, old, new))
    probes: list[Probe] = []
    size = max(1, batch)
    for first in range(0, len(tried), size):
        chunk = tried[first:first + size]
        batch_values = [{**values, dim.name: new} for dim, _, new in chunk]
        for (dim, old, new), candidate, result in zip(chunk, batch_values, run_many(batch_values), strict=False):
            probed = result.score
            probes.append(Probe(dim.name, old, new, score, probed, candidate, result))
            if probed is not None and enough(result):
                return probes
    return probes


def goal_score(score: float, target: float | None) -> float | None:
    """The score the estimates aim at: the natural best of the two usual shapes of a score, 0 for a
    negative one (minus an error) and 1 for one in [0, 1) (a fraction, a closeness), unless the
    target lies beyond it; else the target; None when there is nothing to aim at."""
    for perfect, applies in ((0.0, score < 0), (1.0, 0 <= score < 1)):
        if applies and (target is None or target <= perfect):
            return perfect
    if target is not None and target > score:
        return target
    return None


def measured(probes: Sequence[Probe], target: float | None, estimate: bool = True) -> Sensitivity:
    """What the optimizer is shown: the #Sensitivity lines and the estimate ("" and {} when nothing
    was measured; no estimate when ``estimate`` is false, e.g. once it was evaluated and did no better).

    Only one parameter gets an estimate: the one whose estimate is the smallest relative change. A
    small model given an estimate for every parameter applies them all at once and overshoots.
    Each line gives the measurement as a relative change, not the nudged value itself: small models
    copy the first absolute number they see next to a name.
    """
    if not probes:
        return Sensitivity()
    goal = goal_score(probes[0].score, target)
    # name -> (estimate, current value), for the probes that give one
    guesses = {p.name: (value, p.old) for p in probes
               if estimate and goal is not None and (value := p.value_for(goal)) is not None}
    chosen = min(guesses, key=lambda n: abs(guesses[n][0] - guesses[n][1]) / (abs(guesses[n][1]) or 1.0),
                 default=None)
    lines, estimates = [], {}
    for p in probes:
        if p.probed_score is None:
            lines.append(f"- {p.name}: raising it by {_step(p)} made the program fail or lose its score.")
            continue
        change = p.probed_score - p.score
        if change == 0:
            lines.append(f"- {p.name}: raising it by {_step(p)} did not change the score.")
            continue
        measurement = f"raising it by {_step(p)} {'raised' if change > 0 else 'lowered'} the score by {abs(change):.4g}"
        if p.name != chosen:
            lines.append(f"- {p.name}: {measurement}.")
            continue
        best = guesses[p.name][0]
        estimates[p.name] = round(best) if type(p.old) is int else float(f"{best:.4g}")
        lines.append(f"- {p.name}: estimated best value {number_text(estimates[p.name])} (measured: {measurement}).")
    if estimates:
        lines.append(f"The estimated best value is where a straight line through the two measurements reaches score "
                     f"{goal:g} if only {chosen} changes: change only {chosen}, to that value.")
    return Sensitivity("\n".join(lines), estimates)


def _step(p: Probe) -> str:
    return f"{(p.new - p.old) / abs(p.old):.0%}" if p.old else number_text(p.new - p.old)
