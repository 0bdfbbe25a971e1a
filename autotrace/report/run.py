"""What a run's page shows, computed from the run store's records (no source file is read).

Everything here is data for the template (:mod:`autotrace.report.page`): scores, the heat map's
cells, the lineage, each candidate's diff against the original values, the model's reasoning, cost
per step, from the store's :class:`autotrace.records.RunRecord` and :class:`autotrace.records.StepRecord`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from autotrace import graph as g
from autotrace.evaluation import ExampleResult
from autotrace.llm.timings import UNREPORTED, ServerTimings, total
from autotrace.pool import Candidate
from autotrace.records import RunConfig, RunRecord, StepRecord
from autotrace.scoring import ScoreRule, better
from autotrace.text import truncate

from . import dag

#: Examples (or tests) shown as heat-map rows; a run with more shows the ones that changed most.
HEATMAP_ROWS = 40
_TEXT_LIMIT = 6000  # characters kept of a reasoning, a feedback, a value diff
_VALUE_LIMIT = 400  # characters of a value in the table of values


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add", "del", "hunk", "head" or "same"
    text: str


@dataclass(frozen=True)
class Step:
    """One step as the page shows it."""

    step: int
    score: float | None  # the mean score of the values the step ended with (None: failed or no score)
    describe: str
    best: str  # the best result so far, as the progress line says it
    best_score: float | None  # its score (the plot's best-so-far line): the run's acceptance rule decides
    is_best: bool  # these values are the run's best
    note: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    runs: int | None  # programs run in this step (None: not recorded by the autotrace that made the run)
    cached: bool
    measured: bool  # a measured step: the values came from program runs, not from the model
    failed: bool
    parents: tuple[int, ...]  # the steps whose values this step started from
    #: The pooled candidates it started from (a merge: the two merged), by id; empty for a run without a pool.
    candidates: tuple[int, ...]
    changed: tuple[str, ...]  # parameters whose values differ from the original
    proposed: tuple[str, ...]  # parameters this step proposed (or measured)
    rejected: tuple[tuple[str, str], ...]  # (parameter, why) for proposed values the validator refused
    diff: tuple[DiffLine, ...]
    reasoning: str
    feedback: str
    sensitivity: str
    evaluated: tuple[float | None, ...]  # the score of every program run of the step
    #: What the server said the step's model calls cost (prompt tokens reused from its cache, seconds).
    timings: ServerTimings = UNREPORTED


@dataclass(frozen=True)
class Heat:
    """The per-example (or per-test) score matrix: ``cells[row][column]`` for ``steps[column]``."""

    rows: tuple[str, ...]
    steps: tuple[int, ...]
    cells: tuple[tuple[float | None, ...], ...]  # None: the example did not run or failed
    low: float
    high: float
    hidden: int  # examples not shown (over :data:`HEATMAP_ROWS`)


@dataclass(frozen=True)
class RunView:
    run_id: str
    status: str
    created: float | None
    finished: float | None
    config: RunConfig
    params: tuple[str, ...]
    steps: tuple[Step, ...]
    best_step: int | None
    best_describe: str
    heat: Heat | None
    dag: dag.Drawing | None
    dag_example: str  # which example's run the DAG shows
    patch: str  # the final patch (empty: none)
    patch_path: str  # the patch file, relative to the project root
    values: tuple[tuple[str, str, str], ...]  # (parameter, original, best) of each parameter
    totals: Mapping[str, float | None] = field(default_factory=dict)


def run_view(run: RunRecord, records: Sequence[StepRecord], run_dir: Path | None,
             candidates: Sequence[Candidate] = (), *, use_graphviz: bool = True) -> RunView:
    """The page's data for ``run``, its step records and its pool's ``candidates``, scored as the run
    scored them (its failure score over every score it saw, its acceptance rule)."""
    scoring = run.scoring
    rule = ScoreRule(failure=scoring.failure_score if scoring else None, noisy=bool(scoring and scoring.noisy))
    records = [replace(r, evaluation=r.evaluation.under(rule)) for r in records]
    evaluations = [r.evaluation for r in records]
    original = dict(records[0].values) if records else {}
    started = started_from(records, candidates)
    parents = lineage(records, candidates)
    best_index: int | None = None
    steps = []
    for i, (record, evaluation) in enumerate(zip(records, evaluations, strict=True)):
        if best_index is None or better(evaluation, evaluations[best_index], rule.noisy):
            best_index = i
        values = dict(record.values)
        steps.append(Step(
            step=record.step, score=_finite(evaluation.score), describe=evaluation.describe(),
            best=evaluations[best_index].describe(), best_score=_finite(evaluations[best_index].score),
            is_best=False, note=record.note,
            prompt_tokens=record.prompt_tokens, completion_tokens=record.completion_tokens, seconds=record.seconds,
            runs=record.runs, cached=record.cached, measured=record.note.startswith("measured step"),
            failed=evaluation.problem is not None or evaluation.failures > 0, parents=parents[i],
            candidates=started[i],
            changed=tuple(n for n in values if values[n] != original.get(n)),
            proposed=tuple(record.candidate),
            rejected=tuple(record.rejected.items()),
            diff=value_diff(original, values),
            reasoning=truncate(record.reasoning, _TEXT_LIMIT),
            feedback=truncate(evaluation.message(), _TEXT_LIMIT),
            sensitivity=truncate(record.sensitivity, _TEXT_LIMIT),
            evaluated=tuple(_finite(s) for s in record.evaluated or ()),
            timings=record.timings,
        ))
    best_values: dict[str, str] = {}
    if best_index is not None:
        steps[best_index] = replace(steps[best_index], is_best=True)
        best_values = dict(records[best_index].values)
    drawing, example = (None, "")
    if best_index is not None:
        drawing, example = _best_dag(evaluations[best_index].examples, use_graphviz)
    patch_file = run_dir / "patch.diff" if run_dir is not None else None
    patch = patch_file.read_text(encoding="utf-8", errors="replace") if patch_file and patch_file.is_file() else ""
    root = Path(run.config.root or ".")
    patch_path = _relative(patch_file, root) if patch_file is not None else ""
    return RunView(
        run_id=run.id, status=run.status, created=run.created, finished=run.finished, config=run.config,
        params=tuple(original), steps=tuple(steps),
        best_step=steps[best_index].step if best_index is not None else None,
        best_describe=evaluations[best_index].describe() if best_index is not None else "",
        heat=heat_map(records), dag=drawing, dag_example=example, patch=patch, patch_path=patch_path,
        values=tuple((n, truncate(original[n], _VALUE_LIMIT), truncate(best_values.get(n, original[n]), _VALUE_LIMIT))
                     for n in original),
        totals={"prompt_tokens": sum(s.prompt_tokens for s in steps),
                "completion_tokens": sum(s.completion_tokens for s in steps),
                "seconds": sum(s.seconds for s in steps),
                "runs": sum(s.runs or 0 for s in steps),
                "cache_share": total(s.timings for s in steps).cache_share},
    )


def lineage(records: Sequence[StepRecord], candidates: Sequence[Candidate] = ()) -> list[tuple[int, ...]]:
    """Each step's parents, as steps. With a pool, the steps that evaluated the candidates the step started
    from (:func:`started_from`): a parent drawn from the front may be an answer an earlier step evaluated
    and did not keep. Without one (a run stored before the pool), the step whose values it started from:
    the values the previous step ended with, or the earlier step that had them first (the loop went back
    to the best)."""
    evaluated_in = {c.id: c.step for c in candidates}
    first_with: dict[tuple[tuple[str, str], ...], int] = {}
    parents: list[tuple[int, ...]] = []
    previous: int | None = None
    for record, ids in zip(records, started_from(records, candidates), strict=True):
        # (a candidate of the step's own, evaluated before a killed run resumed it, is no parent step)
        named = tuple(dict.fromkeys(evaluated_in[i] for i in ids if evaluated_in.get(i, record.step) < record.step))
        if named:
            parents.append(named)
        else:
            parents.append(() if previous is None else (previous,))
        previous = first_with.setdefault(_key(record.values), record.step)
    return parents


def started_from(records: Sequence[StepRecord], candidates: Sequence[Candidate]) -> list[tuple[int, ...]]:
    """The pooled candidates each step started from, by id: the one the loop names
    (:attr:`StepRecord.parent`), or, when the step ended with a merge it made, the two merged."""
    merges = {_key(c.values): c for c in candidates if c.origin == "merge"}
    ids = []
    for record in records:
        merge = merges.get(_key(record.values))
        ids.append(merge.parents if merge is not None and merge.step == record.step else record.parent)
    return ids


def _key(values: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


def value_diff(original: Mapping[str, str], values: Mapping[str, str]) -> tuple[DiffLine, ...]:
    """A unified diff, parameter by parameter, of ``values`` against the original values."""
    lines: list[DiffLine] = []
    for name, text in values.items():
        before = original.get(name, "")
        if text == before:
            continue
        for line in difflib.unified_diff(before.splitlines(), text.splitlines(), f"{name} (original)",
                                         f"{name} (this step)", lineterm="", n=2):
            if line.startswith(("---", "+++")):
                kind = "head"
            elif line.startswith("@@"):
                kind = "hunk"
            else:
                kind = {"+": "add", "-": "del"}.get(line[:1], "same")
            lines.append(DiffLine(kind, truncate(line, 400)))
        if len(lines) > 400:
            lines.append(DiffLine("hunk", "… (diff cut at 400 lines)"))
            break
    return tuple(lines)


def heat_map(records: Sequence[StepRecord]) -> Heat | None:
    """Rows: the examples by label (tests by node id), in the order first seen; columns: the steps."""
    columns: list[dict[str, float | None]] = []
    order: dict[str, None] = {}
    for record in records:
        cells: dict[str, float | None] = {}
        scores = record.evaluation.example_scores()  # a raising example at the run's failure score
        for index, (example, score) in enumerate(zip(record.evaluation.examples, scores.values(), strict=False)):
            label = example.example if example.example is not None else f"run {index + 1}"
            cells[label] = _finite(score)
            order.setdefault(label, None)
        columns.append(cells)
    if not order:
        return None
    rows = list(order)
    hidden = 0
    if len(rows) > HEATMAP_ROWS:  # the examples whose score moved most are the informative ones
        def spread(label: str) -> float:
            seen = [c.get(label) for c in columns]
            numbers = [s for s in seen if s is not None]
            return (max(numbers) - min(numbers) if numbers else 0.0) + (0.5 if None in seen else 0.0)
        keep = set(sorted(rows, key=spread, reverse=True)[:HEATMAP_ROWS])
        hidden = len(rows) - len(keep)
        rows = [r for r in rows if r in keep]
    shown = [s for c in columns for s in c.values() if s is not None]
    return Heat(rows=tuple(truncate(r, 80) for r in rows),
                steps=tuple(r.step for r in records),
                cells=tuple(tuple(c.get(r) for c in columns) for r in rows),
                low=min(shown, default=0.0), high=max(shown, default=1.0), hidden=hidden)


def _best_dag(examples: Sequence[ExampleResult], use_graphviz: bool) -> tuple[dag.Drawing | None, str]:
    """The best values' DAG, from the example that taught the most (the first that failed, else the
    lowest-scoring), as the prompt shows it."""
    with_graph = [(i, e, e.graph) for i, e in enumerate(examples) if e.graph]
    if not with_graph:
        return None, ""

    def badness(item: tuple[int, ExampleResult, dict[str, Any]]) -> tuple[int, float]:
        score = item[1].score
        return (0 if item[1].failed else 1, score if isinstance(score, (int, float)) else math.inf)

    index, example, graph = min(with_graph, key=badness)
    label = example.example or ""
    where = f"example {index + 1}" + (f": {truncate(label, 80)}" if label else "") if len(examples) > 1 else ""
    return dag.draw(g.from_json(graph), use_graphviz=use_graphviz), where


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) else None


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except (ValueError, OSError):
        return str(path)
