"""The optimization loop: run → judge → graph feedback → propose → evaluate, step after step.

Every step is written to the run store as soon as it completes, so a killed run resumes from its
last completed step (and the LLM response cache answers again for free what was already asked).
"""

from __future__ import annotations

import math
import random
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from autotrace.config import DEFAULTS
from autotrace.evaluation import Evaluation, ExampleResult, Feedback
from autotrace.llm.client import LLM, LLMConfig, LLMReply, Sampling, derived_seed
from autotrace.merge import MergePlan, merge_messages, parse_merged, plan_merge
from autotrace.optimizers import OPTIMIZERS
from autotrace.optimizers.base import Attempt, Proposal, Sensitivity, number_text, prompt_tokens
from autotrace.optimizers.induce import induce
from autotrace.optimizers.reflect import reflect, reflect_targets
from autotrace.params import ParamSpec, text_to_value, value_to_text, written_whole
from autotrace.patches import Patch, apply_saved, make_patch, save_patch
from autotrace.pool import Candidate, Origin, Pool, example_labels
from autotrace.project import Project
from autotrace.proposal_key import ProposalKey, proposal_key
from autotrace.records import SCORING_OPTIONS, MergeNote, OtherAnswer, Scoring, StepRecord
from autotrace.report import write_run_report
from autotrace.scoring import AUTO_REPEATS, ScoreRule, better, rises
from autotrace.search import probe
from autotrace.search.space import dimensions
from autotrace.search.stages import Point, Search, score_of
from autotrace.store import ResponseCache, RunStore
from autotrace.text import truncate

from .evaluation import evaluation_of, hold_out, make_job, run_evaluation
from .executor import Executor
from .judge import judge_failure_score
from .sandbox import Limits


@dataclass
class Settings:
    """One run's options; each default is :data:`autotrace.config.DEFAULTS`' (the command line's)."""

    target: Path | None  # None when ``evaluator`` runs something else (the tests)
    judge: Path | None
    entry: str = DEFAULTS["entry"]
    selectors: Sequence[str] = ()
    steps: int = DEFAULTS["steps"]
    target_score: float | None = None
    optimizer: str = DEFAULTS["optimizer"]
    llm: LLMConfig = field(default_factory=lambda: LLMConfig(model="local", base_url=None, api_key=None))
    limits: Limits = field(default_factory=Limits)
    isolated: bool = True
    #: How evaluations run: "fork" (a warm fork server; spawns where forking is unsafe), "spawn" or "ray".
    executor: str = DEFAULTS["executor"]
    #: Evaluations at once (None: one per core). Results are taken in the order asked for, so the run is
    #: the same whatever the number. The local model and the evaluations do not compete for the cores:
    #: the loop evaluates only while no LLM answer is being generated.
    jobs: int | None = None
    #: The Ray cluster for ``executor="ray"`` (None: start a local one, or RAY_ADDRESS).
    ray_address: str | None = None
    apply: bool = False
    resume: str | None = None
    cache: bool = True
    budget_tokens: int | None = None
    memory: int = 5
    #: Measure each numeric parameter's effect on the score (one extra evaluation per numeric
    #: parameter and step, see :mod:`.probe`) and show it to the optimizer.
    probe: bool = DEFAULTS["probe"]
    #: After the probes, search the numeric parameters by program runs alone (:mod:`.search`) and, if
    #: that beats the best values, take it as the step's result without an LLM call. Told to copy the
    #: probes' estimate, the 1.5B model rarely did, though each copy improved the score
    #: (``python -m benchmarks.estimate_use``).
    measured_step: bool = DEFAULTS["measured_step"]
    #: Program runs one measured search may make (besides the probes).
    measured_runs: int = DEFAULTS["measured_runs"]
    #: Stop when this many steps in a row gave nothing to evaluate (no change, or only rejected or
    #: unusable values, the answers asked again by ``resample`` included) while the best score stood
    #: still (0: never). The prompt after such an answer says what was wrong with it. Replayed over 232
    #: stored benchmark runs (one answer per step, before ``resample``), the calls after two such answers
    #: were 10% of the tokens and solved nothing; after one, 4 solves were lost (``benchmarks.unchanged_stop``).
    max_unchanged: int = DEFAULTS["max_unchanged"]
    #: How a (code) variable's new value is asked for: "fenced" (a ```python block) or "json" (a JSON string).
    code_format: str = DEFAULTS["code_format"]
    #: Answers asked for per step (``--candidates``): the first at the configured temperature, the others
    #: sampled at :data:`SAMPLE_TEMPERATURE` with seeds derived from the run's seed, the step and the
    #: index, concurrently; the step's new candidates are evaluated as one batch.
    candidates: int = DEFAULTS["candidates"]
    #: When a step's answers give no new candidate (no change, only rejected values, or a candidate
    #: evaluated before), ask again up to this many times, one sampled answer at a time
    #: (:data:`SAMPLE_TEMPERATURE`, a seed derived from the run's seed and the step), each told what
    #: was wrong with the one before. At temperature 0 the 1.5B model mostly answers "no change" again.
    resample: int = DEFAULTS["resample"]
    #: Merge two front candidates that are right on different examples (:mod:`autotrace.merge`).
    merge: bool = DEFAULTS["merge"]
    #: Also propose texts by instruction induction and the output form (:mod:`autotrace.optimizers.induce`).
    induce: bool = DEFAULTS["induce"]
    #: The fraction of the judge's examples held out for validation (``--holdout``), drawn with the
    #: run's seed: candidates are selected on the others, the patch is the best on these.
    holdout: float = DEFAULTS["holdout"]
    #: What the scores mean beyond the judge (the tests run, the held-out part), stored with the run and
    #: required to match on resume (:class:`autotrace.records.Scoring`); None: a judge's run with
    #: ``holdout``. The command line sets it (with ``holdout`` its own).
    scoring: Scoring | None = None
    #: How a set of values is evaluated; None runs ``target``'s entry under ``judge`` (the pytest
    #: integration passes one that runs the selected tests instead).
    evaluator: Callable[[Project, dict[str, Any]], Evaluation] | None = None
    #: Draws per example (``--repeats``): each example run this many times with other seeds, and the
    #: paired test decides what is better (:mod:`autotrace.scoring`). None: once, unless the original
    #: values evaluated twice disagree, then :data:`autotrace.scoring.AUTO_REPEATS`.
    repeats: int | None = None
    #: What a raising example scores (``--failure-score``; the judge's ``failure_score``); None: the
    #: lowest score the judge gave so far, or 0 while every score is in [0, 1].
    failure_score: float | None = None


