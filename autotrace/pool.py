"""Every candidate a run evaluated, with its score on each example, and the per-example Pareto front.

One greedy candidate per step forgets a version that was right where the best one is wrong (a fix for
even-length lists that breaks the odd ones the original got right). The pool keeps them all; the *front*
is the candidates that are best on at least one example (GEPA's selection: ties kept, a candidate
another one matches or beats everywhere and beats somewhere is out), and the next parent is drawn from
it with the run's seed, so a run replays.

The pool also is the run's record of what was evaluated: a set of values it holds (by
:func:`autotrace.proposal_key.proposal_key`, given by the caller) is never run again.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from autotrace.proposal_key import ProposalKey

if TYPE_CHECKING:
    from autotrace.evaluation import Evaluation, ExampleResult

#: Where a candidate came from: the initial values, a model's proposal, a merge of two candidates,
#: the measured step's result; or a "probe": any other program run of the probes and the measured
#: search, kept so that it is never run again but no member of the front.
Origin = Literal["initial", "proposal", "merge", "measured", "probe"]
ORIGINS: tuple[Origin, ...] = ("initial", "proposal", "merge", "measured", "probe")

#: One example's score: a number (a test: 1 passes, 0 fails, -1 a regression), None when the example
#: could not be judged or the program did not run.
Score = float | None


@dataclass(frozen=True)
class Candidate:
    """One evaluated set of values. ``values`` are texts (code as source, literals as ``repr``), as the
    store and the prompts hold them; ``scores`` maps each example's label to its score."""

    id: int
    values: Mapping[str, str]
    parents: tuple[int, ...]
    step: int
    scores: Mapping[str, Score]
    origin: Origin
    #: The evaluation's rank (the mean score, then fewer raising runs), kept to order candidates as
    #: the loop ranks their evaluations (the front when no example ran, the patch among candidates
    #: equal on validation).
    rank: tuple[float, float] = (float("-inf"), float("-inf"))

    def score_on(self, label: str) -> float:
        """Comparable score on one example: a missing or failed example is the worst there is."""
        score = self.scores.get(label)
        return float("-inf") if score is None else score

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "values": dict(self.values), "parents": list(self.parents), "step": self.step,
                "scores": dict(self.scores), "origin": self.origin, "rank": [_finite(r) for r in self.rank]}

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Candidate:
        origin = data["origin"]
        if origin not in ORIGINS:
            raise ValueError(f"unknown candidate origin {origin!r}")
        rank = tuple(float("-inf") if r is None else float(r) for r in data.get("rank", (None, None)))
        return Candidate(id=int(data["id"]), values=dict(data["values"]), parents=tuple(data["parents"]),
                         step=int(data["step"]), scores=dict(data["scores"]), origin=origin,
                         rank=(rank[0], rank[1]))


