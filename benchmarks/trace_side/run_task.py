"""Optimize one benchmark task with trace-opt's OptoPrime (run with the trace-opt venv's python).

    python run_task.py RUN_DIR --steps N --target S --model NAME --base-url URL --seed S --out result.json

RUN_DIR holds ``program_trace.py`` (trainable ``node``/``bundle``, generated from the task's program by
``benchmarks/tasks/trace_form.py``), ``judge.py`` and its helpers. The loop is the one in trace-opt's own examples: run the program (every step: a graph is backwarded once),
judge ``output.data``, then ``zero_feedback()`` / ``backward(output, feedback)`` / ``step()``; an ``ExecutionError`` gives its
exception node and its message as the output and feedback. The LLM is LiteLLM's ``openai/<model>`` at
``--base-url``, greedy (temperature 0) with ``seed``; each reply's token usage is recorded.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch at import


def litellm_model(args: argparse.Namespace, usage: list):
    """trace-opt's model: LiteLLM's ``openai/<model>`` at ``--base-url``, greedy with ``--seed``; each reply's
    token usage and seconds appended to ``usage``."""
    import litellm
    from opto.utils.llm import AbstractModel

    def factory():
        def complete(*a, **kw):
            started = time.perf_counter()
            reply = litellm.completion(*a, model=f"openai/{args.model}", api_base=args.base_url, api_key="local",
                                       temperature=0, seed=args.seed, timeout=args.llm_timeout, **kw)
            usage.append({"prompt_tokens": reply.usage.prompt_tokens, "completion_tokens": reply.usage.completion_tokens,
                          "seconds": time.perf_counter() - started})
            return reply
        return complete

    return AbstractModel(factory)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout("the evaluation ran longer than the time limit")


def evaluate(program, judge, timeout: float):
    """(output node or None, score or None, feedback text)."""
    from opto.trace import ExecutionError

    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        try:
            output = program.main()
        except ExecutionError as exc:
            node = exc.exception_node
            return node, None, str(node.data)
        try:
            score, message = judge.feedback(output.data)
        except Exception as exc:  # the judge could not read this output
            return output, None, f"the output {output.data!r} could not be judged: {type(exc).__name__}: {exc}"
        return output, float(score), message
    except _Timeout as exc:
        return None, None, str(exc)
    except Exception as exc:  # raised outside any bundled call: no node to send feedback to
        return None, None, "".join(traceback.format_exception_only(type(exc), exc)).strip()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def arguments(timeout: float, timeout_help: str, llm_timeout: float) -> argparse.Namespace:
    """The command line the harness gives a trace-opt script (this one and ``run_prompt.py``)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--target", type=float, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument("--memory-size", type=int, default=0, help="OptoPrime's memory_size (its default: 0)")
    parser.add_argument("--timeout", type=float, default=timeout, help=timeout_help)
    parser.add_argument("--llm-timeout", type=float, default=llm_timeout)
    parser.add_argument("--out", type=Path, required=True)
    return parser.parse_args()


def set_up(args: argparse.Namespace) -> tuple[Any, Any, Any, list]:
    """In the run's folder: its trace-opt program and judge imported, OptoPrime over the program's
    parameters, and the list each of its model calls' usage is appended to."""
    os.chdir(args.run_dir)
    sys.path.insert(0, str(args.run_dir.resolve()))
    from opto.optimizers import OptoPrime

    program = importlib.import_module("program_trace")
    judge = importlib.import_module("judge")
    usage: list = []
    optimizer = OptoPrime(program.parameters(), llm=litellm_model(args, usage), max_tokens=args.max_tokens,
                          memory_size=args.memory_size)
    return program, judge, optimizer, usage


def optimizer_step(optimizer, output, feedback: str, values: Callable[[], dict[str, Any]]) -> str:
    """One OptoPrime step, ``feedback`` sent back from ``output``: which values it changed, or why none."""
    before = values()
    try:
        optimizer.zero_feedback()
        optimizer.backward(output, feedback)
        optimizer.step()
    except Exception as exc:  # e.g. the prompt does not fit the server's context
        return f"step failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
    after = values()
    return "changed " + ", ".join(k for k in after if after[k] != before[k]) if after != before \
        else "no change proposed"


def step_response(optimizer, asked: bool) -> str:
    """The model's response in the step just taken, when the step ``asked`` the model."""
    return str(optimizer.log[-1].get("response", ""))[:3000] if optimizer.log and asked else ""


def main() -> int:
    args = arguments(60.0, "seconds one evaluation may take", 600.0)
    started = time.perf_counter()
    program, judge, optimizer, usage = set_up(args)

    def values():
        return {p.py_name: p.data for p in program.parameters()}

    steps = []
    output, score, message = evaluate(program, judge, args.timeout)
    steps.append({"step": 0, "score": score, "prompt_tokens": 0, "completion_tokens": 0, "seconds": 0.0,
                  "note": "initial values", "feedback": message[:2000]})
    best = score
    solved_step = 0 if score is not None and score >= args.target else None
    for step in range(1, args.steps + 1):
        if solved_step is not None:
            break
        t0 = time.perf_counter()
        calls_before = len(usage)
        note = "no output node to send feedback to" if output is None else \
            optimizer_step(optimizer, output, message, values)
        response = step_response(optimizer, len(usage) > calls_before)
        # Run forward again every step, as trace-opt's examples do: a graph can be backwarded only
        # once, so even unchanged values need a fresh run to send the next step's feedback through.
        output, score, message = evaluate(program, judge, args.timeout)
        calls = usage[calls_before:]
        steps.append({"step": step, "score": score, "note": note, "feedback": message[:2000],
                      "prompt_tokens": sum(c["prompt_tokens"] for c in calls),
                      "completion_tokens": sum(c["completion_tokens"] for c in calls),
                      "llm_calls": len(calls), "seconds": time.perf_counter() - t0, "response": response,
                      "values": {k: str(v)[:500] for k, v in values().items()}})
        if score is not None and (best is None or score > best):
            best = score
        if score is not None and score >= args.target:
            solved_step = step
    result = {
        "side": "trace-opt", "solved": solved_step is not None, "solved_step": solved_step, "best_score": best,
        "prompt_tokens": sum(c["prompt_tokens"] for c in usage),
        "completion_tokens": sum(c["completion_tokens"] for c in usage),
        "llm_calls": len(usage), "wall_seconds": time.perf_counter() - started, "steps": steps,
        "evaluations": len(steps) + 1,  # the initial forward run and one per step
        "final_values": {k: str(v)[:2000] for k, v in values().items()},
    }
    args.out.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
