"""Size and generation time of a run's HTML report: 10 steps of a small program, and of one whose graph
has 10,000 calls.

    python -m benchmarks.report_size [--steps 10] [--calls 10 10000] [--repeat 3]

Each step is a real evaluation (the worker records and judges the chain program of
``benchmarks/prompt_size.py`` with a different RATE), stored in a fresh run store with the fields the
loop writes (the model's part, reasoning and tokens, is a fixed text: no LLM is asked). The page is then
built from the store as ``autotrace report`` builds it, with Graphviz (when ``dot`` is installed) and
with the plain layout; the size of the step records it reads is printed beside it for scale.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from autotrace.project import Project
from autotrace.records import RunConfig, RunSubject, RunSummary, StepRecord
from autotrace.report.page import run_html
from autotrace.report.run import run_view
from autotrace.runners.program_runs import make_job, run_evaluation
from autotrace.runners.sandbox import Limits
from autotrace.store import RunStore

from .prompt_size import CHAIN, JUDGE

REASONING = "The output grows too slowly; RATE must be larger so that the chain reaches 2.0. " * 4


def build_run(folder: Path, calls: int, steps: int) -> tuple[RunStore, str]:
    (folder / "pyproject.toml").write_text("[tool.autotrace]\n")
    (folder / "chain.py").write_text(CHAIN.format(n=calls))
    (folder / "judge.py").write_text(JUDGE)
    project = Project.load(folder / "chain.py")
    store = RunStore(folder / ".autotrace" / "autotrace.db")
    run_id = f"bench-{calls}"
    store.create_run(run_id, RunConfig(RunSubject(target="chain.py", judge="judge.py"), optimizer="optoprime",
                                       model="none", params=("chain.RATE",), root=str(folder)))
    for step in range(steps + 1):
        rate = 1.001 + step * 0.0005
        job = make_job(project, folder / "chain.py", "main", folder / "judge.py", {"chain.RATE": rate})
        evaluation = run_evaluation(job, Limits(timeout=600))
        if evaluation.problem:
            raise RuntimeError(evaluation.problem)
        store.add_step(run_id, step, StepRecord(
            values={"chain.RATE": repr(rate)}, evaluation=evaluation,
            candidate={"chain.RATE": repr(rate)} if step else {}, reasoning=REASONING if step else "",
            prompt_tokens=1500 if step else 0, completion_tokens=80 if step else 0, seconds=10.0,
            note="changed chain.RATE" if step else "initial values", evaluated=(evaluation.score,),
        ))
    store.finish_run(run_id, "done", RunSummary())
    return store, run_id


def measure(calls: int, steps: int, repeat: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="autotrace-report-") as tmp:
        folder = Path(tmp)
        store, run_id = build_run(folder, calls, steps)
        run, records = store.get_run(run_id), store.steps(run_id)
        stored = sum(len(json.dumps(r.to_record()).encode()) for r in records)  # the step records, as JSON
        row: dict[str, object] = {"calls": calls, "steps": steps, "store_bytes": stored}
        engines = [("graphviz", True)] if shutil.which("dot") else []
        for engine, use_graphviz in [*engines, ("plain", False)]:
            best, reading = float("inf"), float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                records = store.steps(run_id)  # reading the store is part of 'autotrace report'
                read = time.perf_counter()
                page = run_html(run_view(run, records, folder, use_graphviz=use_graphviz))
                if time.perf_counter() - started < best:
                    best, reading = time.perf_counter() - started, read - started
            row[engine] = {"bytes": len(page.encode()), "seconds": best, "reading": reading}
        store.close()
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report_size", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--calls", type=int, nargs="+", default=[10, 10_000])
    parser.add_argument("--repeat", type=int, default=3, help="builds per figure; the fastest is reported")
    args = parser.parse_args(argv)
    print("| recorded calls per run | steps | step records (JSON) | report (Graphviz) | time (of it reading the store)"
          " | report (plain layout) | time (of it reading the store) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for calls in args.calls:
        row = measure(calls, args.steps, args.repeat)
        graphviz = row.get("graphviz") or {"bytes": 0, "seconds": float("nan")}
        plain = row["plain"]
        print(f"| {calls:,} | {args.steps} | {row['store_bytes'] / 1024:,.0f} KiB | "
              f"{graphviz['bytes'] / 1024:,.1f} KiB | {_time(graphviz)} | "
              f"{plain['bytes'] / 1024:,.1f} KiB | {_time(plain)} |", flush=True)


def _time(figures: dict) -> str:
    return f"{figures['seconds']:.2f} s ({figures.get('reading', float('nan')):.2f} s)"


if __name__ == "__main__":
    main()
