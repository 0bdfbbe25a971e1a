"""The optimization engine: run → judge → graph feedback → propose → evaluate, step after step.

Each step starts from a parent (:mod:`.selection`), gives the optimizer its feedback, asks the
proposers in turn (the measured search, the questions to the model, a merge: :mod:`.proposers`), keeps
the best by the one acceptance rule (:mod:`.acceptance`) and tells its callbacks (the run store, the
progress display: :mod:`.callbacks`). Before each step the stoppers (:mod:`.stoppers`) may end the run.
Every step is written to the run store as soon as it completes, so a killed run resumes from its last
completed step (and the LLM response cache answers again for free what was already asked)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from autotrace.evaluation import Evaluation
from autotrace.llm.client import LLM
from autotrace.optimizers import OPTIMIZERS
from autotrace.optimizers.base import Attempt, Sensitivity
from autotrace.optimizers.induce import induce, screened
from autotrace.project import Project
from autotrace.records import RunSubject
from autotrace.scoring import ScoreRule
from autotrace.search.stages import score_of
from autotrace.store import ResponseCache, RunStore, state_dir

from . import stoppers as stopping
from .acceptance import Acceptance, takes
from .callbacks import MergeDone, StepCallback, StepDone, StepReport, StoreWriter, progress_of
from .finish import RunResult, finish
from .ledger import Evaluator, Ledger, finite
from .measured import Measured
from .merging import Merging
from .options import Options
from .proposers import ROTATION, Asked, Asking, ProposerFactory, Step, WholeProgram, answers_note, repeat_problem
from .proposers import samplings as step_samplings
from .selection import choose_parent, feedbacks, validated
from .start import start
from .state import Held, RunState


class Engine:
    """One run of the optimization loop over ``project``'s parameters, its programs run by ``evaluator``.

    ``initial``: the original values' evaluation when the caller made it already; ``subject``: what
    the run optimizes (target, judge, entry, selectors), stored in the run's config; ``progress``:
    shown each step's line; ``program_tokens``: the tokens the program's own model calls spent so far in
    this invocation (for the budgets); ``acceptance``: what becomes the best; ``rotation``: the
    proposers asked in turn when a step's answers gave nothing new."""

    def __init__(self, options: Options, project: Project, evaluator: Evaluator, store: RunStore, *,
                 initial: Evaluation | None = None, subject: RunSubject | None = None,
                 progress: Callable[[StepReport], None] = lambda report: None,
                 program_tokens: Callable[[], int] = lambda: 0, acceptance: Acceptance = takes,
                 rotation: Sequence[ProposerFactory] = ROTATION, llm: LLM | None = None) -> None:
        self.options, self.project, self.store, self.initial = options, project, store, initial
        self.subject = subject or RunSubject()
        self.acceptance, self.progress, self.program_tokens = acceptance, progress, program_tokens
        rule = ScoreRule(failure=options.failure_score, repeats=options.repeats or 1,
                         noisy=(options.repeats or 1) > 1)
        self.ledger = Ledger(project, evaluator, store, rule)
        if initial is not None:
            self.ledger.count, self.ledger.unsaved_scores = 1, [finite(score_of(initial))]
        cache = ResponseCache(state_dir(project.root) / "autotrace.db") if options.cache else None
        self.llm = llm or LLM(options.llm, cache)
        self.optimizer = OPTIMIZERS[options.optimizer](project.params, self.llm, budget_tokens=options.budget_tokens,
                                                       memory=options.memory, code_format=options.code_format)
        self.write = StoreWriter(store, self.ledger)
        self.callbacks: list[StepCallback] = [self.write, progress_of(progress, options.steps)]
        self.measured = Measured(options, self.ledger, self.optimizer, acceptance, self.reached)
        prompts_only = options.induce is None
        induced = (lambda n, best: induce(self.llm, self.optimizer, options.seed, n, prompts_only=prompts_only,
                                          best=best)) if options.induce is not False else None
        screen = (lambda answers: screened(self.optimizer, answers, prompts_only)) if induced is not None else None
        whole = WholeProgram(self.optimizer, induced, screen)
        self.asking = Asking(self.optimizer, self.ledger, options.seed, options.resample, whole,
                             [make(self.optimizer) for make in rotation])
        self.merging = Merging(self.ledger, self.optimizer)
        self.stoppers = stopping.stoppers(options, self.done)
        self._program_before = 0
        #: The run's state once it started (for callers that look at it after :meth:`run`).
        self.state: RunState | None = None

    def run(self) -> RunResult:
        """Run the steps (a resumed run's remaining ones) and write the patch of the best values."""
        state = self.state = start(self)
        self._program_before = state.usage.program
        run_dir = state_dir(self.project.root) / "runs" / state.run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        self._report(state, state.first_step - 1, state.start_note)
        for step in range(state.first_step, self.options.steps + 1):
            if self._stops(state, step) or not self._step(state, step):
                break
        return finish(self, state, run_dir)

    def _stops(self, state: RunState, step: int) -> bool:
        """Whether a stopper ends the run before ``step`` (it says why in that step's progress line)."""
        state.usage.program = self._program_before + self.program_tokens()
        for stopper in self.stoppers:
            if (stop := stopper.check(state, step)) is not None:
                if stop.note:
                    state.stopped, state.stopped_by = stop.note, stop.kind
                    self._report(state, step, stop.note)
                return True
        return False

    def _report(self, state: RunState, step: int, note: str, seconds: float = 0.0) -> None:
        """A progress line that no stored step goes with (the start, a stop)."""
        self.progress(StepReport(step, self.options.steps, state.current.evaluation.describe(),
                                 state.best.evaluation.describe(), 0, 0, seconds, note))

    def _step(self, state: RunState, step: int) -> bool:
        """Run step ``step``; False when the run ends with it."""
        started = time.perf_counter()
        self._begin(state, step)
        sensitivity, probed = Sensitivity(), ""
        if self.options.probe:
            offer = self.measured.propose(Step(step, state.current, state.best, ()))
            if offer.best is not None:
                state.best = offer.best
            if offer.values is not None and offer.evaluation is not None:  # it beat the best: no LLM call
                changed = {k: v for k, v in offer.values.items() if v != state.current.values[k]}
                # Taken by its unrecorded run's score; recorded once now, for the stored step and the next prompt.
                evaluation = self.ledger.with_graphs(offer.values, offer.evaluation)
                state.take_best(Held(offer.values, evaluation))
                self.ledger.record(offer.values, evaluation, "measured", self.ledger.parents)
                self.remember(offer.values, evaluation)
                self._done_step(state, StepDone(step, offer.values, evaluation, evaluation,
                                                time.perf_counter() - started, offer.note,
                                                sensitivity=offer.sensitivity, candidate=changed))
                return True
            sensitivity, probed = offer.sensitivity, offer.note
        self.optimizer.measured(sensitivity)
        if self.done(state):  # a probe reached the target: no need to ask the model
            best = self._with_graphs(state, state.best)
            self._done_step(state, StepDone(step, best.values, best.evaluation, best.evaluation,
                                            time.perf_counter() - started, probed, sensitivity=sensitivity))
            return False
        asked = self.asking.ask(Step(step, state.current, state.best, self._samplings(step)))
        if not asked.answered:
            state.stopped_by = "repeated"
            state.stopped = (f"stopped before step {step}: its question was asked at an earlier step, and at "
                             "temperature 0 (or from the cache) the answer would be the same")
            self._report(state, step, state.stopped, time.perf_counter() - started)
            return False
        self._answered(state, step, asked, sensitivity, probed, started)
        return True

    def _begin(self, state: RunState, step: int) -> None:
        """Choose the step's parent and give the optimizer its values and feedback."""
        self.ledger.step = step
        if (parent := choose_parent(self.ledger, self.options.seed, step, state.current)) is not None:
            state.current = parent
        self._with_graphs(state, state.current)  # a probe kept as the best has none yet: its feedback shows them
        self.ledger.parents = self.ledger.id_of(state.current.values)
        self.optimizer.accept(state.current.values)
        self.optimizer.zero_feedback()
        for feedback in feedbacks(state.current.evaluation, self.options.seed, step):
            self.optimizer.backward(feedback)

    def _with_graphs(self, state: RunState, held: Held) -> Held:
        """``held`` with a recorded run's graphs (:meth:`Ledger.with_graphs`), in its place as the current
        values and the best."""
        evaluation = self.ledger.with_graphs(held.values, held.evaluation)
        if evaluation is held.evaluation:
            return held
        recorded = Held(held.values, evaluation)
        if state.current is held:
            state.current = recorded
        if state.best is held:
            state.best = recorded
        return recorded

    def _answered(self, state: RunState, step: int, asked: Asked, sensitivity: Sensitivity, probed: str,
                  started: float) -> None:
        """Keep the best of the step's new candidates, try a merge, and store the step."""
        noisy = self.ledger.rule.noisy
        notes = [answers_note(asked.proposals, asked.new, self.options.candidates), probed]
        proposal = asked.answered[0]
        if asked.repeat is not None and not asked.new:
            # The same program was run already: say so (the model cycling between two answers never
            # learns otherwise) and count it as an answer that changed nothing.
            notes.append(f"the values of step {asked.repeat[0]} again: not run again")
            self.optimizer.tell(repeat_problem(*asked.repeat, asked.tried))
        if asked.new:
            proposal, values, evaluation = max(asked.new, key=lambda n: n[2].rank)  # the first of equals
            state.current = Held(values, evaluation)
            if self.acceptance(evaluation, state.best.evaluation, noisy):
                state.best = state.current
        elif state.current.evaluation.rank < state.best.evaluation.rank:
            # The model keeps a candidate that did worse (it has seen that candidate's feedback once):
            # asked about the same values at temperature 0 it would keep them again, step after step.
            state.current = state.best
            notes.append("back to the best values")
        merged = self._merge(state, step, notes) if self.options.merge and not self.done(state) else None
        if len(asked.proposals) > 1:
            notes.append(f"front {len(self.ledger.pool.front())}")
        current = self._with_graphs(state, state.current)  # the best again may be a probe's, unrecorded
        self.remember(current.values, current.evaluation)
        self._done_step(state, StepDone(step, current.values, current.evaluation, state.best.evaluation,
                                        time.perf_counter() - started, "; ".join(filter(None, notes)), proposal,
                                        sensitivity, others=[p for p in asked.answered if p is not proposal],
                                        merged=merged, answers=len(asked.answered), new_answers=len(asked.new)))
        state.stall.after(bool(asked.new) or any(p.escaping for p in asked.answered), state.best.evaluation.rank,
                          [(p.about, p.way) for p in asked.answered if p.about])

    def _merge(self, state: RunState, step: int, notes: list[str]) -> MergeDone | None:
        """A merge of two front candidates, when there is one to try; the merged values become the best
        when the acceptance rule takes them."""
        offer = self.merging.propose(Step(step, state.current, state.best, ()))
        if offer is None:
            return None
        notes.append(offer.note)
        if offer.values is not None and offer.evaluation is not None and self.acceptance(
                offer.evaluation, state.best.evaluation, self.ledger.rule.noisy):
            state.take_best(Held(offer.values, offer.evaluation))
        return MergeDone(offer.note, offer.reply)

    def _done_step(self, state: RunState, done: StepDone) -> None:
        """Tell the callbacks about a completed step and count its tokens."""
        for callback in self.callbacks:
            callback(done)
        state.usage.optimizer += sum(done.tokens)

    def _samplings(self, step: int) -> tuple[Any, ...]:
        return step_samplings(self.llm.sampling, self.options.seed, step, self.options.candidates)

    def remember(self, values: dict[str, Any], evaluation: Evaluation) -> None:
        """Put evaluated values into the optimizer's memory of earlier attempts."""
        self.optimizer.remember(Attempt(self.ledger.texts(values), evaluation.score, evaluation.message()))

    def done(self, state: RunState) -> bool:
        """Whether the run has reached its target: the candidate the patch would be made of reaches it on
        the examples the search sees and, with a holdout, on the held-out ones too. A candidate that fits
        the visible examples (or tests) alone does not end the search: the next step may find one that
        also holds on the others."""
        best = state.best.evaluation
        if not best.holdout:
            return self.reached(best)
        chosen = validated(self.ledger, state.best).evaluation
        return self.reached(chosen) and self.reached(chosen.validation)

    def reached(self, evaluation: Evaluation) -> bool:
        return stopping.reached(self.options.target_score, evaluation)

