"""Optimize one prompt task's system prompt with trace-opt's OptoPrime (run with the trace-opt venv's python).

    python run_prompt.py RUN_DIR --steps N --target S --model NAME --base-url URL --seed S --out result.json

RUN_DIR holds ``program_trace.py`` (generated from the task's app by ``benchmarks/tasks/trace_form.py``: the
marked prompt a trainable ``node``, the model call and what is done with its reply ``bundle``\\ s) and
``judge.py`` (``examples()``, ``feedback(output, example)``). The program's own ``OpenAI()`` calls go where
the environment's ``OPENAI_BASE_URL`` says (the caller's recording proxy); the optimizer's go to
``--base-url`` through LiteLLM (:func:`run_task.litellm_model`), so the two are counted apart.

A step is trace-opt's minibatch update over the judge's examples: the program runs once on every example,
the outputs are joined into one node and the judge's messages into one feedback text, each line under
the example's ID (as trace-opt's own minibatch algorithm does), then ``zero_feedback()`` /
``backward(batch, feedback)`` / ``step()``. The score is the mean over the examples; an example whose run
raised gives its exception node and message and scores 0. With ``--steps N`` the program runs
``(N + 1) x examples`` times (the initial run, then one after each step), the budget autotrace's and
GEPA's runs of the task get. The best prompt seen (the first at the best score) is the result.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch at import

from run_task import arguments, optimizer_step, set_up, step_response  # noqa: E402 - the harness script beside this one


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout("the program ran longer than the time limit")


def run_all(program, judge, examples: list[Any], timeout: float) -> tuple[Any, str, float, list[float]]:
    """Every example run once: (the joined output node, the joined feedback, the mean score, the scores)."""
    from opto.trace import ExecutionError, bundle

    @bundle()
    def batch(*outputs):
        """The outputs of the program on each example, one line each, under the example's ID."""
        return "".join(f"ID [{i}]: {output}\n" for i, output in enumerate(outputs))

    outputs, messages, scores = [], [], []
    signal.signal(signal.SIGALRM, _alarm)
    for example in examples:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            output = program.main(example)
            score, message = judge.feedback(output.data, example)
        except ExecutionError as exc:
            output, score, message = exc.exception_node, 0.0, str(exc.exception_node.data)
        except _Timeout as exc:
            raise SystemExit(f"example {example!r}: {exc}") from None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        outputs.append(output)
        messages.append(str(message))
        scores.append(float(score))
    feedback = "".join(f"ID [{i}]: {message}\n" for i, message in enumerate(messages))
    return batch(*outputs), feedback, sum(scores) / len(scores), scores


def main() -> int:
    args = arguments(900.0, "seconds one example's run may take", 900.0)
    started = time.perf_counter()
    program, judge, optimizer, usage = set_up(args)
    examples = list(judge.examples())

    def values() -> dict[str, Any]:
        return {p.py_name: p.data for p in program.parameters()}

    target, feedback, score, scores = run_all(program, judge, examples, args.timeout)
    steps = [{"step": 0, "score": score, "scores": scores, "prompt_tokens": 0, "completion_tokens": 0,
              "seconds": time.perf_counter() - started, "note": "initial values", "feedback": feedback[:2000],
              "values": {k: str(v)[:2000] for k, v in values().items()}}]
    best, best_values, solved_step = score, values(), (0 if score >= args.target else None)
    for step in range(1, args.steps + 1):
        if solved_step is not None:
            break
        t0 = time.perf_counter()
        calls_before = len(usage)
        note = optimizer_step(optimizer, target, feedback, values)
        after = values()
        response = step_response(optimizer, len(usage) > calls_before)
        target, feedback, score, scores = run_all(program, judge, examples, args.timeout)
        calls = usage[calls_before:]
        steps.append({"step": step, "score": score, "scores": scores, "note": note, "feedback": feedback[:2000],
                      "prompt_tokens": sum(c["prompt_tokens"] for c in calls),
                      "completion_tokens": sum(c["completion_tokens"] for c in calls), "llm_calls": len(calls),
                      "seconds": time.perf_counter() - t0, "response": response,
                      "values": {k: str(v)[:2000] for k, v in after.items()}})
        if score > best:
            best, best_values = score, after
        if score >= args.target:
            solved_step = step
    result = {
        "side": "trace-opt", "solved": solved_step is not None, "solved_step": solved_step,
        "before": steps[0]["score"], "best_score": best, "best_values": best_values,
        "final_values": values(), "examples": len(examples), "program_runs": len(steps) * len(examples),
        "prompt_tokens": sum(c["prompt_tokens"] for c in usage),
        "completion_tokens": sum(c["completion_tokens"] for c in usage),
        "llm_calls": len(usage), "wall_seconds": time.perf_counter() - started, "steps": steps,
    }
    args.out.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
