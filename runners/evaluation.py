"""One evaluated set of parameter values, as the loop and the optimizer need it."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from autotrace import graph as g
from autotrace.optimizers.base import Feedback
from autotrace.params import ParamSpec, literal_to_text
from autotrace.pool import example_labels
from autotrace.project import ConfigError, Project
from autotrace.transforms.plan import ModulePlan

from .judge import JudgeError
from .sandbox import Limits, evaluate
from .worker import Job

_MESSAGE_LIMIT = 600


@dataclass
class Evaluation:
    """What running the program with some values gave: per-example results, or why there were none."""

    examples: list[dict[str, Any]]
    problem: str | None = None  # the program did not import or the worker crashed
    #: The validation examples (``--holdout``, or the judge's ``{"train", "val"}``): run with every
    #: candidate, kept out of its score, rank and feedback, so that the patch can be chosen on them.
    holdout: list[dict[str, Any]] = field(default_factory=list)

    @property
    def validation(self) -> Evaluation:
        """The validation examples as an evaluation of their own (failed when the program did not run)."""
        return Evaluation(self.holdout, self.problem)

    @property
    def failures(self) -> int:
        return len(self.examples) if self.problem else sum(1 for e in self.examples if e.get("failed"))

    @property
    def score(self) -> float | None:
        """Mean judge score over the examples that ran (None when the judge gives only messages)."""
        scores = [e["score"] for e in self.examples if e.get("score") is not None and not e.get("failed")]
        return sum(scores) / len(scores) if scores and not self.problem else None

    @property
    def complete_score(self) -> float | None:
        """The score when every example ran and was scored, else None: what a measurement may compare."""
        return None if self.problem or self.failures else self.score

    @property
    def rank(self) -> tuple[float, float]:
        """Sort key, higher is better: fewer failing examples first, then the mean score."""
        if self.problem:
            return (-math.inf, -math.inf)
        score = self.score
        return (-float(self.failures), score if score is not None else -math.inf)

    def example_scores(self) -> dict[str, float | None]:
        """Each example's score by its label (:func:`autotrace.pool.example_labels`), for the pool's
        per-example front: None when the example could not be judged, 0 when it ran unscored; nothing
        when the program did not run."""
        if self.problem:
            return {}
        return {label: None if e.get("failed") else float(e["score"]) if e.get("score") is not None else 0.0
                for label, e in zip(example_labels(self.examples), self.examples)}

    def message(self) -> str:
        """All feedback in one text, each example's part kept short."""
        if self.problem:
            return self.problem
        if len(self.examples) == 1:
            return _clip(self.examples[0].get("message", ""), _MESSAGE_LIMIT * 3)
        parts = []
        for i, example in enumerate(self.examples, 1):
            verdict = "FAILED" if example.get("failed") else f"score {example.get('score')}"
            parts.append(f"[example {i}] input {example.get('example')} -> output {example.get('output')}: "
                         f"{verdict}. {_clip(example.get('message', ''), _MESSAGE_LIMIT)}")
        return "\n".join(parts)

    def feedbacks(self) -> list[Feedback]:
        if self.problem:
            return [Feedback(graph=None, text=self.problem, score=None)]
        return [Feedback(graph=g.from_json(e["graph"]) if e.get("graph") else None,
                         text=_clip(e.get("message", ""), _MESSAGE_LIMIT * 3), score=e.get("score"))
                for e in self.examples]

    def describe(self) -> str:
        if self.problem:
            return "failed"
        score = self.score
        text = f"{score:.4g}" if score is not None else "n/a"
        text += f" ({self.failures}/{len(self.examples)} failed)" if self.failures else ""
        return text + (f", val {self.validation.describe()}" if self.holdout else "")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit // 2] + "\n...\n" + text[-limit // 2:]


def value_text(spec: ParamSpec, value: Any) -> str:
    return value if spec.kind == "code" else literal_to_text(value)


def make_job(project: Project, target: Path, entry: str, judge: Path | None,
             values: Mapping[str, Any], *, record: bool = True) -> Job:
    """A worker job that runs ``target``'s ``entry`` with ``values`` (param name -> value)."""
    plans = project.plans()
    candidates: dict[str, dict[str, str]] = {}
    for spec in project.params:
        if spec.kind == "code" and spec.name in values and values[spec.name] != spec.initial:
            candidates.setdefault(str(spec.path), {})[spec.qualname] = values[spec.name]
    return Job(
        target_module=plans[target.resolve()].module,
        entry=entry,
        judge=str(judge.resolve()) if judge else None,
        search_roots=[str(p) for p in project.search_roots],
        plans={str(path): plan_fields(plan) for path, plan in plans.items()},
        params=[{"name": p.name, "kind": p.kind, "description": p.description} for p in project.params],
        values={p.name: value_text(p, values.get(p.name, p.initial)) for p in project.params},
        candidates=candidates,
        record=record,
        root=str(project.root),
    )


def with_attempts(result: dict[str, Any]) -> dict[str, Any]:
    """The worker's result with what the program tried to change outside its folders (``attempts``)
    said in each example's message and in a crash's reason: the candidate's author should know."""
    tried = result.get("attempts") or []
    if not tried:
        return result
    text = "the program " + "; ".join(tried)
    for key in ("crash", "setup_error"):
        if key in result:
            result[key] = f"{result[key]}\n{text}"
    for example in result.get("examples", []):
        example["message"] = f"{example.get('message', '')}\n{text}".strip()
    return result


def plan_fields(plan: ModulePlan) -> dict[str, Any]:
    """A :class:`ModulePlan` as JSON-able fields (the worker's ``Job.plans`` entries)."""
    return {"module": plan.module, "literals": dict(plan.literals), "functions": dict(plan.functions),
            "param_names": sorted(plan.param_names), "derived": {k: list(v) for k, v in plan.derived.items()}}


def hold_out(evaluation: Evaluation, fraction: float, seed: object) -> Evaluation:
    """``evaluation`` with ``fraction`` of its examples moved to ``holdout`` (``--holdout``): the same
    ones every time, drawn with the run's seed; at least one on each side. Unchanged when the judge
    split its examples itself, or when there are fewer than two."""
    count = len(evaluation.examples)
    if evaluation.holdout or evaluation.problem or count < 2 or fraction <= 0:
        return evaluation
    held = set(random.Random(f"{seed}:holdout").sample(range(count), min(count - 1, max(1, round(count * fraction)))))
    return replace(evaluation, examples=[e for i, e in enumerate(evaluation.examples) if i not in held],
                   holdout=[e for i, e in enumerate(evaluation.examples) if i in held])


def run_evaluation(job: Job, limits: Limits, *, isolated: bool = True) -> Evaluation:
    result = with_attempts(evaluate(job, limits, isolated=isolated))
    if "judge_error" in result:
        raise JudgeError(result["judge_error"])
    if "entry_error" in result:  # no candidate can add the entry: bad input, not feedback
        raise ConfigError(result["entry_error"])
    if "crash" in result:
        tail = result.get("output_tail", "").strip()
        return Evaluation([], problem=result["crash"] + (f"\nlast output:\n{_clip(tail, 1500)}" if tail else ""))
    if "setup_error" in result:
        return Evaluation([], problem=result["setup_error"] + "\n" + result.get("traceback", ""))
    examples = result["examples"]
    return Evaluation([e for e in examples if e.get("split") != "val"],
                      holdout=[e for e in examples if e.get("split") == "val"])
