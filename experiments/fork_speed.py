"""Program runs per second by each way of evaluating, side by side in one run: a freshly spawned worker per
run (what autotrace did before the fork server), a fork of the warm server one at a time, and the fork
server with two jobs at once; then ``--tests`` candidates per minute one at a time and two at once.

    python -m experiments.fork_speed [--tasks linear fahrenheit ...] [--runs 12] [--rounds 3] [--tests-runs 4]

Each task (a benchmark task's program and judge, seed 0, laid out as the quality section does) is
evaluated ``--runs`` times per way and round; the ways alternate round by round, so a change in the
machine's load reaches all of them alike. The fork server's start (once per optimization run) is timed
apart. The ``--tests`` part evaluates examples/pytest_project's tests (the optimization's initial
values, each run a fresh pytest process: the fork server does not cover ``--tests``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from autotrace.project import Project
from autotrace.runners.evaluation import evaluation_of, make_job
from autotrace.runners.executor import Executor
from autotrace.runners.sandbox import Limits, evaluate
from autotrace.runners.worker import Job

from benchmarks.harness import ROOT
from benchmarks.tasks import get as find_task

NUMERIC = ("linear", "fahrenheit", "rectangle", "budget", "ranking", "savings_sim")
WAYS = ("spawn", "fork", "fork, --jobs 2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(NUMERIC))
    parser.add_argument("--runs", type=int, default=12, help="program runs per way, task and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tests-runs", type=int, default=4, help="--tests candidates per way and round (0: skip)")
    args = parser.parse_args()
    # As the quality section runs them: the rewritten-bytecode cache on, seed 0.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["BENCH_SEED"] = "0"
    limits = Limits(timeout=120)
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"program runs per second ({args.runs} runs per way and round, {args.rounds} rounds, median of rounds)\n")
    print(f"| task | {' | '.join(WAYS)} | fork / spawn | --jobs 2 / spawn | server start |")
    print("|---|" + "---|" * (len(WAYS) + 3))
    with tempfile.TemporaryDirectory(prefix="autotrace-fork-speed-") as tmp:
        for name in args.tasks:
            job = _job(name, Path(tmp) / name)
            rates, start = _rates(job, limits, args.runs, args.rounds)
            spawn = rates["spawn"]
            print(f"| {name} | " + " | ".join(f"{rates[w]:.1f}" for w in WAYS)
                  + f" | {rates['fork'] / spawn:.1f}x | {rates['fork, --jobs 2'] / spawn:.1f}x | {start:.2f} s |")
    if args.tests_runs:
        _tests_rates(limits, args.tests_runs, args.rounds)
    print(f"\nload average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def _job(name: str, folder: Path) -> Job:
    program = find_task(name).lay_out("autotrace", folder)
    project = Project.load(program)
    job = make_job(project, program, "main", folder / "judge.py", {})
    assert evaluation_of(evaluate(job, Limits(timeout=120))).problem is None  # and the bytecode cache is written
    return job


def _rates(job: Job, limits: Limits, runs: int, rounds: int) -> tuple[dict[str, float], float]:
    """Runs per second of each way (median over rounds), and the fork server's start in seconds."""
    jobs = [job] * runs
    seconds: dict[str, list[float]] = {way: [] for way in WAYS}
    starts = []
    with Executor(limits, kind="fork", jobs=1) as one, Executor(limits, kind="fork", jobs=2) as two:
        started = time.perf_counter()
        one.run_many([job])  # starts its server: once per optimization run
        starts.append(time.perf_counter() - started)
        two.run_many([job])
        ways: dict[str, Callable[[], object]] = {
            "spawn": lambda: [evaluate(j, limits) for j in jobs],
            "fork": lambda: one.run_many(jobs),
            "fork, --jobs 2": lambda: two.run_many(jobs),
        }
        for _ in range(rounds):
            for way, run in ways.items():
                started = time.perf_counter()
                run()
                seconds[way].append(time.perf_counter() - started)
    return {way: runs / statistics.median(times) for way, times in seconds.items()}, statistics.median(starts)


def _tests_rates(limits: Limits, runs: int, rounds: int) -> None:
    from autotrace.runners.tests_eval import SuiteEvaluator

    with tempfile.TemporaryDirectory(prefix="autotrace-fork-speed-tests-") as tmp:
        project_dir = Path(tmp) / "pytest_project"
        shutil.copytree(ROOT / "examples" / "pytest_project", project_dir,
                        ignore=shutil.ignore_patterns(".autotrace", "__pycache__", ".pytest_cache"))
        evaluator = SuiteEvaluator([project_dir / "tests"], limits=limits)
        project, _ = evaluator.prepare()
        values = {p.name: p.initial for p in project.params}
        # A changed value each time, or the evaluator answers the initial values from memory.
        numeric = next(p for p in project.params if type(p.initial) in (int, float))
        candidates = [{**values, numeric.name: numeric.initial + i + 1} for i in range(runs)]
        minutes: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(rounds):
            for jobs in minutes:
                with Executor(limits, kind="spawn", jobs=jobs) as executor:
                    started = time.perf_counter()
                    executor.map(lambda v: evaluator(project, v), candidates)
                    minutes[jobs].append((time.perf_counter() - started) / 60)
    rate = {jobs: runs / statistics.median(times) for jobs, times in minutes.items()}
    print(f"\n--tests candidates per minute on examples/pytest_project ({runs} per way and round, {rounds} rounds)\n")
    print("| one at a time | --jobs 2 | ratio |\n|---|---|---|")
    print(f"| {rate[1]:.1f} | {rate[2]:.1f} | {rate[2] / rate[1]:.1f}x |")


if __name__ == "__main__":
    main()