#: A step without measurements (the initial values, a resumed start): nothing to show the optimizer.
_NO_SENSITIVITY = Sensitivity()
#: A proposal, the values it gave (over the values the step started from) and their evaluation.
_Evaluated = tuple[Proposal, dict[str, Any], Evaluation]
#: The temperature of a step's sampled answers beyond the first (``Settings.candidates`` > 1).
SAMPLE_TEMPERATURE = 0.8
#: At most this many examples' feedback in one prompt: the parent's worst, the rest left out.
MINIBATCH = 8


@dataclass
class StepReport:
    """What the progress display shows after each step."""

    step: int
    steps: int
    score: str
    best: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    note: str = ""


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    best_score: str
    best_values: dict[str, Any]
    patch: Patch
    applied: list[str]
    reached_target: bool
    evaluations: int = 0  # programs run in this invocation: initial values, candidates and probes
    stopped: str = ""  # why the run ended before its last step without reaching the target
    report: Path | None = None  # the run's HTML page, beside patch.diff
    no_patch: str = ""  # why no patch was written ("" when one was)


def draw_seed(run_seed: int, draw: int) -> int:
    """The seed of a run's ``draw``-th draw: the same for every candidate (common random numbers)."""
    return derived_seed(run_seed, "draw", draw)


def state_dir(root: Path) -> Path:
    return root / ".autotrace"


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def load_project(settings: Settings) -> Project:
    project = Project.load(settings.target, settings.selectors)
    if not project.params:
        raise ValueError(f"{settings.target}: no parameters: mark one with '# autotrace: param' "
                         "or pass --param FILE::NAME")
    return project


def prepare(settings: Settings) -> tuple[Project, Evaluation]:
    """Find the parameters and evaluate their initial values, writing nothing: bad input (a marker,
    a selector, the judge, the entry) raises here, before a model is started or a run is stored."""
    project = load_project(settings)
    if settings.judge is not None:
        judge_failure_score(settings.judge)  # a failure_score that is no number: one line, before anything runs
    return project, _evaluate(settings, project, {p.name: p.initial for p in project.params})


def optimize(settings: Settings, progress: Callable[[StepReport], None] = lambda r: None,
             project: Project | None = None, initial: Evaluation | None = None) -> RunResult:
    """Run the loop; ``project`` and ``initial`` (the initial values' evaluation) may come from :func:`prepare`."""
    project = project or load_project(settings)
    store = RunStore(state_dir(project.root) / "autotrace.db")
    try:
        with open_executor(settings, project.root) as executor:
            return _Loop(settings, project, store, executor, initial).run(progress)
    finally:
        store.close()


def open_executor(settings: Settings, root: Path) -> Executor:
    """The run's executor (close it at the end of the run: it stops the fork server)."""
    return Executor(settings.limits, kind=settings.executor, jobs=settings.jobs, isolated=settings.isolated,
                    ray_address=settings.ray_address, root=root)


def _target(settings: Settings) -> Path:
    """The program a run without an evaluator runs (the CLI asks for one unless ``--tests`` gives an evaluator)."""
    if settings.target is None:
        raise ValueError("a run without an evaluator needs a target to run")
    return settings.target


def _evaluate(settings: Settings, project: Project, values: dict[str, Any]) -> Evaluation:
    if settings.evaluator is not None:
        return settings.evaluator(project, values)
    job = make_job(project, _target(settings), settings.entry, settings.judge, values,
                   seed=draw_seed(settings.llm.seed or 0, 0))
    evaluation = run_evaluation(job, settings.limits, isolated=settings.isolated)
    return hold_out(evaluation, settings.holdout, settings.llm.seed or 0)


