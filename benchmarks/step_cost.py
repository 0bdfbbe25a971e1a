"""Where an LLM step's time goes: one row per stored step of a run, from the server's own timings.

Each row splits the step's wall time into the server's prompt evaluation, its generation and the rest
(program runs, autotrace's own work), and says how many of the step's prompt tokens the server took from
its prefix cache; ``reuse_saved_seconds`` is what the reused tokens would have cost at the step's own
prompt-evaluation rate (an estimate: reuse itself costs next to nothing). Usage::

    python -m benchmarks --sections quality --tasks roman --sides autotrace --seeds 1 --steps 3 --no-record
    python -m benchmarks.step_cost .bench/results/STAMP/runs/roman-seed0-autotrace --arm after \\
        --command "the first command" [--out benchmarks/results/step_cost.jsonl]

A run made without the server's timings (before they were recorded) has rows with no cache share.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from autotrace.records import StepRecord
from benchmarks.harness import stored_steps
from benchmarks.rows import RESULTS, RowError, _accepts, append, head_commit

OUT = RESULTS / "step_cost.jsonl"


@dataclass(frozen=True)
class StepCostRow:
    """One step of one run: its prompt tokens (evaluated, reused from the server's cache) and its time."""

    commit: str  # the code that made the run
    arm: str  # what differs between the runs compared ("before", "after")
    task: str
    seed: int
    model: str
    step: int
    prompt_tokens: int
    evaluated: int  # prompt tokens the server computed
    reused: int  # prompt tokens the server took from its cache
    cache_share: float | None  # reused / (evaluated + reused); None: the server did not say
    generated: int
    step_seconds: float  # the step's wall time
    prompt_seconds: float  # the server's prompt evaluation
    generation_seconds: float  # the server's generation
    reuse_saved_seconds: float | None  # the reused tokens at this step's prompt rate (an estimate)
    other_seconds: float  # the rest of the step: program runs, autotrace's own work
    command: str
    date: str  # UTC, "YYYY-MM-DD HH:MM"
    note: str = ""


def rows_of(steps: Sequence[StepRecord], *, commit: str, arm: str, task: str, seed: int, model: str,
            command: str, note: str = "") -> list[StepCostRow]:
    """A row per step that asked the model (step 0, the initial values, asks nothing)."""
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    rows = []
    for record in steps:
        if record.step == 0:
            continue
        t = record.timings
        rate = t.prompt_seconds / t.evaluated if t.evaluated and t.prompt_seconds else None
        rows.append(StepCostRow(
            commit=commit, arm=arm, task=task, seed=seed, model=model, step=record.step,
            prompt_tokens=record.prompt_tokens, evaluated=t.evaluated, reused=t.reused,
            cache_share=None if t.cache_share is None else round(t.cache_share, 4), generated=t.generated,
            step_seconds=round(record.seconds, 2), prompt_seconds=round(t.prompt_seconds, 2),
            generation_seconds=round(t.generation_seconds, 2),
            reuse_saved_seconds=None if rate is None else round(t.reused * rate, 2),
            other_seconds=round(max(record.seconds - t.prompt_seconds - t.generation_seconds, 0.0), 2),
            command=command, date=date, note=note))
    return rows


def decode(line: str, where: str = "row") -> StepCostRow:
    """The row in one JSON line; raises RowError naming a field that is missing, unknown or mistyped."""
    data = json.loads(line)
    hints = typing.get_type_hints(StepCostRow)
    names = {f.name for f in fields(StepCostRow)}
    if set(data) - names or {f.name for f in fields(StepCostRow) if f.name != "note"} - set(data):
        raise RowError(f"{where}: fields differ from StepCostRow's")
    for name, value in data.items():
        if not _accepts(hints[name], value):
            raise RowError(f"{where}: {name}={value!r} is not {hints[name]}")
    return StepCostRow(**data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.step_cost", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a harness run's folder (.bench/results/STAMP/runs/TASK-seedN-...)")
    parser.add_argument("--arm", required=True)
    parser.add_argument("--command", required=True, help="the command that made the run")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct-q4_k_m", help="the model the run asked")
    parser.add_argument("--task", help="the task (default: from the run folder's name)")
    parser.add_argument("--seed", type=int, help="the seed (as --task)")
    parser.add_argument("--note", default="")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    # the harness's run folder is named TASK-seedN-SIDE...
    task, _, rest = args.run_dir.name.partition("-seed")
    seed_text = rest.split("-", 1)[0]
    if args.task is None and not (task and seed_text.isdigit()):
        print(f"error: {args.run_dir}: not named TASK-seedN-...; give --task and --seed", file=sys.stderr)
        return 2
    root = args.run_dir.resolve().parents[3]  # <worktree>/.bench/results/STAMP/runs/RUN
    seed = args.seed if args.seed is not None else int(seed_text)
    rows = rows_of(stored_steps(args.run_dir), commit=head_commit(root), arm=args.arm,
                   task=args.task or task, seed=seed, model=args.model,
                   command=args.command, note=args.note)
    append(rows, args.out)  # type: ignore[arg-type]  # append writes any dataclass row as JSON
    for row in rows:
        print(json.dumps(asdict(row)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
