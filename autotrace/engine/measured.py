"""The measured proposer: probes each numeric parameter of the step's values (:mod:`autotrace.search.probe`),
shows the model what they measured, and searches the numeric parameters by program runs alone
(:mod:`autotrace.search`); when that beats the best values, the step takes them without an LLM call.

Probes and the search's points run without the recorder: only their scores are compared, and a program of
many calls spends most of a recorded run on its DAG. The values a step keeps get the graphs of one recorded
run when a prompt or a stored step reads them (:meth:`~autotrace.engine.ledger.Ledger.with_graphs`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from autotrace.evaluation import Evaluation
from autotrace.optimizers.base import Attempt, Optimizer, Sensitivity, number_text
from autotrace.search import probe
from autotrace.search.space import dimensions
from autotrace.search.stages import Point, Search, score_of

from .acceptance import Acceptance
from .ledger import Ledger
from .options import Options
from .proposers import Offer, Step
from .state import Held


class Measured:
    """Probes, then the measured search (``Options.probe``, ``Options.measured_step``)."""

    def __init__(self, options: Options, ledger: Ledger, optimizer: Optimizer, acceptance: Acceptance,
                 reached: Callable[[Evaluation], bool]) -> None:
        self.options, self.ledger, self.optimizer = options, ledger, optimizer
        self.acceptance, self.reached = acceptance, reached

    def propose(self, step: Step) -> Offer:
        """The measured values when they beat the best (``values`` set: the step ends with them), else
        the sensitivity to show and a note; ``best``: a probe that beat the best on the way."""
        before = self.ledger.count
        probes, top = self._probe(step.current, step.best.evaluation)
        best, probed = step.best, ""
        if top is not None and top.evaluation is not None:
            best = Held(top.values, top.evaluation)
            probed = f"probe {top.name} = {top.new!r} is the best so far"
        sensitivity, tried, found = self._search(probes, step.current, best.evaluation)
        top_held = best if top is not None else None
        if found is None or found.evaluation is None:
            return Offer(note="; ".join(filter(None, [tried, probed])), sensitivity=sensitivity, best=top_held)
        changed = {k: v for k, v in found.values.items() if v != step.current.values[k]}
        return Offer(values=found.values, evaluation=found.evaluation, sensitivity=sensitivity, best=top_held,
                     note=measured_note(changed, self.ledger.count - before))

    def _probe(self, current: Held, best: Evaluation) -> tuple[list[probe.Probe], probe.Probe | None]:
        """The probes of the current values, and the one that beat ``best`` (the best one), if any."""
        # Probed ``jobs`` at a time; a probe evaluated after the one that reached the target is dropped
        # uncounted, so the run is the same whatever the number of jobs.
        ledger = self.ledger
        probes = probe.probe(ledger.project.params, current.values, current.evaluation, ledger.evaluate, self.reached,
                             evaluate_many=lambda batch: ledger.run_many(batch, record=False),
                             batch=ledger.evaluator.jobs)
        results = [(p, p.evaluation) for p in probes if p.evaluation is not None]  # all: probe() evaluates each
        for p, result in results:
            ledger.counted(p.values, result)
        gains = [(p, result) for p, result in results if self.acceptance(result, best, ledger.rule.noisy)]
        top = max(gains, key=lambda gain: gain[1].rank, default=None)
        return probes, top[0] if top is not None else None

    def _search(self, probes: list[probe.Probe], current: Held, best: Evaluation
                ) -> tuple[Sensitivity, str, Point | None]:
        """The #Sensitivity to show, a note on the search, and the point the measured search found when
        it beats ``best``. When the search finds nothing better, the model is asked without an estimate
        to copy (the estimate was among the values tried). What it found that beat the current values
        but not the best ones becomes an earlier attempt in the optimizer's memory."""
        target, ledger = self.options.target_score, self.ledger
        if not self.options.measured_step or self.reached(best):
            return probe.measured(probes, target), "", None
        start = Point(current.values, score_of(current.evaluation), current.evaluation)
        goal = probe.goal_score(start.score, target) if math.isfinite(start.score) else None

        def unrecorded(batch: Sequence[dict[str, Any]]) -> list[Evaluation]:
            return ledger.evaluate_many(batch, record=False)

        search = Search(dimensions(ledger.project.params, current.values), start, probes, goal, unrecorded,
                        ledger.known, self.reached, runs=self.options.measured_runs)
        found = search.run()
        sensitivity = probe.measured(probes, target, estimate=False)
        if found.evaluation is not None and self.acceptance(found.evaluation, best, ledger.rule.noisy):
            return sensitivity, "", found
        if found is not start and found.evaluation is not None:
            self.optimizer.remember(Attempt(ledger.texts(found.values), found.evaluation.score,
                                            found.evaluation.message()))
        note = f"measured search: nothing better in {search.runs_made} new program runs" if probes else ""
        return sensitivity, note, None


def measured_note(changed: Mapping[str, Any], runs: int) -> str:
    assignments = ", ".join(f"{name} = {number_text(value)}" for name, value in changed.items())
    return f"measured step: {assignments} (measured in {runs} program runs), no LLM call"