class _Loop:
    def __init__(self, settings: Settings, project: Project, store: RunStore, executor: Executor,
                 initial: Evaluation | None = None) -> None:
        self.settings, self.project, self.store, self.initial = settings, project, store, initial
        self.executor = executor
        self.evaluations = 1 if initial is not None else 0
        #: Every set of values evaluated in this run, with its per-example scores (:mod:`autotrace.pool`),
        #: so that neither the measured search nor a model's repeated answer runs one again, and the
        #: next parent is drawn from its front.
        self.pool = Pool()
        #: Each pooled candidate's evaluation, by candidate id (its feedback for a later prompt).
        self.evaluated: dict[int, Evaluation] = {}
        self.run_id: str | None = None
        self.seed = settings.llm.seed if settings.llm.seed is not None else 0
        self._step = 0
        self._parents: tuple[int, ...] = ()  # the parent of what this step evaluates
        self._merged: set[tuple[int, int]] = set()  # pairs of candidate ids whose merge was tried
        #: The scores of the program runs since the last stored step (stored with the next one: the report plots them).
        self.unsaved_scores: list[float | None] = [] if initial is None else [_finite(score_of(initial))]
        #: The run's scoring (failure score, draws, noise): every evaluation of the run is scored by it.
        self.rule = ScoreRule(failure=settings.failure_score if settings.failure_score is not None
                              else judge_failure_score(settings.judge) if settings.judge else None,
                              repeats=settings.repeats or 1, noisy=(settings.repeats or 1) > 1)
        self._rule_version = self.rule.version
        #: What step 0's progress line says: the initial values, and that the program is noisy when it is.
        self._start_note = "initial values"
        cache = ResponseCache(state_dir(project.root) / "autotrace.db") if settings.cache else None
        self.llm = LLM(settings.llm, cache)
        self.optimizer = OPTIMIZERS[settings.optimizer](project.params, self.llm, budget_tokens=settings.budget_tokens,
                                                        memory=settings.memory, code_format=settings.code_format)

    def evaluate(self, values: dict[str, Any], origin: Origin = "probe",
                 parents: tuple[int, ...] | None = None) -> Evaluation:
        """Run the program with ``values`` and keep the result in the pool (and the run store)."""
        return self.evaluate_many([values], origin, parents)[0]

    def evaluate_many(self, batch: Sequence[dict[str, Any]], origin: Origin = "probe",
                      parents: tuple[int, ...] | None = None) -> list[Evaluation]:
        """Evaluate each set of values of ``batch`` (up to ``jobs`` at once: a measured search's points, a
        step's candidates), the results, counted and pooled, in the batch's order whatever ``jobs`` is."""
        evaluations = self._run_many(batch)
        for one, evaluation in zip(batch, evaluations, strict=False):
            self._count(one, evaluation, origin, parents)
        return evaluations

    def _run_many(self, batch: Sequence[dict[str, Any]], draws: Sequence[int] | None = None) -> list[Evaluation]:
        """Evaluations neither counted nor pooled (see :meth:`_count`), each of the run's draws (or of
        ``draws``: their seeds' indices) and scored by the run's rule."""
        s = self.settings
        draws = range(self.rule.repeats) if draws is None else draws
        runs = [(one, draw) for one in batch for draw in draws]
        if s.evaluator is not None:
            evaluator = s.evaluator
            results = self.executor.map(lambda run: evaluator(self.project, run[0]), runs)
        else:
            target = _target(s)
            jobs = [make_job(self.project, target, s.entry, s.judge, one, seed=draw_seed(self.seed, draw))
                    for one, draw in runs]
            results = [hold_out(evaluation_of(outcome), s.holdout, self.seed)
                       for outcome in self.executor.run_many(jobs)]
        n = len(draws)
        evaluations = [Evaluation.combine(results[i * n:(i + 1) * n]).under(self.rule) for i in range(len(batch))]
        self._rescore()
        return evaluations

    def _rescore(self) -> None:
        """When the failure score moved (a lower score was seen), the pool's per-example scores, computed
        with the old one, are computed again (and stored again)."""
        if self.rule.version == self._rule_version:
            return
        self._rule_version = self.rule.version
        self.pool.rescore({c.id: self.evaluated[c.id] for c in self.pool.candidates})
        if self.run_id is not None:
            for candidate in self.pool.candidates:
                self._store_candidate(candidate)

    def _better(self, candidate: Evaluation, best: Evaluation) -> bool:
        """The run's acceptance rule (:func:`autotrace.scoring.better`, with the paired test when noisy)."""
        return better(candidate, best, self.rule.noisy)

    def _count(self, values: dict[str, Any], evaluation: Evaluation, origin: Origin = "probe",
               parents: tuple[int, ...] | None = None) -> None:
        """An evaluation the run uses: counted, and pooled (so neither the search nor a model runs it again)."""
        self.evaluations += 1
        self.unsaved_scores.append(_finite(score_of(evaluation)))
        self._record(values, evaluation, origin, self._parents if parents is None else parents)

    def _record(self, values: dict[str, Any], evaluation: Evaluation, origin: Origin,
                parents: tuple[int, ...]) -> Candidate:
        """Pool ``values`` (unless pooled already) and write the candidate to the run store at once."""
        key = self._key(values)
        if (known := self.pool.get(key)) is not None:
            if known.origin == "probe" and origin != "probe":  # a probe kept as a step's result
                self._store_candidate(self.pool.promote(key, origin))
            return self.pool.get(key) or known
        candidate = Candidate(self.pool.next_id, self._texts(values), parents, self._step,
                              evaluation.example_scores(), origin, evaluation.rank)
        self.pool.add(key, candidate)
        self.evaluated[candidate.id] = evaluation
        self._store_candidate(candidate)
        return candidate

    def _store_candidate(self, candidate: Candidate) -> None:
        assert self.run_id is not None, "a candidate is evaluated before its run is stored"
        self.store.add_candidate(self.run_id, candidate.id, {"candidate": candidate.to_json(),
                                                            **self.evaluated[candidate.id].to_record()})

    def _known(self, values: dict[str, Any]) -> float | None:
        candidate = self.pool.get(self._key(values))
        return None if candidate is None else score_of(self.evaluated[candidate.id])

    def _key(self, values: dict[str, Any]) -> ProposalKey:
        return proposal_key(self.project.params, values)

    def _values(self, texts: Mapping[str, str]) -> dict[str, Any]:
        """Values from their texts (a pooled candidate's), the initial ones where a text is missing."""
        return {**{p.name: p.initial for p in self.project.params}, **self._parse(dict(texts))}

    def run(self, progress: Callable[[StepReport], None]) -> RunResult:
        s = self.settings
        initial = {p.name: p.initial for p in self.project.params}
        run_id, first_step, current, best, best_eval, current_eval = self._start(initial)
        run_dir = state_dir(self.project.root) / "runs" / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        progress(StepReport(first_step - 1, s.steps, current_eval.describe(), best_eval.describe(), 0, 0, 0.0,
                            self._start_note if first_step == 1 else "resumed"))
        stopped = ""
        stall = _Stall(best_eval.rank)
        for step in range(first_step, s.steps + 1):
            if self._done(best, best_eval):
                break
            self._step = step
            started = time.perf_counter()
            chosen = self._choose_parent(step, current)
            if chosen is not None:
                current, current_eval = chosen
            self._parents = self._id(current)
            self.optimizer.accept(current)
            self.optimizer.zero_feedback()
            for feedback in self._feedbacks(current_eval, step):
                self.optimizer.backward(feedback)
            sensitivity, probed = Sensitivity(), ""
            evaluations_before = self.evaluations
            if s.probe:
                probes, top = self._probe(current, current_eval, best_eval)
                if top is not None:
                    best, best_eval = top.values, top.evaluation
                    probed = f"probe {top.name} = {top.new!r} is the best so far"
                sensitivity, tried, found = self._measured_step(probes, current, current_eval, best_eval)
                if found is not None and found.evaluation is not None:  # it beat the best: no LLM call this step
                    changed = {k: v for k, v in found.values.items() if v != current[k]}
                    current, best = found.values, found.values
                    current_eval = best_eval = found.evaluation
                    self._record(current, current_eval, "measured", self._parents)
                    self._remember(current, current_eval)
                    self._finish_step(progress, run_id, step, started, None, current, current_eval, best_eval,
                                      _measured_note(changed, self.evaluations - evaluations_before), sensitivity,
                                      candidate=changed)
                    continue
                probed = "; ".join(filter(None, [tried, probed]))
            self.optimizer.sensitivity = sensitivity
            if self._done(best, best_eval):  # a probe reached the target: no need to ask the model
                self._finish_step(progress, run_id, step, started, None, best, best_eval, best_eval, probed,
                                  sensitivity)
                break
            proposals, answered, new, repeat = self._ask(step, current)
            if not answered:
                stopped = (f"stopped before step {step}: its question was asked at an earlier step, and at "
                           "temperature 0 (or from the cache) the answer would be the same")
                progress(StepReport(step, s.steps, current_eval.describe(), best_eval.describe(), 0, 0,
                                    time.perf_counter() - started, stopped))
                break
            notes = [_note(answered[0]) if len(proposals) == 1 else _batch_note(proposals, new, s.candidates), probed]
            proposal = answered[0]
            if repeat is not None and not new:
                # The same program was run already: say so (the model cycling between two answers never
                # learns otherwise) and count it as an answer that changed nothing.
                notes.append(f"the values of step {repeat[0]} again: not run again")
                self.optimizer.last_problems[""] = _repeat_problem(*repeat)
            if new:
                proposal, current, current_eval = max(new, key=lambda n: n[2].rank)  # the first of equals
                if self._better(current_eval, best_eval):
                    best, best_eval = current, current_eval
            elif current_eval.rank < best_eval.rank:
                # The model keeps a candidate that did worse (it has seen that candidate's feedback once):
                # asked about the same values at temperature 0 it would keep them again, step after step.
                current, current_eval = best, best_eval
                notes.append("back to the best values")
            merged = None
            if s.merge and not self._done(best, best_eval):
                merged = self._merge()
                if merged is not None:
                    notes.append(merged.note)
                    if merged.evaluation is not None and self._better(merged.evaluation, best_eval):
                        current = best = merged.values
                        current_eval = best_eval = merged.evaluation
            if len(proposals) > 1:
                notes.append(f"front {len(self.pool.front())}")
            self._remember(current, current_eval)
            self._finish_step(progress, run_id, step, started, proposal, current, current_eval, best_eval,
                              "; ".join(filter(None, notes)), sensitivity,
                              others=[p for p in answered if p is not proposal], merged=merged)
            unchanged = stall.after(bool(new) or any(p.escaping for p in answered), best_eval.rank)
            if s.max_unchanged and unchanged >= s.max_unchanged and step < s.steps:
                stopped = (f"stopped before step {step + 1}: the last {unchanged} answers changed nothing "
                           "and the best score stood still")
                progress(StepReport(step + 1, s.steps, current_eval.describe(), best_eval.describe(), 0, 0, 0.0,
                                    stopped))
                break
        reached = self._done(best, best_eval)
        best, best_eval = self._validated(best, best_eval)
        best, best_eval, unpatched = self._confirmed(initial, best, best_eval)
        changes = [(p, best[p.name]) for p in self.project.params if best[p.name] != p.initial]
        if not changes and not unpatched:
            unpatched = _no_gain(best_eval)
        patch = make_patch(self.project.root, changes)
        save_patch(run_dir, patch)
        applied = apply_saved(self.project.root, run_dir) if s.apply and patch.files else []
        self.store.finish_run(run_id, "done", {"score": best_eval.score, "describe": best_eval.describe(),
                                               "validation": best_eval.validation.score if best_eval.holdout else None,
                                               "values": self._texts(best), "reached_target": reached,
                                               "evaluations": self.evaluations, "stopped": stopped,
                                               "no_patch": unpatched})
        report = write_run_report(self.store, run_id, run_dir)
        return RunResult(run_id, run_dir, best_eval.describe(), best, patch, applied, reached, self.evaluations,
                         stopped, report, unpatched)

    def _confirmed(self, initial: dict[str, Any], best: dict[str, Any], best_eval: Evaluation
                   ) -> tuple[dict[str, Any], Evaluation, str]:
        """The values the patch is made of, their evaluation, and why there is no patch ("" when there
        is one, or nothing changed). A noisy run's best was chosen among many candidates on the same
        draws, so its lead can be luck: it becomes the patch only when it still beats the original
        values on as many fresh draws (seeds no evaluation used), by the same paired test."""
        original = self._original()
        if best == initial or original is None:
            return best, best_eval, ""
        if not self.rule.noisy:
            if rises(best_eval, original):
                return best, best_eval, ""
            return initial, original, _no_gain(original)
        repeats = self.rule.repeats
        fresh_best, fresh_initial = self._run_many([best, initial], draws=range(repeats, 2 * repeats))
        self.evaluations += 2
        if self._better(fresh_best, fresh_initial) and rises(fresh_best, fresh_initial):
            return best, best_eval, ""
        return initial, original, (f"the best candidate ({best_eval.describe()}) did not beat the original values "
                                   f"on {repeats} fresh draws ({fresh_best.describe()} against "
                                   f"{fresh_initial.describe()}): the difference is within the noise")

    def _validated(self, best: dict[str, Any], best_eval: Evaluation) -> tuple[dict[str, Any], Evaluation]:
        """The values the patch is made of: with validation examples, the candidate best on them (then on
        the others), else ``best``: a candidate selected on the train examples can fit them alone."""
        if not best_eval.holdout:
            return best, best_eval
        members = self.pool.members()
        chosen = max(members, key=lambda c: (self.evaluated[c.id].validation.rank, c.rank))
        evaluation = self.evaluated[chosen.id]
        if (evaluation.validation.rank, evaluation.rank) <= (best_eval.validation.rank, best_eval.rank):
            return best, best_eval
        return self._values(chosen.values), evaluation

    def _choose_parent(self, step: int, current: dict[str, Any]) -> tuple[dict[str, Any], Evaluation] | None:
        """The values this step's prompt is about, or None for ``current``.

        Right after a candidate made from a front member was evaluated, ``current`` (the model sees once
        what its change did, even a worse one). Otherwise a front member: drawn with the run's seed when
        the front holds a trade-off (candidates best on different examples,
        :meth:`autotrace.pool.Pool.choose_parent`), else the best one. So a worse candidate's own worse
        child does not become the next parent: a run does not wander off from its best."""
        fresh = self.pool.get(self._key(current))
        front = self.pool.front()
        if not front:  # nothing ran to a score yet: nothing to go back to
            return None
        on_front = {c.id for c in front}
        if fresh is not None and fresh.step == step - 1 and fresh.origin != "initial" and (
                fresh.id in on_front or all(parent in on_front for parent in fresh.parents)):
            return None
        if len({tuple(sorted(c.scores.items())) for c in front}) < 2:  # no trade-off, only equal candidates
            parent = max(front, key=lambda c: c.rank)
            if fresh is None or fresh.id in on_front or fresh.rank >= parent.rank:  # (a probe is on no front)
                return None
        else:
            parent = self.pool.choose_parent(self.seed, step)
        return self._values(parent.values), self.evaluated[parent.id]

    def _id(self, values: dict[str, Any]) -> tuple[int, ...]:
        candidate = self.pool.get(self._key(values))
        return () if candidate is None else (candidate.id,)

    def _feedbacks(self, evaluation: Evaluation, step: int) -> list[Feedback]:
        """The feedback the prompt shows: every example's, or with more than :data:`MINIBATCH` examples
        the worst ones (failed first, ties drawn with the run's seed), in their own order."""
        feedbacks = evaluation.feedbacks()
        if len(feedbacks) <= MINIBATCH or len(feedbacks) != len(evaluation.examples):
            return feedbacks
        rng = random.Random(f"{self.seed}:{step}:minibatch")
        worst = sorted(range(len(feedbacks)), key=lambda i: (_example_score(evaluation.examples[i]), rng.random()))
        return [feedbacks[i] for i in sorted(worst[:MINIBATCH])]

    def _samplings(self, step: int) -> list[Sampling]:
        """The temperature and seed of each answer this step asks for (``Settings.candidates``)."""
        first = self.llm.sampling
        temperature = max(first.temperature, SAMPLE_TEMPERATURE)
        return [first, *(Sampling(temperature, derived_seed(self.seed, step, i))
                         for i in range(1, self.settings.candidates))]

    def _ask(self, step: int, current: dict[str, Any]) -> tuple[
            list[Proposal], list[Proposal], list[_Evaluated], tuple[int, Evaluation] | None]:
        """This step's answers (``Settings.candidates`` at once), evaluated; then, while none of them gave
        a new candidate, up to ``Settings.resample`` more, one at a time, sampled (:meth:`_ask_again`)
        and asked with what was wrong with the last one in #Problems. Returns every proposal, those
        actually answered (not repeats of a question asked before), the new candidates with their
        evaluations, and an earlier candidate an answer repeated (see :meth:`_evaluate_proposals`)."""
        proposals = self.optimizer.step_many(self._samplings(step))
        if self.settings.induce:  # prompts: texts induced from the outputs wanted (autotrace/optimizers/induce.py)
            proposals += induce(self.llm, self.optimizer, self.seed, step)
        answered = [p for p in proposals if not p.repeated]
        new, repeat = self._evaluate_proposals(answered, current, step)
        for again in range(1, self.settings.resample + 1):
            if new:
                break
            if repeat is not None:
                self.optimizer.last_problems[""] = _repeat_problem(*repeat)
            more = self._ask_again(step, again)
            fresh = [p for p in more if not p.repeated]
            proposals += more
            answered += fresh
            new, repeat_now = self._evaluate_proposals(fresh, current, step)
            repeat = repeat_now or repeat
        return proposals, answered, new, repeat

    def _ask_again(self, step: int, again: int) -> list[Proposal]:
        """A step's ``again``-th extra answer. Every other one (the first, third, ...) is the reflective
        question about one function the run called or text it used (:mod:`autotrace.optimizers.reflect`),
        the one the feedback implicates most, when there is one; the others ask the whole problem again, sampled."""
        sampling = self._resampling(step, again)
        targets = reflect_targets(self.optimizer.params, self.optimizer.values, self.optimizer.feedback)
        if again % 2 == 0 or not targets:
            return self.optimizer.step_many([sampling])
        spec = self.optimizer.implicated_target(targets)  # the most implicated not tried without gain (#33)
        proposal = reflect(self.llm, spec, self.optimizer.values[spec.name], self.optimizer.feedback,
                           self.optimizer.budget_tokens, sampling, self.optimizer.tried(spec.name))
        self.optimizer.last_problems.update(proposal.rejected)  # the whole prompt's next answer sees them
        return [proposal]

    def _resampling(self, step: int, again: int) -> Sampling:
        """The sampling of a step's ``again``-th extra answer: at temperature 0 the same question gets the
        same answer, so it is sampled, with a seed of its own derived from the run's seed."""
        return Sampling(max(self.llm.sampling.temperature, SAMPLE_TEMPERATURE),
                        derived_seed(self.seed, step, "again", again))

    def _evaluate_proposals(self, answered: Sequence[Proposal], current: dict[str, Any], step: int
                            ) -> tuple[list[_Evaluated], tuple[int, Evaluation] | None]:
        """Evaluate the step's new candidates as one batch: each proposal's values over ``current``, once
        each, none evaluated before in this run. Returns them with their evaluations, and (step,
        evaluation) of an earlier candidate that an answer repeated, if any. A candidate this step
        evaluated before the run was killed counts as new (it is not run again)."""
        fresh: dict[ProposalKey, tuple[Proposal, dict[str, Any]]] = {}
        reused: list[tuple[Proposal, dict[str, Any], Evaluation]] = []
        repeat: tuple[int, Evaluation] | None = None
        for proposal in answered:
            if not proposal.values:
                continue
            values = {**current, **proposal.values}
            key = self._key(values)
            known = self.pool.get(key)
            if key in fresh or any(v == values for _, v, _ in reused):
                continue
            if known is None:
                fresh[key] = (proposal, values)
            elif known.step == step and known.origin == "proposal":
                reused.append((proposal, values, self.evaluated[known.id]))
            elif repeat is None:
                repeat = (known.step, self.evaluated[known.id])
        batch = list(fresh.values())
        evaluations = self.evaluate_many([values for _, values in batch], "proposal", self._parents)
        return [(p, v, e) for (p, v), e in zip(batch, evaluations, strict=False)] + reused, repeat

    def _merge(self) -> _Merged | None:
        """Merge two front candidates right on different examples (:mod:`autotrace.merge`), once per pair:
        by combining their changed parameters with no LLM call, or by asking the model to merge two
        versions of one code or text parameter. The merged values are evaluated (unless known)."""
        mergeable = {p.name for p in self.project.params if written_whole(p, p.initial)}
        plan = plan_merge(self.pool, mergeable, self._merged)
        if plan is None:
            return None
        self._merged.add(plan.parents)
        which = f"candidates {plan.a.id} and {plan.b.id}"
        reply = None
        values: dict[str, Any] | None
        if plan.values is not None:
            values, how = self._values(plan.values), "no LLM call"
        else:
            values, reply, how = self._ask_merge(plan)
            if values is None:
                return _Merged(None, None, f"merge of {which}: {how}", reply)
        if (known := self.pool.get(self._key(values))) is not None:
            return _Merged(None, None, f"merge of {which}: candidate {known.id} again, not run again", reply)
        evaluation = self.evaluate(values, "merge", plan.parents)
        self._remember(values, evaluation)
        return _Merged(values, evaluation, f"merged {which} ({how}): {evaluation.describe()}", reply)

    def _ask_merge(self, plan: MergePlan) -> tuple[dict[str, Any] | None, LLMReply | None, str]:
        """Ask the model for one version of ``plan.conflict`` that keeps what each candidate gets right."""
        if plan.conflict is None:
            raise ValueError(f"the merge of candidates {plan.a.id} and {plan.b.id} has no parameter to ask about")
        spec = self.project.param(plan.conflict)
        a, b = self._values(plan.a.values), self._values(plan.b.values)
        right = {plan.a.id: self._right(plan.a, plan.b), plan.b.id: self._right(plan.b, plan.a)}
        messages = merge_messages(spec, plan, (str(a[spec.name]), str(b[spec.name])), right)
        if prompt_tokens(messages) > self.optimizer.budget_tokens:
            return None, None, "the two versions do not fit the prompt budget"
        reply = self.llm.complete_text(messages)
        merged = None if reply.error else parse_merged(reply.text, spec, a[spec.name])
        if merged is None:
            why = f" ({reply.error})" if reply.error else ""
            return None, reply, f"no usable merged {spec.name} in the answer{why}"
        return {**a, spec.name: merged}, reply, "merged by the model"

    def _right(self, candidate: Candidate, other: Candidate) -> list[str]:
        """What ``candidate`` gets right and ``other`` does not: those examples' feedback, a few."""
        evaluation = self.evaluated[candidate.id]
        lines = []
        for label, example in zip(example_labels(evaluation.examples), evaluation.examples, strict=False):
            if candidate.score_on(label) > other.score_on(label):
                lines.append(truncate(" ".join(example.message.split()) or label, 300))
        return lines[:MINIBATCH]

    def _probe(self, values: dict[str, Any], evaluation: Evaluation,
               best: Evaluation) -> tuple[list[probe.Probe], probe.Probe | None]:
        """The probes of ``values``, and the one that beat ``best`` (the best one), if any."""
        # Probed ``jobs`` at a time; a probe evaluated after the one that reached the target is dropped
        # uncounted, so the run is the same whatever the number of jobs.
        probes = probe.probe(self.project.params, values, evaluation, self.evaluate, self._reached,
                             evaluate_many=self._run_many, batch=self.executor.jobs)
        results = [(p, p.evaluation) for p in probes if p.evaluation is not None]  # all: probe() evaluates each
        for p, result in results:
            self._count(p.values, result)
        gains = [(p, result) for p, result in results if self._better(result, best)]
        top = max(gains, key=lambda gain: gain[1].rank, default=None)
        return probes, top[0] if top is not None else None

    def _measured_step(self, probes: list[probe.Probe], current: dict[str, Any], current_eval: Evaluation,
                       best: Evaluation) -> tuple[Sensitivity, str, Point | None]:
        """The #Sensitivity to show, a note on the search, and the point the measured search found when
        it beats ``best`` (see :mod:`.search`).

        When the search finds nothing better, the model is asked without an estimate to copy (the
        estimate was among the values tried). What it found that beat the current values but not the
        best ones (the current values can be a worse candidate of the model's) becomes an earlier attempt."""
        target = self.settings.target_score
        if not self.settings.measured_step or self._reached(best):
            return probe.measured(probes, target), "", None
        start = Point(current, score_of(current_eval), current_eval)
        goal = probe.goal_score(start.score, target) if math.isfinite(start.score) else None
        search = Search(dimensions(self.project.params, current), start, probes, goal, self.evaluate_many,
                        self._known, self._reached, runs=self.settings.measured_runs)
        found = search.run()
        sensitivity = probe.measured(probes, target, estimate=False)
        if found.evaluation is not None and self._better(found.evaluation, best):
            return sensitivity, "", found
        if found is not start and found.evaluation is not None:
            self._remember(found.values, found.evaluation)
        note = f"measured search: nothing better in {search.runs_made} new program runs" if probes else ""
        return sensitivity, note, None

    def _done(self, best: dict[str, Any], best_eval: Evaluation) -> bool:
        """Whether the run has reached its target: the candidate the patch would be made of reaches it on
        the examples the search sees and, with a holdout, on the held-out ones too. A candidate that fits
        the visible examples (or tests) alone does not end the search: the next step may find one that
        also holds on the others."""
        if not best_eval.holdout:
            return self._reached(best_eval)
        _, chosen = self._validated(best, best_eval)
        return self._reached(chosen) and self._reached(chosen.validation)

    def _reached(self, evaluation: Evaluation) -> bool:
        target, score = self.settings.target_score, evaluation.complete_score
        return target is not None and score is not None and score >= target

    def _start(self, initial: dict[str, Any]):
        """A new run (evaluating the initial values as step 0) or the state a resumed run had."""
        s = self.settings
        if s.resume:
            run = self.store.get_run(s.resume)
            if run is None:
                raise ValueError(f"no run {s.resume!r} to resume (see 'autotrace runs')")
            if run.scoring is not None:  # None: stored before the scoring was; the settings as given
                stored = run.scoring.resumed(self._scoring(), SCORING_OPTIONS, s.resume)
                self.rule.repeats, self.rule.noisy = stored.repeats, stored.noisy
                if stored.failure_score is not None:
                    self.rule.failure = stored.failure_score
            self.run_id = s.resume
            self._load_pool(s.resume)
            steps = self.store.steps(s.resume)
            best_values, best_eval, current, current_eval = initial, None, initial, None
            for record in steps:
                values = {**initial, **self._parse(dict(record.values))}
                evaluation = record.evaluation.under(self.rule)
                self.optimizer.remember(Attempt(dict(record.values), evaluation.score, evaluation.message()))
                current, current_eval = values, evaluation
                if best_eval is None or self._better(evaluation, best_eval):
                    best_values, best_eval = values, evaluation
            if (pooled := self._pooled_best()) is not None:  # None: a store written before the pool
                best_values, best_eval = pooled
            if current_eval is None:
                current_eval = best_eval = self.evaluate(initial, "initial", ())
                self._save_step(s.resume, 0, None, initial, current_eval, 0.0, "initial values")
                return s.resume, 1, initial, initial, current_eval, current_eval
            return s.resume, len(steps), current, best_values, best_eval, current_eval
        first = self.initial.under(self.rule) if self.initial is not None else self._run_many([initial], [0])[0]
        evaluation, noise = self._draw_original(initial, first)
        run_id = self.run_id = new_run_id()
        scoring = replace(self._scoring(), repeats=self.rule.repeats, noisy=self.rule.noisy,
                          failure_score=self.rule.failure)
        self.store.create_run(run_id, {
            "target": str(s.target) if s.target else None, "judge": str(s.judge) if s.judge else None, "entry": s.entry,
            "selectors": list(s.selectors), "steps": s.steps, "optimizer": s.optimizer, "model": s.llm.model,
            "params": [p.name for p in self.project.params], "root": str(self.project.root),
            "candidates": s.candidates, "scoring": scoring.to_json(),
        })
        if self.initial is None:
            self._count(initial, evaluation, "initial", ())
        else:
            self._record(initial, evaluation, "initial", ())
        self._start_note = "; ".join(filter(None, ["initial values", noise]))
        self._save_step(run_id, 0, None, initial, evaluation, 0.0, self._start_note)
        # As a resumed run does: a model whose first change did worse must see what it started from.
        self._remember(initial, evaluation)
        return run_id, 1, initial, initial, evaluation, evaluation

    def _draw_original(self, initial: dict[str, Any], first: Evaluation) -> tuple[Evaluation, str]:
        """The original values' evaluation over the run's draws (``first``: draw 0), and a note when it
        found the program noisy. Unless ``--repeats`` was given, the original values run once more with
        another seed: when the two disagree, the program's output varies, and every evaluation from
        then on runs each example :data:`AUTO_REPEATS` times and is compared by the paired test."""
        if first.problem:
            return first, ""
        if self.settings.repeats is None:
            second = self._run_many([initial], [1])[0]
            self.evaluations += 1
            if _same_draws(first, second):
                return first, ""
            self.rule.repeats, self.rule.noisy = AUTO_REPEATS, True
            rest = self._run_many([initial], range(2, AUTO_REPEATS))[0]
            return (Evaluation.combine([first, second, rest]).under(self.rule),
                    f"noisy: the original values scored {first.describe()} and {second.describe()} when run twice, "
                    f"so each example runs {AUTO_REPEATS} times and a candidate must beat the best beyond the noise")
        if self.rule.repeats > 1:
            rest = self._run_many([initial], range(1, self.rule.repeats))[0]
            return Evaluation.combine([first, rest]).under(self.rule), ""
        return first, ""

    def _original(self) -> Evaluation | None:
        """The original values' evaluation (the pool's initial candidate)."""
        first = next((c for c in self.pool.candidates if c.origin == "initial"), None)
        return None if first is None else self.evaluated[first.id]

    def _scoring(self) -> Scoring:
        return self.settings.scoring or Scoring(holdout=self.settings.holdout)

    def _load_pool(self, run_id: str) -> None:
        """The pool of a resumed run as its store holds it: every candidate evaluated before the run
        stopped, a killed step's included (so none is run again), and the merges already made."""
        for record in self.store.candidates(run_id):
            candidate = Candidate.from_json(record["candidate"])
            self.pool.add(self._key(self._values(candidate.values)), candidate)
            self.evaluated[candidate.id] = Evaluation.from_record(record).under(self.rule)
            if candidate.origin == "merge" and len(candidate.parents) == 2:
                self._merged.add((candidate.parents[0], candidate.parents[1]))

    def _pooled_best(self) -> tuple[dict[str, Any], Evaluation] | None:
        """The best of everything a resumed run evaluated (:func:`pooled_best`); None without a pool."""
        best = pooled_best(self.pool.candidates, self.evaluated, self.rule.noisy)
        return None if best is None else (self._values(best.values), self.evaluated[best.id])

    def _remember(self, values: dict[str, Any], evaluation: Evaluation) -> None:
        """Put evaluated values into the optimizer's memory of earlier attempts."""
        self.optimizer.remember(Attempt(self._texts(values), evaluation.score, evaluation.message()))

    def _texts(self, values: dict[str, Any]) -> dict[str, str]:
        return {p.name: value_to_text(p.kind, values[p.name]) for p in self.project.params}

    def _texts_of(self, changed: Mapping[str, Any]) -> dict[str, str]:
        """The texts of some parameters' values (what a step changed)."""
        return {name: value_to_text(self.project.param(name).kind, value) for name, value in changed.items()}

    def _parse(self, texts: dict[str, str]) -> dict[str, Any]:
        specs: dict[str, ParamSpec] = {p.name: p for p in self.project.params}
        return {name: text_to_value(specs[name].kind, text) for name, text in texts.items() if name in specs}

    def _finish_step(self, progress: Callable[[StepReport], None], run_id: str, step: int, started: float,
                     proposal: Proposal | None, values: dict[str, Any], evaluation: Evaluation, best: Evaluation,
                     note: str, sensitivity: Sensitivity, candidate: Mapping[str, Any] | None = None,
                     others: Sequence[Proposal] = (), merged: _Merged | None = None) -> None:
        """Store a completed step and show its progress line, with one measure of its duration.
        ``others``: the step's answers besides ``proposal`` (``--candidates``); their tokens count too,
        as do a merge's."""
        seconds = time.perf_counter() - started
        self._save_step(run_id, step, proposal, values, evaluation, seconds, note, sensitivity, candidate, others,
                        merged)
        progress(StepReport(step, self.settings.steps, evaluation.describe(), best.describe(),
                            *_step_tokens(proposal, others, merged), seconds, note))

    def _save_step(self, run_id: str, step: int, proposal: Proposal | None, values: dict[str, Any],
                   evaluation: Evaluation, seconds: float, note: str,
                   sensitivity: Sensitivity = _NO_SENSITIVITY, candidate: Mapping[str, Any] | None = None,
                   others: Sequence[Proposal] = (), merged: _Merged | None = None) -> None:
        """``candidate``: the changed values, when they came from a measurement rather than ``proposal``."""
        if proposal is not None:
            candidate = proposal.values
        evaluated, self.unsaved_scores = self.unsaved_scores, []
        prompt_tokens, completion_tokens = _step_tokens(proposal, others, merged)
        self.store.add_step(run_id, step, StepRecord(
            values=self._texts(values), evaluation=evaluation, candidate=self._texts_of(candidate or {}),
            rejected=proposal.rejected if proposal else {}, reasoning=proposal.reasoning if proposal else "",
            prompt=tuple(proposal.messages) if proposal else (), response=proposal.response if proposal else "",
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            cached=proposal.cached if proposal else False, seconds=seconds, note=note,
            sensitivity=sensitivity.text, evaluated=tuple(evaluated), parent=self._parents,
            front=tuple(c.id for c in self.pool.front()),
            other_answers=tuple(OtherAnswer(p.response, p.error, self._texts_of(p.values)) for p in others),
            merge=MergeNote(merged.note, merged.reply.text if merged.reply else "") if merged else None,
        ))


