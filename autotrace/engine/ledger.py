"""Every evaluation a run makes: run by the :class:`Evaluator`, scored by the run's rule, counted, pooled
(:mod:`autotrace.pool`) and written to the run store as soon as it is known, so that neither the measured
search nor a model's repeated answer runs the same values again, even after a resume."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from autotrace.evaluation import Evaluation
from autotrace.params import ParamSpec, text_to_value, value_to_text
from autotrace.pool import Candidate, Origin, Pool
from autotrace.project import Project
from autotrace.proposal_key import ProposalKey, proposal_key
from autotrace.records import CandidateRecord
from autotrace.scoring import ScoreRule
from autotrace.search.stages import score_of
from autotrace.store import RunStore

#: One program run to make: a set of values, and the index of the draw whose seed it runs with.
Run = tuple[dict[str, Any], int]


class Evaluator(Protocol):
    """Runs the program: each run's evaluation (unscored by the run's rule), in the order given; with
    ``record`` false the program may run without the recorder (its evaluations then say
    ``recorded=False``), for runs whose graphs nobody reads unless they are kept."""

    @property
    def jobs(self) -> int:
        """Evaluations at once (a batch of probes is this big)."""

    def run(self, runs: Sequence[Run], record: bool = True) -> list[Evaluation]:
        ...


class Ledger:
    """The run's evaluations: the pool of candidates, each one's evaluation, how many programs ran."""

    def __init__(self, project: Project, evaluator: Evaluator, store: RunStore, rule: ScoreRule) -> None:
        self.project, self.evaluator, self.store, self.rule = project, evaluator, store, rule
        self._rule_version = rule.version
        self.pool = Pool()
        #: Each pooled candidate's evaluation, by candidate id (its feedback for a later prompt).
        self.evaluated: dict[int, Evaluation] = {}
        #: Programs run in this invocation: initial values, candidates, probes.
        self.count = 0
        #: The scores of the program runs since the last stored step (stored with the next one: the report plots them).
        self.unsaved_scores: list[float | None] = []
        #: Pairs of candidate ids whose merge was tried.
        self.merged: set[tuple[int, int]] = set()
        self.run_id: str | None = None
        #: The step running now, and the candidate ids its evaluations come from.
        self.step = 0
        self.parents: tuple[int, ...] = ()

    def evaluate(self, values: dict[str, Any], origin: Origin = "probe",
                 parents: tuple[int, ...] | None = None) -> Evaluation:
        """Run the program with ``values`` and keep the result in the pool (and the run store)."""
        return self.evaluate_many([values], origin, parents)[0]

    def evaluate_many(self, batch: Sequence[dict[str, Any]], origin: Origin = "probe",
                      parents: tuple[int, ...] | None = None, *, record: bool = True) -> list[Evaluation]:
        """Evaluate each set of values of ``batch`` (up to ``jobs`` at once: a measured search's points, a
        step's candidates), the results, counted and pooled, in the batch's order whatever ``jobs`` is;
        ``record`` false: without the recorder (:meth:`with_graphs` records the one that is kept)."""
        evaluations = self.run_many(batch, record=record)
        for one, evaluation in zip(batch, evaluations, strict=False):
            self.counted(one, evaluation, origin, parents)
        return evaluations

    def run_many(self, batch: Sequence[dict[str, Any]], draws: Sequence[int] | None = None, *,
                 record: bool = True) -> list[Evaluation]:
        """Evaluations neither counted nor pooled (see :meth:`counted`), each of the run's draws (or of
        ``draws``: their seeds' indices) and scored by the run's rule; ``record`` as in :meth:`evaluate_many`."""
        draws = range(self.rule.repeats) if draws is None else draws
        results = self.evaluator.run([(one, draw) for one in batch for draw in draws], record=record)
        n = len(draws)
        evaluations = [Evaluation.combine(results[i * n:(i + 1) * n]).under(self.rule) for i in range(len(batch))]
        self._rescore()
        return evaluations

    def with_graphs(self, values: dict[str, Any], evaluation: Evaluation) -> Evaluation:
        """``evaluation`` of ``values`` with the graphs a prompt or the report reads: itself when it was
        recorded (or the program did not run), else with those of one recorded run of the same values
        (draw 0, the seed of the run it stands for), kept in the pool and the store in its place. The
        score stays ``evaluation``'s, the one the search compared and the acceptance rule took
        (:meth:`Evaluation.with_graphs`); the recorded run is counted as a program run, not as a candidate."""
        if evaluation.recorded or evaluation.problem:
            return evaluation
        [again] = self.evaluator.run([(values, 0)])
        self.count += 1
        kept = evaluation.with_graphs(again)
        candidate = self.pool.get(self.key(values))
        if candidate is not None and not self.evaluated[candidate.id].recorded:
            self.evaluated[candidate.id] = kept
            if self.run_id is not None:
                self._store(candidate)
        return kept

    def _rescore(self) -> None:
        """When the failure score moved (a lower score was seen), the pool's per-example scores, computed
        with the old one, are computed again (and stored again)."""
        if self.rule.version == self._rule_version:
            return
        self._rule_version = self.rule.version
        self.pool.rescore({c.id: self.evaluated[c.id] for c in self.pool.candidates})
        if self.run_id is not None:
            for candidate in self.pool.candidates:
                self._store(candidate)

    def counted(self, values: dict[str, Any], evaluation: Evaluation, origin: Origin = "probe",
                parents: tuple[int, ...] | None = None) -> None:
        """An evaluation the run uses: counted, and pooled (so neither the search nor a model runs it again)."""
        self.count += 1
        self.unsaved_scores.append(finite(score_of(evaluation)))
        self.record(values, evaluation, origin, self.parents if parents is None else parents)

    def record(self, values: dict[str, Any], evaluation: Evaluation, origin: Origin,
               parents: tuple[int, ...]) -> Candidate:
        """Pool ``values`` (unless pooled already) and write the candidate to the run store at once."""
        key = self.key(values)
        if (known := self.pool.get(key)) is not None:
            if known.origin == "probe" and origin != "probe":  # a probe kept as a step's result
                self._store(self.pool.promote(key, origin))
            return self.pool.get(key) or known
        candidate = Candidate(self.pool.next_id, self.texts(values), parents, self.step,
                              evaluation.example_scores(), origin, evaluation.rank)
        self.pool.add(key, candidate)
        self.evaluated[candidate.id] = evaluation
        self._store(candidate)
        return candidate

    def _store(self, candidate: Candidate) -> None:
        assert self.run_id is not None, "a candidate is evaluated before its run is stored"
        self.store.add_candidate(self.run_id, CandidateRecord(candidate, self.evaluated[candidate.id]))

    def load(self, run_id: str) -> None:
        """The pool of a resumed run as its store holds it: every candidate evaluated before the run
        stopped, a killed step's included (so none is run again), and the merges already made."""
        for row in self.store.candidates(run_id):
            candidate = row.candidate
            self.pool.add(self.key(self.values(candidate.values)), candidate)
            self.evaluated[candidate.id] = row.evaluation.under(self.rule)
            if candidate.origin == "merge" and len(candidate.parents) == 2:
                self.merged.add((candidate.parents[0], candidate.parents[1]))

    def original(self) -> Evaluation | None:
        """The original values' evaluation (the pool's initial candidate)."""
        first = next((c for c in self.pool.candidates if c.origin == "initial"), None)
        return None if first is None else self.evaluated[first.id]

    def known(self, values: dict[str, Any]) -> float | None:
        """The score of ``values`` when the run evaluated them before."""
        candidate = self.pool.get(self.key(values))
        return None if candidate is None else score_of(self.evaluated[candidate.id])

    def id_of(self, values: dict[str, Any]) -> tuple[int, ...]:
        """The pooled candidate id of ``values``, as a step's parents (none when not pooled)."""
        candidate = self.pool.get(self.key(values))
        return () if candidate is None else (candidate.id,)

    def key(self, values: dict[str, Any]) -> ProposalKey:
        return proposal_key(self.project.params, values)

    @property
    def initial(self) -> dict[str, Any]:
        """The original values of every parameter."""
        return {p.name: p.initial for p in self.project.params}

    def values(self, texts: Mapping[str, str]) -> dict[str, Any]:
        """Values from their texts (a pooled candidate's), the initial ones where a text is missing."""
        return {**self.initial, **self.parse(texts)}

    def parse(self, texts: Mapping[str, str]) -> dict[str, Any]:
        specs: dict[str, ParamSpec] = {p.name: p for p in self.project.params}
        return {name: text_to_value(specs[name].kind, text) for name, text in texts.items() if name in specs}

    def texts(self, values: Mapping[str, Any]) -> dict[str, str]:
        """The texts of every parameter's value."""
        return {p.name: value_to_text(p.kind, values[p.name]) for p in self.project.params}

    def texts_of(self, changed: Mapping[str, Any]) -> dict[str, str]:
        """The texts of some parameters' values (what a step changed)."""
        return {name: value_to_text(self.project.param(name).kind, value) for name, value in changed.items()}


def finite(score: float) -> float | None:
    return score if math.isfinite(score) else None
