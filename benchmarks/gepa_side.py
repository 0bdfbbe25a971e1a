"""GEPA's side of a prompt task: ``gepa.optimize`` with its default adapter on the task's one marked prompt.

The task's program is GEPA's task model (so its own post-processing and the task's judge score every
answer), the marked string constant is GEPA's one component (the system prompt), the judge's examples
are both its train and validation set, and the run's model is the reflection model. Its budget is a
number of metric calls (one program run on one example each), stated in the row's arm (``calls12``); by
default the program runs an autotrace run of the task's step budget would make with one evaluation a
step, ``(steps + 1) x examples``.

The program's own model calls go through autotrace's recording proxy (:mod:`autotrace.llm.proxy`), the
same meter that gives autotrace's ``show --json`` its program tokens, so both sides' ``program_tokens``
are counted alike; the reflection calls are the optimizer's tokens. The final prompt is then judged on
the task's hidden cases (through the same proxy, not counted as the run's).
"""

from __future__ import annotations

import runpy
import time
from typing import Any

from autotrace.llm.proxy import RecordingProxy, Upstream
from autotrace.runners.app_model import environment

from .tasks import Task

#: Reflection answers are sampled (GEPA asks for a new prompt); the program's own calls keep their settings.
REFLECTION_TEMPERATURE = 0.8
REFLECTION_MAX_TOKENS = 1024


class GepaError(RuntimeError):
    """A task GEPA's default adapter cannot run (one line)."""


def marked_prompt(task: Task) -> str:
    """The name of the task program's one marked string constant (GEPA's one component)."""
    import ast

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


def examples(task: Task) -> list[Any]:
    """The judge's examples (a prompt task's judge has ``examples()``)."""
    judge = runpy.run_path(str(task.folder / task.judge), run_name="gepa_judge")
    if "examples" not in judge:
        raise GepaError(f"{task.name}: its judge has no examples(), so GEPA has no dataset")
    return list(judge["examples"]())


def default_budget(task: Task) -> int:
    """Metric calls: the program runs of an autotrace run of the task's steps at one evaluation a step."""
    return (task.steps + 1) * len(examples(task))


def run(task: Task, seed: int, metric_calls: int, server: dict[str, Any]) -> dict[str, Any]:
    """One GEPA run on ``task``: best prompt, scores, metric calls made, the optimizer's and the program's
    tokens, seconds and the hidden cases passed."""
    import gepa
    from gepa.adapters.default_adapter.default_adapter import EvaluationResult
    from openai import OpenAI

    name = marked_prompt(task)
    items = examples(task)
    judge = runpy.run_path(str(task.folder / task.judge), run_name="gepa_judge")
    upstream = Upstream(server["base_url"], "local", server["model"])
    client = OpenAI(base_url=server["base_url"], api_key="local", max_retries=0, timeout=1800)
    reflection = {"prompt": 0, "completion": 0, "calls": 0}
    with RecordingProxy(lambda: upstream) as proxy, \
            environment({"OPENAI_BASE_URL": proxy.base_url, "OPENAI_API_KEY": "local"}):
        program = runpy.run_path(str(task.folder / task.program), run_name="gepa_task")
        space = program["main"].__globals__  # run_path returns a copy: main reads its own globals

        def task_lm(messages: Any) -> str:
            space[name] = messages[0]["content"]
            return str(program["main"](messages[-1]["content"]))

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
            score, message = judge["feedback"](response, data["additional_context"]["example"])
            return EvaluationResult(score=float(score), feedback=str(message), objective_scores=None)

        dataset = [{"input": str(example), "additional_context": {"example": example}, "answer": ""}
                   for example in items]
        started = time.perf_counter()
        callbacks: dict[str, Any] = {"evaluator": evaluator, "reflection_lm": reflection_lm}  # GEPA's protocols
        result = gepa.optimize(seed_candidate={name: str(program[name])}, trainset=dataset, valset=dataset,
                               task_lm=task_lm, **callbacks,
                               max_metric_calls=metric_calls, seed=seed, display_progress_bar=False, run_dir=None)
        seconds = time.perf_counter() - started
        spent = proxy.usage()
        chosen = result.best_candidate  # a dict of the components (a str only for optimize_anything's runs)
        best = chosen[name] if isinstance(chosen, dict) else str(chosen)
        hidden = _hidden(task, space, program["main"], name, best)
    scores = result.val_aggregate_scores
    return {"task": task.name, "side": "gepa", "seed": seed, "metric_calls": metric_calls,
            "metric_calls_made": result.total_metric_calls, "candidates": len(result.candidates),
            "before": scores[0], "best_score": max(scores), "solved": max(scores) >= task.target,
            "accepted": len(result.candidates) > 1, "prompt": best, "optimizer_tokens": reflection["prompt"]
            + reflection["completion"], "reflection_calls": reflection["calls"], "program_calls": spent.calls,
            "program_tokens": spent.prompt_tokens + spent.completion_tokens, "seconds": seconds, "hidden": hidden}


def _hidden(task: Task, space: dict[str, Any], main: Any, name: str, prompt: str) -> dict[str, Any] | None:
    """The program with ``prompt`` on the task's hidden cases (``CASES``: input -> the output wanted)."""
    cases = task.hidden_cases()
    if cases is None:
        return None
    space[name] = prompt
    outputs = {text: main(text) for text in cases}
    return {"passed": sum(outputs[t] == cases[t] for t in cases), "total": len(cases),
            "failing": {t: outputs[t] for t in cases if outputs[t] != cases[t]}}