@dataclass(frozen=True)
class _Merged:
    """What a merge gave: the merged values and their evaluation (None when nothing new was run), a
    note for the progress line, and the model's reply when it was asked."""

    values: dict[str, Any] | None
    evaluation: Evaluation | None
    note: str
    reply: LLMReply | None


def _step_tokens(proposal: Proposal | None, others: Sequence[Proposal], merged: _Merged | None) -> tuple[int, int]:
    """Prompt and completion tokens of a step: its answers' (``proposal`` and ``others``) and a merge's."""
    replies = [r for r in (proposal, *others, merged.reply if merged else None) if r is not None]
    return sum(r.prompt_tokens for r in replies), sum(r.completion_tokens for r in replies)


def pooled_best(candidates: Sequence[Candidate], evaluated: Mapping[int, Evaluation],
                noisy: bool = False) -> Candidate | None:
    """The best of ``candidates`` (a run's pool, with each one's evaluation), chosen as the loop chose it
    while it ran: in the order of evaluation, a candidate that is :func:`autotrace.scoring.better` than
    the best so far, and a measured step's result when it ranks as high (it was taken because it beat
    the best, and may only equal a point of its own search: its tidier spelling). A resumed run starts
    from it: its stored steps alone miss a best that a probe found and no step kept."""
    best: Candidate | None = None
    for candidate in candidates:
        evaluation = evaluated[candidate.id]
        if best is not None:
            held = evaluated[best.id]
            takes = better(evaluation, held, noisy) or (candidate.origin == "measured" and evaluation.rank >= held.rank)
            if not takes:
                continue
        best = candidate
    return best


