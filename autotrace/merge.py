"""Merging two front candidates that are right on different examples (GEPA's system-aware merge).

Two candidates of the pool's front, each best where the other is worse, are combined:

* when they changed *different* parameters since their nearest common ancestor, the combination
  takes each one's changes, with no LLM call (:attr:`MergePlan.values`);
* when they hold different versions of the *same* code or text parameter, the model is asked to
  merge the two versions, told what each gets right (:func:`merge_messages`, the prompt
  ``merge.txt`` beside the optimizer's).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from autotrace.optimizers.base import fill, load_prompt
from autotrace.optimizers.reflect import parse_one_value
from autotrace.params import ParamKind, ParamSpec
from autotrace.pool import Candidate, Pool


@dataclass(frozen=True)
class MergePlan:
    """Two front candidates to merge. ``values`` is their combination when it needs no model (texts,
    every parameter); otherwise ``conflict`` names the one parameter whose two versions the model merges."""

    a: Candidate
    b: Candidate
    values: Mapping[str, str] | None
    conflict: str | None = None

    @property
    def parents(self) -> tuple[int, int]:
        return (self.a.id, self.b.id)


def plan_merge(pool: Pool, mergeable: Collection[str], done: Collection[tuple[int, int]] = (),
               prefer: Sequence[str] = ()) -> MergePlan | None:
    """The first pair of front candidates not in ``done`` that win on different examples and can be
    merged: by taking each one's changed parameters, or, when they differ in exactly one parameter that
    is in ``mergeable`` (code and text parameters), by asking the model. Pairs that differ in a
    parameter earlier in ``prefer`` (the parameters the failing examples implicate, most first) come
    first; among equals, the oldest first."""
    labels = pool.labels()
    place = {name: i for i, name in enumerate(prefer)}
    plans: list[tuple[int, MergePlan]] = []
    for a, b in combinations(pool.front(), 2):
        if (a.id, b.id) in done:
            continue
        if not (any(a.score_on(x) > b.score_on(x) for x in labels)
                and any(b.score_on(x) > a.score_on(x) for x in labels)):
            continue
        ancestor = pool.common_ancestor(a, b)
        differ = [name for name in a.values if a.values[name] != b.values.get(name)]
        combined = _combine(a, b, ancestor, differ) if ancestor is not None else None
        rank = min((place.get(name, len(place)) for name in differ), default=len(place))
        if combined is not None:
            plans.append((rank, MergePlan(a, b, combined)))
        elif len(differ) == 1 and differ[0] in mergeable:
            plans.append((rank, MergePlan(a, b, None, differ[0])))
    return min(plans, key=lambda plan: plan[0])[1] if plans else None


def _combine(a: Candidate, b: Candidate, ancestor: Candidate, differ: Sequence[str]) -> dict[str, str] | None:
    """Each differing parameter from the side that changed it since ``ancestor``: None when both changed
    one, or when the result would be ``a`` or ``b`` again (one side changed nothing they differ in)."""
    values = dict(a.values)
    taken_from_b = 0
    for name in differ:
        if a.values[name] == ancestor.values.get(name):
            values[name] = b.values[name]
            taken_from_b += 1
        elif b.values.get(name) != ancestor.values.get(name):
            return None  # both changed it: a conflict
    return values if 0 < taken_from_b < len(differ) else None


def merge_messages(spec: ParamSpec, plan: MergePlan, versions: tuple[str, str],
                   right: Mapping[int, Sequence[str]]) -> list[dict[str, str]]:
    """The chat messages asking for one version of ``spec`` that keeps what each of the two gets right;
    ``versions``: the two values (source, or the text itself); ``right``: per candidate id, the examples
    (described) it gets right and the other does not."""
    assert plan.conflict == spec.name
    fence = "python" if spec.kind is ParamKind.CODE else "text"
    what = ("the complete merged function in one ```python block: the whole def, same name and parameters"
            if spec.kind is ParamKind.CODE else "the merged text in one ```text block, nothing else in the block")

    def listed(candidate: Candidate) -> str:
        return "\n".join(f"- {line}" for line in right[candidate.id]) or "- (nothing the other misses)"

    user = fill("merge.txt", variable=spec.name, description=spec.description or "(none)", fence=fence,
                version_a=versions[0], right_a=listed(plan.a),
                version_b=versions[1], right_b=listed(plan.b), answer=what)
    return [{"role": "system", "content": load_prompt("merge_system.txt").strip()},
            {"role": "user", "content": user}]


def parse_merged(text: str, spec: ParamSpec, current: Any) -> Any | None:
    """The merged value in the model's answer, validated as a proposal would be; None when unusable."""
    value, reason = parse_one_value(text, spec, current)
    if reason is not None:
        return None
    return current if value is None else value
