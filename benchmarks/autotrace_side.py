"""Optimize one benchmark task with autotrace through its public Python entry point,
``autotrace.runners.optimize.optimize`` (what ``autotrace optimize`` runs), in a process of its own.

    python -m benchmarks.autotrace_side RUN_DIR --steps N --target S --model NAME --base-url URL --seed S --out result.json

The same run by the CLI would be ``autotrace optimize program.py --feedback judge.py --steps N --target S
--model NAME --base-url URL --optimizer optoprime --no-cache [--candidates N] [--resample N] [--holdout F]``; the Python
entry point is used only because it also takes the seed and max_tokens the trace-opt side is given.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from autotrace.config import CODE_FORMATS, DEFAULTS, OPTIMIZER_NAMES
from autotrace.judge import JudgeError
from autotrace.llm.client import LLMConfig
from autotrace.runners.optimize import Settings, StepReport, optimize, state_dir
from autotrace.runners.sandbox import Limits
from autotrace.store import RunStore


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--target", type=float, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument("--context-tokens", type=int, default=8192)
    parser.add_argument("--optimizer", choices=OPTIMIZER_NAMES, default=DEFAULTS["optimizer"])
    parser.add_argument("--timeout", type=float, default=DEFAULTS["timeout"], help="seconds one evaluation may take")
    parser.add_argument("--code-format", choices=CODE_FORMATS, default=None,
                        help="how a (code) variable's new value is asked for (default: Settings.code_format's)")
    parser.add_argument("--candidates", type=int, default=1, help="answers per step (Settings.candidates)")
    parser.add_argument("--resample", type=int, default=0, help="sampled answers after one that gave nothing new "
                        "(Settings.resample)")
    parser.add_argument("--holdout", type=float, default=0.0,
                        help="fraction of the judge's examples held out (Settings.holdout)")
    parser.add_argument("--program", default="program.py", help="the program's file in RUN_DIR")
    parser.add_argument("--judge", default="judge.py", help="the judge's file in RUN_DIR")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    run_dir = args.run_dir.resolve()
    llm = LLMConfig(model=args.model, base_url=args.base_url, api_key="local", temperature=0.0, seed=args.seed,
                    max_tokens=args.max_tokens, context_tokens=args.context_tokens, timeout=600.0)
    settings = Settings(target=run_dir / args.program, judge=run_dir / args.judge, steps=args.steps,
                        target_score=args.target, optimizer=args.optimizer, llm=llm, cache=False,
                        limits=Limits(timeout=args.timeout), candidates=args.candidates, holdout=args.holdout,
                        resample=args.resample)
    if args.code_format:
        settings.code_format = args.code_format
    reports: list[StepReport] = []
    started = time.perf_counter()
    error = None
    result = None
    try:
        result = optimize(settings, progress=reports.append)
    except (JudgeError, ValueError, RuntimeError) as exc:  # recorded, not hidden: the report shows it
        error = f"{type(exc).__name__}: {exc}"
    wall = time.perf_counter() - started

    steps = []
    store = RunStore(state_dir(run_dir) / "autotrace.db")
    try:
        runs = store.list_runs()
        records = store.steps(runs[0].id) if runs else []
    finally:
        store.close()
    seconds = {r.step: r.seconds for r in reports}
    for record in records:
        steps.append({"step": record.step, "score": record.score, "note": record.note,
                      "feedback": record.feedback[:2000], "prompt_tokens": record.prompt_tokens,
                      "completion_tokens": record.completion_tokens,
                      "seconds": seconds.get(record.step, record.seconds),
                      "values": dict(record.values), "response": record.response[:3000],
                      "asked": bool(record.prompt),
                      "calls": (1 if record.prompt else 0) + len(record.other_answers)
                      + (1 if record.merge is not None and record.merge.response else 0)})
    solved_step = next((s["step"] for s in steps if s["score"] is not None and s["score"] >= args.target), None)
    scores = [s["score"] for s in steps if s["score"] is not None]
    out = {
        "side": "autotrace", "solved": solved_step is not None, "solved_step": solved_step,
        "best_score": max(scores) if scores else None,
        "prompt_tokens": sum(s["prompt_tokens"] for s in steps),
        "completion_tokens": sum(s["completion_tokens"] for s in steps),
        "llm_calls": sum(s["calls"] for s in steps), "wall_seconds": wall, "steps": steps,
        "evaluations": result.evaluations if result else None,
        "final_values": result.best_values if result else {}, "error": error,
        "stopped": result.stopped if result else "", "candidates": args.candidates, "resample": args.resample, "holdout": args.holdout,
    }
    args.out.write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