def _no_gain(original: Evaluation) -> str:
    """Why a run writes no patch when nothing beat the original values (``original``: their evaluation)."""
    return f"no candidate scored better than the original values ({original.describe()}) on the judge"


def _same_draws(a: Evaluation, b: Evaluation) -> bool:
    """Whether two runs of the same values were judged alike, example by example."""
    def judged(e: Evaluation) -> list[tuple[float | None, bool]]:
        return [(x.score, x.failed) for x in (*e.examples, *e.holdout)]

    return a.problem == b.problem and judged(a) == judged(b)


def _example_score(example: ExampleResult) -> float:
    return -math.inf if example.failed else float(example.score or 0.0)


def _batch_note(proposals: Sequence[Proposal], new: Sequence[tuple[Proposal, dict[str, Any], Evaluation]],
                asked: int) -> str:
    """A step's answers in one phrase: ``4 proposed, 3 new, best 0.83``; ``asked``: how many were asked
    at once (``--candidates``), the others were asked again after them (``--resample``)."""
    best = max((e for _, _, e in new), key=lambda e: e.rank, default=None)
    again = len(proposals) - asked
    return (f"{len(proposals)} proposed" + (f" ({again} sampled again)" if again > 0 else "") + f", {len(new)} new"
            + (f", best {best.describe()}" if best else ""))


