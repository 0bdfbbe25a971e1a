"""GEPA's side of a prompt task: ``gepa.optimize`` with its default adapter on the task's one marked prompt.

The task's program is GEPA's task model (so its own post-processing and the task's judge score every
answer), the marked string constant is GEPA's one component (the system prompt), the dataset is both its
train and validation set, and the run's model is the reflection model. A metric call is one program run:

* a judge with ``examples()`` (the fresh prompt tasks, ``runner = "prompt"``) scores one example at a time,
  ``feedback(output, example)``: each example is one item of the dataset and ``main(example)`` one run;
* a judge that scores the program's whole output, ``feedback(output)`` (the harness's prompt tasks), makes a
  dataset of one item: ``main()`` over the program's own data, scored and explained by the judge as it is for
  the other sides, its message (which answers were wrong) GEPA's feedback.

Its budget is a number of metric calls, stated in the row's arm (``calls12``): by default the program runs
of an autotrace run of the task's steps at one evaluation a step, ``(steps + 1) x items``. An iteration of
GEPA runs its parent prompt on a minibatch (again: it wants the traces) and its proposal on the same one;
GEPA keeps the scores it has (``cache_evaluation``: the programs answer at temperature 0, so a run again
would only spend the budget on an answer already known), so an accepted proposal's validation runs only the
items outside the minibatch. The run stops at the task's target, and before an iteration that would pass the
budget (:class:`Within`): with a one-item dataset it never passes it; with examples, only an accepted
proposal's validation may, by the items outside its minibatch.

The program's own model calls go through autotrace's recording proxy (:mod:`autotrace.llm.proxy`), the
same meter that gives autotrace's ``show --json`` its program tokens, so both sides' ``program_tokens``
are counted alike; the reflection calls are the optimizer's tokens. Through :func:`run` (the prompt
runner) the proxy is this module's and the final prompt is then judged on the task's hidden cases (through
the same proxy, not counted as the run's); through ``python -m benchmarks.gepa_side RUN_DIR`` (the harness,
:func:`benchmarks.harness.run_task`) the run is in a process of its own on a laid-out task whose program
reaches the harness's proxy by ``OPENAI_BASE_URL``, and its result is the harness's ``result.json``.
"""

from __future__ import annotations

import argparse
import ast
import json
import runpy
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from autotrace.llm.proxy import RecordingProxy, Upstream
from autotrace.runners.app_model import environment

from . import rows
from .tasks import Task

#: Reflection answers are sampled (GEPA asks for a new prompt); the program's own calls keep their settings.
REFLECTION_TEMPERATURE = 0.8
REFLECTION_MAX_TOKENS = 1024


class GepaError(RuntimeError):
    """A task GEPA's default adapter cannot run (one line)."""


def marked_prompt(task: Task) -> str:
    """The name of the task program's one marked string constant (GEPA's one component)."""
    from autotrace.markers import marker_text

    source = (task.folder / task.program).read_text()
    lines = source.splitlines()
    names = [target.id for node in ast.parse(source).body
             if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
             and isinstance(node.value.value, str) and node.end_lineno is not None and node.end_col_offset is not None
             and marker_text(lines[node.end_lineno - 1][node.end_col_offset:]) is not None
             for target in node.targets if isinstance(target, ast.Name)]
    if len(names) != 1:
        raise GepaError(f"{task.name}: GEPA's default adapter wants one marked string constant, found "
                        f"{len(names)}{': ' + ', '.join(names) if names else ''}")
    return names[0]


def per_example(task: Task) -> bool:
    """Whether the task's judge scores one example at a time (it defines ``examples()``), read, not run."""
    tree = ast.parse((task.folder / task.judge).read_text())
    return any(isinstance(node, ast.FunctionDef) and node.name == "examples" for node in tree.body)


def examples(task: Task, folder: Path | None = None) -> list[Any]:
    """The judge's examples; for a judge of the whole output, one item (``None``: ``main()`` takes no input).
    ``folder``: where the judge is run from (a laid-out task, whose helpers sit beside it)."""
    if not per_example(task):
        return [None]
    judge = runpy.run_path(str((folder or task.folder) / task.judge), run_name="gepa_judge")
    return list(judge["examples"]())