@dataclass
class Pool:
    """The evaluated candidates of one run, in the order they were evaluated."""

    candidates: list[Candidate] = field(default_factory=list)
    _by_key: dict[ProposalKey, Candidate] = field(default_factory=dict)

    def add(self, key: ProposalKey, candidate: Candidate) -> Candidate:
        """Keep ``candidate`` (the first one wins when the key was seen: it was not run again)."""
        if key in self._by_key:
            return self._by_key[key]
        if any(c.id == candidate.id for c in self.candidates):
            raise ValueError(f"candidate {candidate.id} is in the pool already")
        self._by_key[key] = candidate
        self.candidates.append(candidate)
        return candidate

    def promote(self, key: ProposalKey, origin: Origin) -> Candidate:
        """The candidate with this key, now of ``origin`` (a probe kept as the measured step's result)."""
        old = self._by_key[key]
        new = self._by_key[key] = replace(old, origin=origin)
        self.candidates[self.candidates.index(old)] = new
        return new

    def rescore(self, evaluations: Mapping[int, Evaluation]) -> None:
        """Each candidate's scores and rank again from its evaluation (the run's failure score moved)."""
        self.candidates = [replace(c, scores=evaluations[c.id].example_scores(), rank=evaluations[c.id].rank)
                           for c in self.candidates]
        self._by_key = {key: self.by_id(c.id) for key, c in self._by_key.items()}

    def members(self) -> list[Candidate]:
        """The candidates the front is made of: all but the probes."""
        return [c for c in self.candidates if c.origin != "probe"]

    def get(self, key: ProposalKey) -> Candidate | None:
        """The candidate with these values, if they were evaluated."""
        return self._by_key.get(key)

    def by_id(self, candidate_id: int) -> Candidate:
        for candidate in self.candidates:
            if candidate.id == candidate_id:
                return candidate
        raise KeyError(candidate_id)

    @property
    def next_id(self) -> int:
        return max((c.id for c in self.candidates), default=-1) + 1

    def labels(self) -> list[str]:
        """Every example any candidate was scored on, in first-seen order."""
        seen: dict[str, None] = {}
        for candidate in self.members():
            seen.update(dict.fromkeys(candidate.scores))
        return list(seen)

    def front(self) -> list[Candidate]:
        """The per-example Pareto front: candidates best on at least one example and dominated by none.

        Equal candidates all stay (neither dominates the other); a program that did not run is never
        on the front unless nothing ran."""
        members = self.members()
        labels = self.labels()
        if not labels:
            return [max(members, key=lambda c: c.rank)] if members else []
        top = {label: max(c.score_on(label) for c in members) for label in labels}
        winners = [c for c in members
                   if any(c.score_on(label) == top[label] > float("-inf") for label in labels)]
        return [c for c in winners if not any(_dominates(other, c, labels) for other in winners)]

    def wins(self, candidate: Candidate) -> set[str]:
        """The examples on which ``candidate`` has the best score of the pool's members."""
        members = self.members()
        return {label for label in self.labels()
                if candidate.score_on(label) > float("-inf")
                and candidate.score_on(label) == max(c.score_on(label) for c in members)}

    def choose_parent(self, seed: int | str, step: int) -> Candidate:
        """A front member drawn with weights by the number of examples it is best on (GEPA), from a
        generator seeded by the run's seed and the step: the same run makes the same choices."""
        front = self.front()
        if not front:
            raise ValueError("the pool is empty")
        rng = random.Random(f"{seed}:{step}")
        weights = [max(1, len(self.wins(c))) for c in front]
        return rng.choices(front, weights=weights, k=1)[0]

    def ancestors(self, candidate: Candidate) -> list[int]:
        """``candidate``'s id and its ancestors' ids, nearest first (breadth first over parents)."""
        order, queue = [], [candidate.id]
        while queue:
            current = queue.pop(0)
            if current in order:
                continue
            order.append(current)
            queue.extend(self.by_id(current).parents)
        return order

    def common_ancestor(self, a: Candidate, b: Candidate) -> Candidate | None:
        """The nearest candidate both descend from (the initial values, at worst), or None."""
        theirs = set(self.ancestors(b))
        for candidate_id in self.ancestors(a):
            if candidate_id in theirs:
                return self.by_id(candidate_id)
        return None


def _dominates(a: Candidate, b: Candidate, labels: Iterable[str]) -> bool:
    """``a`` is at least as good as ``b`` on every example and better on one."""
    pairs = [(a.score_on(label), b.score_on(label)) for label in labels]
    return all(x >= y for x, y in pairs) and any(x > y for x, y in pairs)


def example_labels(examples: Sequence[ExampleResult]) -> list[str]:
    """A label per example that stays the same from one evaluation to the next: its ``example``
    field (a test's node id, the judge's example as text), numbered when two are the same."""
    labels: list[str] = []
    seen: dict[str, int] = {}
    for example in examples:
        text = str(example.example)
        seen[text] = seen.get(text, 0) + 1
        labels.append(text if seen[text] == 1 else f"{text} #{seen[text]}")
    return labels


def _finite(value: float) -> float | None:
    return None if value in (float("inf"), float("-inf")) or value != value else value
