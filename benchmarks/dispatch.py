"""The tasks the harness does not run, each handed to its kind's runner module by ``python -m benchmarks``.

* ``runner = "prompt"`` (an OpenAI app's marked prompt): :mod:`benchmarks.prompt_proposers`, sides
  autotrace (its CLI) and gepa, and :mod:`benchmarks.trace_prompt_side`, side trace (trace-opt's OptoPrime);
  one typed row per run in benchmarks/results/quality.jsonl.
* ``runner = "cli"`` (``autotrace optimize`` in a copy, the multi-parameter tasks):
  :mod:`benchmarks.multi_param`, side autotrace; it writes its lines and their typed rows itself.
* ``runner = "paper"`` (a paper experiment): :mod:`benchmarks.paper.run`, sides autotrace, trace
  (trace-opt) and baseline (the experiment's classic methods); its lines, with the per-step curves,
  go to benchmarks/results/paper.jsonl, which docs/paper.md is made from (``benchmarks.paper.report``).
  Their scores are the experiments' own measures (an error, a share hit, a loss), not a judge's
  solved/unsolved, so they are not rows of the summary's task tables.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import rows
from .tasks import Runner, Task

#: The file beside the rows a prompt task's run's whole result is appended to (its prompts, each step's answer).
DETAILS = "prompt_proposers.jsonl"
#: The registry's side names as the paper runner spells them.
PAPER_SIDES = {"autotrace": "autotrace", "trace": "trace-opt", "baseline": "baseline"}


def sides_of(task: Task, asked: Sequence[str] | None) -> list[str]:
    """The sides to run on ``task``: the ones asked that it has (all of its own when none were asked)."""
    return [side for side in task.sides if asked is None or side in asked]


def run(task: Task, args: argparse.Namespace, seeds: Sequence[int], steps: int | None, server: dict[str, Any] | None,
        say: Callable[[str], None]) -> int:
    """Run ``task`` (not a harness task) on its sides; rows go where its runner puts them. The exit code."""
    sides = sides_of(task, args.sides)
    if not sides:
        say(f"{task.name}: none of the sides asked ({', '.join(args.sides)}) is one of its own "
            f"({', '.join(task.sides)})")
        return 0
    if task.runner == Runner.PROMPT:
        return _prompt(task, args, sides, seeds, steps, server, say)
    if task.runner == Runner.CLI:
        from . import multi_param

        status = 0
        for seed in seeds:
            argv = ["--arms", "after", "--tasks", task.name, "--steps", str(steps or task.steps),
                    "--timeout", str(args.run_timeout), "--seed", str(seed)]
            argv += ["--base-url", server["base_url"], "--model", server["model"]] if server else []
            argv += ["--record", str(args.record)] if args.record is not None else ["--no-record"]
            status = multi_param.main(argv) or status
        return status
    if task.runner == Runner.PAPER:
        from .paper import run as paper_run

        argv = ["--experiment", task.name, "--seeds", ",".join(map(str, seeds)), *(["--quick"] if args.quick else []),
                *(["--steps", str(steps)] if steps else [])]
        argv += [arg for side in sides for arg in ("--side", PAPER_SIDES[side])]
        argv += ["--base-url", server["base_url"], "--model", server["model"]] if server else []
        return paper_run.main(argv)
    raise ValueError(f"{task.name}: runner {task.runner!r} is the harness's")


def _prompt(task: Task, args: argparse.Namespace, sides: list[str], seeds: Sequence[int], steps: int | None,
            server: dict[str, Any] | None, say: Callable[[str], None]) -> int:
    from . import prompt_proposers

    if server is None:
        raise ValueError(f"{task.name}: a prompt task needs a model server")
    for side in sides:
        for seed in seeds:
            calls = (args.metric_calls or None) if side == "gepa" else None
            load = os.getloadavg()[0]
            say(f"{task.name} {side} seed {seed} ...")
            command = ["python", "-m", "benchmarks", "--sections", "quality", "--tasks", task.name, "--seeds", "1",
                       "--first-seed", str(seed), "--sides", side]
            command += ["--steps", str(steps)] if steps and side in ("autotrace", "trace") else []
            date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
            if side == "trace":
                from . import trace_prompt_side

                result = trace_prompt_side.run(task, seed, server, steps=steps, timeout=args.run_timeout)
                say(f"  {trace_prompt_side.progress(result)}")
                row = trace_prompt_side.row(task, result, commit=rows.head_commit(), model=server["model"], load=load,
                                            command=shlex.join(command), date=date)
            else:
                result = prompt_proposers.run_task(task, side, seed, server, steps=steps, metric_calls=calls)
                command += ["--metric-calls", str(result["metric_calls"])] if side == "gepa" else []
                row = prompt_proposers.row(task, result, commit=rows.head_commit(), model=server["model"], load=load,
                                           command=shlex.join(command), date=date)
            say(f"  solved={row.solved} visible={row.visible_score} hidden={row.hidden_score} "
                f"program runs={row.program_runs} tokens: optimizer {row.optimizer_tokens}, program "
                f"{row.program_tokens}{' note: ' + row.note if row.note else ''}")
            if args.record is not None:
                rows.append([row], Path(args.record))
                details = Path(args.record).with_name(DETAILS)
                with details.open("a") as handle:  # the prompts, each step's answer, the hidden cases failed
                    handle.write(json.dumps({**result, "side": result.get("side", side), "commit": row.commit,
                                             "when": date + " UTC"}, default=str) + "\n")
    return 0


def needs_server(chosen: Sequence[Task], asked: Sequence[str] | None) -> bool:
    """Whether any chosen task's sides call a model (a paper experiment's baselines alone do not)."""
    return any(side != "baseline" for task in chosen for side in sides_of(task, asked))

