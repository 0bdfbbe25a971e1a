"""The optimization loop: run → judge → graph feedback → propose → evaluate, step after step.

Every step is written to the run store as soon as it completes, so a killed run resumes from its
last completed step (and the LLM response cache answers again for free what was already asked).
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from autotrace.evaluation import Evaluation, examples_from_dicts
from autotrace.llm.client import LLM, LLMConfig
from autotrace.optimizers import OPTIMIZERS
from autotrace.optimizers.base import Attempt, Proposal, Sensitivity, number_text
from autotrace.params import ParamSpec, text_to_value, value_to_text
from autotrace.patches import Patch, apply_saved, make_patch, save_patch
from autotrace.project import Project
from autotrace.report import write_run_report
from autotrace.proposal_key import ProposalKey, proposal_key
from autotrace.store import ResponseCache, RunStore

from . import probe
from .evaluation import evaluation_of, make_job, run_evaluation
from .executor import Executor
from .search import DEFAULT_RUNS, Point, Search, score_of
from .space import dimensions
from .sandbox import Limits


@dataclass
class Settings:
    target: Path | None  # None when ``evaluator`` runs something else (the tests)
    judge: Path | None
    entry: str = "main"
    selectors: Sequence[str] = ()
    steps: int = 10
    target_score: float | None = None
    optimizer: str = "optoprime"
    llm: LLMConfig = field(default_factory=lambda: LLMConfig(model="local", base_url=None, api_key=None))
    limits: Limits = field(default_factory=Limits)
    isolated: bool = True
    #: How evaluations run: "fork" (a warm fork server; spawns where forking is unsafe), "spawn" or "ray".
    executor: str = "fork"
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
    probe: bool = True
    #: After the probes, search the numeric parameters by program runs alone (:mod:`.search`) and, if
    #: that beats the best values, take it as the step's result without an LLM call. Told to copy the
    #: probes' estimate, the 1.5B model rarely did, though each copy improved the score
    #: (``python -m benchmarks.estimate_use``).
    measured_step: bool = True
    #: Program runs one measured search may make (besides the probes).
    measured_runs: int = DEFAULT_RUNS
    #: Stop when this many answers in a row gave nothing to evaluate (no change, or only rejected or
    #: unusable values) while the best score stood still (0: never). The prompt after such an answer says
    #: what was wrong with it. Replayed over 232 stored benchmark runs, the calls after two such answers
    #: were 10% of the tokens and solved nothing; after one, 4 solves were lost (``benchmarks.unchanged_stop``).
    max_unchanged: int = 2
    #: How a (code) variable's new value is asked for: "fenced" (a ```python block) or "json" (a JSON string).
    code_format: str = "fenced"
    #: How a set of values is evaluated; None runs ``target``'s entry under ``judge`` (the pytest
    #: integration passes one that runs the selected tests instead).
    evaluator: Callable[[Project, dict[str, Any]], Evaluation] | None = None


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


def state_dir(root: Path) -> Path:
    return root / ".autotrace"


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def load_project(settings: Settings) -> Project:
    project = Project.load(settings.target, settings.selectors)
    if not project.params:
        raise ValueError(f"{settings.target}: no parameters: mark one with '# autotrace: param' or pass --param FILE::NAME")
    return project


def prepare(settings: Settings) -> tuple[Project, Evaluation]:
    """Find the parameters and evaluate their initial values, writing nothing: bad input (a marker,
    a selector, the judge, the entry) raises here, before a model is started or a run is stored."""
    project = load_project(settings)
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


def _evaluate(settings: Settings, project: Project, values: dict[str, Any]) -> Evaluation:
    if settings.evaluator is not None:
        return settings.evaluator(project, values)
    job = make_job(project, settings.target, settings.entry, settings.judge, values)
    return run_evaluation(job, settings.limits, isolated=settings.isolated)


class _Loop:
    def __init__(self, settings: Settings, project: Project, store: RunStore, executor: Executor,
                 initial: Evaluation | None = None) -> None:
        self.settings, self.project, self.store, self.initial = settings, project, store, initial
        self.executor = executor
        self.evaluations = 1 if initial is not None else 0
        #: The score of every set of values evaluated in this run (:func:`autotrace.proposal_key`), so
        #: that neither the measured search nor the model's repeated answer runs them again.
        self.scores: dict[ProposalKey, float] = {}
        #: Per evaluated set of values, the step that first ran it and its evaluation (for "tried already").
        self.tried: dict[ProposalKey, tuple[int, Evaluation]] = {}
        self._step = 0
        #: The scores of the program runs since the last stored step (stored with the next one: the report plots them).
        self.unsaved_scores: list[float | None] = [] if initial is None else [_finite(score_of(initial))]
        cache = ResponseCache(state_dir(project.root) / "autotrace.db") if settings.cache else None
        self.llm = LLM(settings.llm, cache)
        self.optimizer = OPTIMIZERS[settings.optimizer](project.params, self.llm, budget_tokens=settings.budget_tokens,
                                                        memory=settings.memory, code_format=settings.code_format)

    def evaluate(self, values: dict[str, Any]) -> Evaluation:
        return self.evaluate_many([values])[0]

    def evaluate_many(self, batch: Sequence[dict[str, Any]]) -> list[Evaluation]:
        """Evaluate each set of values of ``batch`` (up to ``jobs`` at once: a measured search's points, a
        step's candidates), the results, counted and remembered, in the batch's order whatever ``jobs`` is."""
        evaluations = self._run_many(batch)
        for one, evaluation in zip(batch, evaluations):
            self._count(one, evaluation)
        return evaluations

    def _run_many(self, batch: Sequence[dict[str, Any]]) -> list[Evaluation]:
        """Evaluations neither counted nor remembered (see :meth:`_count`)."""
        s = self.settings
        if s.evaluator is not None:
            evaluator = s.evaluator
            return self.executor.map(lambda one: evaluator(self.project, one), batch)
        jobs = [make_job(self.project, s.target, s.entry, s.judge, one) for one in batch]  # type: ignore[arg-type]
        return [evaluation_of(result) for result in self.executor.run_many(jobs)]

    def _count(self, values: dict[str, Any], evaluation: Evaluation) -> None:
        """An evaluation the run uses: counted, and its score known to the measured search."""
        self.evaluations += 1
        key = self._key(values)
        self.scores[key] = score = score_of(evaluation)
        self.unsaved_scores.append(_finite(score))
        self.tried.setdefault(key, (self._step, evaluation))

    def _known(self, values: dict[str, Any]) -> float | None:
        return self.scores.get(self._key(values))

    def _key(self, values: dict[str, Any]) -> ProposalKey:
        return proposal_key(self.project.params, values)

    def run(self, progress: Callable[[StepReport], None]) -> RunResult:
        s = self.settings
        initial = {p.name: p.initial for p in self.project.params}
        run_id, first_step, current, best, best_eval, current_eval = self._start(initial)
        run_dir = state_dir(self.project.root) / "runs" / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        progress(StepReport(first_step - 1, s.steps, current_eval.describe(), best_eval.describe(), 0, 0, 0.0,
                            "initial values" if first_step == 1 else "resumed"))
        stopped = ""
        stall = _Stall(best_eval.rank)
        for step in range(first_step, s.steps + 1):
            if self._reached(best_eval):
                break
            self._step = step
            started = time.perf_counter()
            self.optimizer.accept(current)
            self.optimizer.zero_feedback()
            for feedback in current_eval.feedbacks():
                self.optimizer.backward(feedback)
            sensitivity, probed = Sensitivity(), ""
            evaluations_before = self.evaluations
            if s.probe:
                probes, better = self._probe(current, current_eval, best_eval)
                if better is not None:
                    best, best_eval = better.values, better.evaluation
                    probed = f"probe {better.name} = {better.new!r} is the best so far"
                sensitivity, tried, found = self._measured_step(probes, current, current_eval, best_eval)
                if found is not None and found.evaluation is not None:  # it beat the best: no LLM call this step
                    changed = {k: v for k, v in found.values.items() if v != current[k]}
                    current, best = found.values, found.values
                    current_eval = best_eval = found.evaluation
                    self._remember(current, current_eval)
                    self._finish_step(progress, run_id, step, started, None, current, current_eval, best_eval,
                                      _measured_note(changed, self.evaluations - evaluations_before), sensitivity,
                                      candidate=changed)
                    continue
                probed = "; ".join(filter(None, [tried, probed]))
            self.optimizer.sensitivity = sensitivity
            if self._reached(best_eval):  # a probe reached the target: no need to ask the model
                self._finish_step(progress, run_id, step, started, None, best, best_eval, best_eval, probed,
                                  sensitivity)
                break
            proposal = self.optimizer.step()
            if proposal.repeated:
                stopped = (f"stopped before step {step}: its question was asked at an earlier step, and at "
                           "temperature 0 (or from the cache) the answer would be the same")
                progress(StepReport(step, s.steps, current_eval.describe(), best_eval.describe(), 0, 0,
                                    time.perf_counter() - started, stopped))
                break
            candidate = {**current, **proposal.values}
            note = "; ".join(filter(None, [_note(proposal), probed]))
            repeat = self.tried.get(self._key(candidate)) if proposal.values else None
            if repeat is not None:
                # The same program was run already: say so (the model cycling between two answers never
                # learns otherwise) and count it as an answer that changed nothing.
                note += f"; the values of step {repeat[0]} again: not run again"
                self.optimizer.last_problems[""] = _repeat_problem(*repeat)
            if proposal.values and repeat is None:
                candidate_eval = self.evaluate(candidate)
                current, current_eval = candidate, candidate_eval
                if candidate_eval.rank > best_eval.rank or (candidate_eval.score is None and not candidate_eval.failures
                                                           and best_eval.failures):
                    best, best_eval = candidate, candidate_eval
            elif current_eval.rank < best_eval.rank:
                # The model keeps a candidate that did worse (it has seen that candidate's feedback once):
                # asked about the same values at temperature 0 it would keep them again, step after step.
                current, current_eval = best, best_eval
                note += "; back to the best values"
            self._remember(current, current_eval)
            self._finish_step(progress, run_id, step, started, proposal, current, current_eval, best_eval, note,
                              sensitivity)
            unchanged = stall.after((bool(proposal.values) and repeat is None) or proposal.escaping, best_eval.rank)
            if s.max_unchanged and unchanged >= s.max_unchanged and step < s.steps:
                stopped = (f"stopped before step {step + 1}: the last {unchanged} answers changed nothing "
                           "and the best score stood still")
                progress(StepReport(step + 1, s.steps, current_eval.describe(), best_eval.describe(), 0, 0, 0.0,
                                    stopped))
                break
        reached = self._reached(best_eval)
        changes = [(p, best[p.name]) for p in self.project.params if best[p.name] != p.initial]
        patch = make_patch(self.project.root, changes)
        save_patch(run_dir, patch)
        applied = apply_saved(self.project.root, run_dir) if s.apply and patch.files else []
        self.store.finish_run(run_id, "done", {"score": best_eval.score, "describe": best_eval.describe(),
                                               "values": self._texts(best), "reached_target": reached,
                                               "evaluations": self.evaluations, "stopped": stopped})
        report = write_run_report(self.store, run_id, run_dir)
        return RunResult(run_id, run_dir, best_eval.describe(), best, patch, applied, reached, self.evaluations,
                         stopped, report)

    def _probe(self, values: dict[str, Any], evaluation: Evaluation,
               best: Evaluation) -> tuple[list[probe.Probe], probe.Probe | None]:
        """The probes of ``values``, and the one that beat ``best`` (the best one), if any."""
        # Probed ``jobs`` at a time; a probe evaluated after the one that reached the target is dropped
        # uncounted, so the run is the same whatever the number of jobs.
        probes = probe.probe(self.project.params, values, evaluation, self.evaluate, self._reached,
                             evaluate_many=self._run_many, batch=self.executor.jobs)
        for p in probes:
            self._count(p.values, p.evaluation)  # type: ignore[arg-type]
        better = [p for p in probes if p.evaluation is not None and p.evaluation.rank > best.rank]
        top = max(better, key=lambda p: p.evaluation.rank, default=None)  # type: ignore[union-attr]
        return probes, top

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
        if found.evaluation is not None and found.evaluation.rank > best.rank:
            return sensitivity, "", found
        if found is not start and found.evaluation is not None:
            self._remember(found.values, found.evaluation)
        note = f"measured search: nothing better in {search.runs_made} new program runs" if probes else ""
        return sensitivity, note, None

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
            steps = self.store.steps(s.resume)
            best_values, best_eval, current, current_eval = initial, None, initial, None
            for record in steps:
                values = {**initial, **self._parse(record["values"])}
                evaluation = Evaluation(examples_from_dicts(record["examples"]), record.get("problem"))
                self.optimizer.remember(Attempt(record["values"], evaluation.score, evaluation.message()))
                current, current_eval = values, evaluation
                if best_eval is None or evaluation.rank > best_eval.rank:
                    best_values, best_eval = values, evaluation
            if current_eval is None:
                current_eval = best_eval = self.evaluate(initial)
                self._save_step(s.resume, 0, None, initial, current_eval, 0.0, "initial values")
                return s.resume, 1, initial, initial, current_eval, current_eval
            return s.resume, len(steps), current, best_values, best_eval, current_eval
        run_id = new_run_id()
        self.store.create_run(run_id, {
            "target": str(s.target) if s.target else None, "judge": str(s.judge) if s.judge else None, "entry": s.entry,
            "selectors": list(s.selectors), "steps": s.steps, "optimizer": s.optimizer, "model": s.llm.model,
            "params": [p.name for p in self.project.params], "root": str(self.project.root),
        })
        evaluation = self.initial or self.evaluate(initial)
        self.tried.setdefault(self._key(initial), (0, evaluation))
        self._save_step(run_id, 0, None, initial, evaluation, 0.0, "initial values")
        # As a resumed run does: a model whose first change did worse must see what it started from.
        self._remember(initial, evaluation)
        return run_id, 1, initial, initial, evaluation, evaluation

    def _remember(self, values: dict[str, Any], evaluation: Evaluation) -> None:
        """Put evaluated values into the optimizer's memory of earlier attempts."""
        self.optimizer.remember(Attempt(self._texts(values), evaluation.score, evaluation.message()))

    def _texts(self, values: dict[str, Any]) -> dict[str, str]:
        return {p.name: value_to_text(p.kind, values[p.name]) for p in self.project.params}

    def _parse(self, texts: dict[str, str]) -> dict[str, Any]:
        specs: dict[str, ParamSpec] = {p.name: p for p in self.project.params}
        return {name: text_to_value(specs[name].kind, text) for name, text in texts.items() if name in specs}

    def _finish_step(self, progress: Callable[[StepReport], None], run_id: str, step: int, started: float,
                     proposal: Proposal | None, values: dict[str, Any], evaluation: Evaluation, best: Evaluation,
                     note: str, sensitivity: Sensitivity, candidate: Mapping[str, Any] | None = None) -> None:
        """Store a completed step and show its progress line, with one measure of its duration."""
        seconds = time.perf_counter() - started
        self._save_step(run_id, step, proposal, values, evaluation, seconds, note, sensitivity, candidate)
        progress(StepReport(step, self.settings.steps, evaluation.describe(), best.describe(),
                            proposal.prompt_tokens if proposal else 0, proposal.completion_tokens if proposal else 0,
                            seconds, note))

    def _save_step(self, run_id: str, step: int, proposal: Proposal | None, values: dict[str, Any],
                   evaluation: Evaluation, seconds: float, note: str,
                   sensitivity: Sensitivity = Sensitivity(), candidate: Mapping[str, Any] | None = None) -> None:
        """``candidate``: the changed values, when they came from a measurement rather than ``proposal``."""
        if proposal is not None:
            candidate = proposal.values
        evaluated, self.unsaved_scores = self.unsaved_scores, []
        self.store.add_step(run_id, step, {
            "values": self._texts(values), "score": evaluation.score, "describe": evaluation.describe(),
            "feedback": evaluation.message(), "examples": [e.to_dict() for e in evaluation.examples], "problem": evaluation.problem,
            "candidate": {k: value_to_text(self.project.param(k).kind, v) for k, v in (candidate or {}).items()},
            "rejected": proposal.rejected if proposal else {}, "reasoning": proposal.reasoning if proposal else "",
            "prompt": proposal.messages if proposal else [], "response": proposal.response if proposal else "",
            "prompt_tokens": proposal.prompt_tokens if proposal else 0,
            "completion_tokens": proposal.completion_tokens if proposal else 0,
            "cached": proposal.cached if proposal else False, "seconds": seconds, "note": note,
            "sensitivity": sensitivity.text, "runs": len(evaluated), "evaluated": evaluated,
            "status": "ok" if evaluation.problem is None else "failed",
        })


@dataclass
class _Stall:
    """Counts the answers in a row that gave nothing to evaluate while the best score stood still
    (``Settings.max_unchanged``). The best is compared with its rank at the previous answer, so a gain
    made in between (a probe, a measured step without an LLM call) also ends the streak."""

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