def default_budget(task: Task, steps: int | None = None) -> int:
    """Metric calls: the program runs of an autotrace run of ``steps`` (the task's) at one evaluation a step."""
    return ((steps or task.steps) + 1) * len(examples(task))


def autotrace_runs(earlier: Iterable[rows.Row], task: str, seed: int, model: str) -> int | None:
    """The program runs of the latest autotrace run of ``task`` with ``seed`` on ``model`` among ``earlier``
    (in file order), None when there is none: GEPA's budget beside it."""
    runs = [row.program_runs for row in earlier if (row.side, row.task, row.seed, row.model) ==
            ("autotrace", task, seed, model) and row.program_runs]
    return runs[-1] if runs else None


class Within:
    """GEPA's stopper for a budget of metric calls: stop when one more iteration (its parent's and its proposal's
    runs on a minibatch) would pass it. GEPA's own ``max_metric_calls`` stops only once the budget is spent."""

    def __init__(self, budget: int, minibatch: int) -> None:
        self.budget, self.minibatch = budget, minibatch

    def __call__(self, gepa_state: Any) -> bool:
        return gepa_state.total_num_evals + 2 * self.minibatch > self.budget


def optimize(task: Task, folder: Path, seed: int, metric_calls: int, server: dict[str, Any]
             ) -> tuple[dict[str, Any], Callable[..., Any]]:
    """GEPA on the program and judge in ``folder``; the program's model calls go where ``OPENAI_BASE_URL``
    points (the caller's proxy), the reflection calls to the server. Its result (best prompt, scores, metric
    calls made, the optimizer's tokens, seconds), and the program as a function of (prompt, *inputs)."""
    import gepa
    from gepa.adapters.default_adapter.default_adapter import EvaluationResult
    from gepa.utils.stop_condition import ScoreThresholdStopper
    from openai import OpenAI

    name = marked_prompt(task)
    items = examples(task, folder)
    whole = not per_example(task)
    judge = runpy.run_path(str(folder / task.judge), run_name="gepa_judge")
    client = OpenAI(base_url=server["base_url"], api_key="local", max_retries=0, timeout=1800)
    reflection = {"prompt": 0, "completion": 0, "calls": 0}
    program = runpy.run_path(str(folder / task.program), run_name="gepa_task")
    space = program["main"].__globals__  # run_path returns a copy: main reads its own globals

    def app(prompt: str, *inputs: Any) -> Any:
        space[name] = prompt
        return program["main"](*inputs)

    answers: dict[str, Any] = {}  # a response's text -> the program's output it shows, for the judge

    def task_lm(messages: Any) -> str:
        output = app(messages[0]["content"], *([] if whole else [messages[-1]["content"]]))
        answers[str(output)] = output
        return str(output)

    def reflection_lm(prompt: str) -> str:
        reply = client.chat.completions.create(
            model=server["model"], messages=[{"role": "user", "content": prompt}],
            temperature=REFLECTION_TEMPERATURE, max_tokens=REFLECTION_MAX_TOKENS, seed=seed)
        reflection["calls"] += 1
        if reply.usage is not None:
            reflection["prompt"] += reply.usage.prompt_tokens
            reflection["completion"] += reply.usage.completion_tokens
        return reply.choices[0].message.content or ""

    def evaluator(data: dict[str, Any], response: str) -> Any:
        given = [] if whole else [data["additional_context"]["example"]]
        score, message = judge["feedback"](answers[response], *given)
        return EvaluationResult(score=float(score), feedback=str(message), objective_scores=None)

    dataset = [{"input": f"{task.program}: main() on its own data" if whole else str(example),
                "additional_context": {"example": example}, "answer": ""} for example in items]
    started = time.perf_counter()
    minibatch = min(3, len(dataset))  # GEPA's default, or the whole dataset when smaller (it pads by repeating)
    callbacks: dict[str, Any] = {"evaluator": evaluator, "reflection_lm": reflection_lm}  # GEPA's protocols
    result = gepa.optimize(seed_candidate={name: str(program[name])}, trainset=dataset, valset=dataset,
                           task_lm=task_lm, **callbacks, max_metric_calls=metric_calls, cache_evaluation=True,
                           stop_callbacks=[ScoreThresholdStopper(task.target), Within(metric_calls, minibatch)],
                           reflection_minibatch_size=minibatch, seed=seed, display_progress_bar=False, run_dir=None)
    seconds = time.perf_counter() - started
    chosen = result.best_candidate  # a dict of the components (a str only for optimize_anything's runs)
    best = chosen[name] if isinstance(chosen, dict) else str(chosen)
    scores = result.val_aggregate_scores
    return {"task": task.name, "side": "gepa", "seed": seed, "metric_calls": metric_calls, "parameter": name,
            "metric_calls_made": result.total_metric_calls, "candidates": len(result.candidates),
            "scores": list(scores), "before": scores[0], "best_score": max(scores),
            "solved": max(scores) >= task.target, "accepted": len(result.candidates) > 1, "prompt": best,
            "optimizer_tokens": reflection["prompt"] + reflection["completion"], "prompt_tokens": reflection["prompt"],
            "completion_tokens": reflection["completion"], "reflection_calls": reflection["calls"],
            "seconds": seconds}, app