@dataclass
class _Stall:
    """Counts the steps in a row whose answers gave nothing to evaluate while the best score stood still
    (``Settings.max_unchanged``). The best is compared with its rank at the previous step's answers, so
    a gain made in between (a probe, a measured step without an LLM call) also ends the streak."""

    best: tuple[float, float]  # the best values' rank when the last answer was counted
    answers: int = 0

    def after(self, changed: bool, best: tuple[float, float]) -> int:
        """Count one answer (``changed``: it gave values to evaluate); the streak so far."""
        self.answers = 0 if changed or best > self.best else self.answers + 1
        self.best = best
        return self.answers


def _finite(score: float) -> float | None:
    return score if math.isfinite(score) else None


def _assignments(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{name} = {number_text(value)}" for name, value in values.items())


def _measured_note(changed: Mapping[str, Any], runs: int) -> str:
    return f"measured step: {_assignments(changed)} (measured in {runs} program runs), no LLM call"


def _repeat_problem(step: int, evaluation: Evaluation) -> str:
    """What the model is told about an answer whose values were run before in this run."""
    when = "the initial values" if step == 0 else f"attempt {step} (step {step} of this run)"
    return (f"this is {when} again; it scored {evaluation.describe()}, so it was not run again. Propose a "
            "change that was not tried before.")


def _note(proposal: Proposal) -> str:
    if proposal.error:
        return f"no usable answer: {proposal.error}"
    parts = [f"changed {', '.join(proposal.values)}"] if proposal.values else ["no change proposed"]
    if proposal.rejected:
        parts.append(f"rejected {', '.join(name or 'the answer' for name in proposal.rejected)}")
    return "; ".join(parts)