def run(task: Task, seed: int, metric_calls: int, server: dict[str, Any]) -> dict[str, Any]:
    """One GEPA run on ``task`` in its own folder, the program's calls through this run's proxy: :func:`optimize`'s
    result with the program's calls and tokens and the hidden cases passed."""
    upstream = Upstream(server["base_url"], "local", server["model"])
    with RecordingProxy(lambda: upstream) as proxy, \
            environment({"OPENAI_BASE_URL": proxy.base_url, "OPENAI_API_KEY": "local"}):
        result, app = optimize(task, task.folder, seed, metric_calls, server)
        spent = proxy.usage()
        hidden = _hidden(task, app, result["prompt"])
    return {**result, "program_calls": spent.calls, "program_tokens": spent.prompt_tokens + spent.completion_tokens,
            "hidden": hidden}


def _hidden(task: Task, app: Callable[..., Any], prompt: str) -> dict[str, Any] | None:
    """The program with ``prompt`` on the task's hidden cases (``CASES``: input -> the output wanted)."""
    cases = task.hidden_cases()
    if cases is None:
        return None
    outputs = {text: app(prompt, text) for text in cases}
    return {"passed": sum(outputs[t] == cases[t] for t in cases), "total": len(cases),
            "failing": {t: outputs[t] for t in cases if outputs[t] != cases[t]}}


def harness_result(result: dict[str, Any], target: float) -> dict[str, Any]:
    """:func:`optimize`'s result in the harness's ``result.json`` form (:func:`benchmarks.rows.from_harness`
    reads it): one step per candidate GEPA kept, the seed prompt step 0 (asked no model), its program runs."""
    steps = [{"step": i, "score": score, "asked": i > 0} for i, score in enumerate(result["scores"])]
    solved_step = next((s["step"] for s in steps if s["score"] >= target), None)
    return {**result, "solved_step": solved_step, "llm_calls": result["reflection_calls"], "steps": steps,
            "evaluations": result["metric_calls_made"], "wall_seconds": result["seconds"],
            "final_values": {result["parameter"]: result["prompt"]}, "error": None}


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.gepa_side RUN_DIR --task NAME --metric-calls N ...``: one harness run (see above)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gepa_side", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="the task laid out for this run (Task.lay_out)")
    parser.add_argument("--task", required=True)
    parser.add_argument("--metric-calls", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--base-url", required=True, help="the reflection model's server")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    from .tasks import get

    task = get(args.task)
    folder = args.run_dir.resolve()
    sys.path.insert(0, str(folder))  # the program's and the judge's helpers, laid out beside them
    try:
        result, _ = optimize(task, folder, args.seed, args.metric_calls, {"base_url": args.base_url,
                                                                          "model": args.model})
    except GepaError as exc:
        print(f"gepa_side: {exc}", file=sys.stderr)
        return 2
    args.out.write_text(json.dumps(harness_result(result, task.target), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
