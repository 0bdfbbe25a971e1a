"""Program runs per second by each way of evaluating, side by side in one run: a bare interpreter start of
the program and its judge (``python -c "import program, judge; judge.feedback(program.main())"``, one at
a time and two at once: the floor an evaluation is measured against), a freshly spawned worker per run
(what autotrace did before the fork server), a fork of the warm server one at a time, and a measured
step's batch (a new value of the first parameter per run, evaluated as the measured search does: on the
fork server with one job per core, without the recorder, then one recorded run of the point the step
keeps, whose cost counts against the batch's runs); then ``--tests`` candidates per minute one at a time
and two at once.
Besides wall-clock rates, each way's runs per CPU second (this process, its ended children, the fork
servers and their forked children): on a loaded machine the wall clock measures the load as much as
the way.

    python -m benchmarks.fork_speed [--tasks linear fahrenheit ...] [--runs 12] [--rounds 3] [--tests-runs 4]
        [--out benchmarks/results/fork_speed.jsonl]

Each task (a benchmark task's program and judge, seed 0, laid out as the quality section does) is
evaluated ``--runs`` times per way and round; the ways alternate round by round, so a change in the
machine's load reaches all of them alike. The fork server's start (once per optimization run) is timed
apart. The ``--tests`` part evaluates examples/pytest_project's tests (the optimization's initial
values, each run a fresh pytest process: the fork server does not cover ``--tests``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from autotrace.project import Project
from autotrace.runners.executor import Executor, default_jobs
from autotrace.runners.program_runs import evaluation_of, make_job
from autotrace.runners.sandbox import Limits, evaluate
from autotrace.runners.worker import Job

from .harness import ROOT
from .tasks import get as find_task

NUMERIC = ("linear", "fahrenheit", "rectangle", "budget", "ranking", "savings_sim")
WAYS = ("bare", "bare, 2 at once", "spawn", "fork", "fork, --jobs 2", "measured step")
#: What a bare interpreter start runs: the program's entry and the judge, nothing of autotrace.
BARE = "import program, judge; judge.feedback(program.main())"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(NUMERIC))
    parser.add_argument("--runs", type=int, default=12, help="program runs per way, task and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tests-runs", type=int, default=4, help="--tests candidates per way and round (0: skip)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/fork_speed.jsonl"),
                        help="one JSON line per task is appended here")
    parser.add_argument("--label", default="", help="what the code measured is (a record's 'label')")
    args = parser.parse_args()
    # As the quality section runs them: the rewritten-bytecode cache on, seed 0.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["BENCH_SEED"] = "0"
    limits = Limits(timeout=120)
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.1f}' for x in load)}")
    print(f"program runs per second ({args.runs} runs per way and round, {args.rounds} rounds, median of rounds)\n")
    print(f"| task | {' | '.join(WAYS)} | fork / bare | measured step / bare | server start |")
    print("|---|" + "---|" * (len(WAYS) + 3))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="autotrace-fork-speed-") as tmp:
        for name in args.tasks:
            job = _job(name, Path(tmp) / name)
            rates, per_cpu, start = _rates(job, Path(tmp) / name, limits, args.runs, args.rounds)
            bare = rates["bare"]
            print(f"| {name} | " + " | ".join(f"{rates[w]:.1f}" for w in WAYS)
                  + f" | {rates['fork'] / bare:.2f}x | {rates['measured step'] / bare:.2f}x | {start:.2f} s |")
            print(f"| {name}, runs per CPU second | " + " | ".join(f"{per_cpu[w]:.1f}" for w in WAYS)
                  + f" | {per_cpu['fork'] / per_cpu['bare']:.2f}x | {per_cpu['measured step'] / per_cpu['bare']:.2f}x"
                  " | |")
            record = {"benchmark": "fork_speed", "commit": commit, "label": args.label, "task": name, "runs": args.runs,
                      "rounds": args.rounds, "jobs": default_jobs(), "runs_per_second": {w: round(rates[w], 2)
                                                                                      for w in WAYS},
                      "runs_per_cpu_second": {w: round(per_cpu[w], 2) for w in WAYS},
                      "fork_over_bare": round(rates["fork"] / bare, 2),
                      "measured_step_over_bare": round(rates["measured step"] / bare, 2),
                      "measured_step_over_bare_cpu": round(per_cpu["measured step"] / per_cpu["bare"], 2),
                      "server_start_seconds": round(start, 3), "load_at_start": round(load[0], 1),
                      "load_at_end": round(os.getloadavg()[0], 1)}
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with args.out.open("a", encoding="utf-8") as out:
                out.write(json.dumps(record) + "\n")
    if args.tests_runs:
        _tests_rates(limits, args.tests_runs, args.rounds)
    print(f"\nload average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def _job(name: str, folder: Path) -> Job:
    program = find_task(name).lay_out("autotrace", folder)
    project = Project.load(program)
    job = make_job(project, program, "main", folder / "judge.py", {})
    assert evaluation_of(evaluate(job, Limits(timeout=120))).problem is None  # and the bytecode cache is written
    return job


def _bare(folder: Path, at_once: int, runs: int) -> None:
    """``runs`` bare interpreter starts of the program and its judge, ``at_once`` at a time."""
    for first in range(0, runs, at_once):
        started = [subprocess.Popen([sys.executable, "-c", BARE], cwd=folder)
                   for _ in range(min(at_once, runs - first))]
        if any(proc.wait() != 0 for proc in started):
            raise RuntimeError(f"{BARE!r} failed in {folder}")


def _step_batch(job: Job, runs: int) -> list[Job]:
    """``runs`` jobs that differ as a measured search's points do: a new value of the first number each,
    run without the recorder as the search runs them (autotrace/engine/measured.py)."""
    for param in job.params:
        try:
            value = float(job.values[param.name])
        except ValueError:
            continue
        name = param.name
        return [replace(job, values={**job.values, name: repr(value + (i + 1) * 0.01)}, record=False)
                for i in range(runs)]
    return [replace(job, record=False)] * runs


def _measured_step(executor: Executor, batch: list[Job]) -> None:
    """A measured step's program runs: its points unrecorded, then the one it keeps recorded (its graphs
    for the stored step and the next prompt: ``Ledger.with_graphs``)."""
    executor.run_many(batch)
    executor.run_many([replace(batch[-1], record=True)])


def _cpu(servers: list[Executor]) -> float:
    """CPU seconds spent so far by this process, its ended children (spawned workers, bare starts) and the
    fork servers of ``servers`` with their reaped children (the forked evaluations)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + ended.ru_utime + ended.ru_stime
    for executor in servers:
        server = executor._server  # a benchmark may look inside: the server's pid
        if server is not None:
            with open(f"/proc/{server._proc.pid}/stat", "rb") as handle:
                ticks = handle.read().rsplit(b")", 1)[1].split()[11:15]  # utime stime cutime cstime
            total += sum(int(t) for t in ticks) / os.sysconf("SC_CLK_TCK")
    return total


def _rates(job: Job, folder: Path, limits: Limits, runs: int,
           rounds: int) -> tuple[dict[str, float], dict[str, float], float]:
    """Runs per second of each way and runs per CPU second (medians over rounds), and the fork server's start
    in seconds."""
    jobs = [job] * runs
    batch = _step_batch(job, runs)
    seconds: dict[str, list[float]] = {way: [] for way in WAYS}
    cpu: dict[str, list[float]] = {way: [] for way in WAYS}
    starts = []
    with Executor(limits, kind="fork", jobs=1) as one, Executor(limits, kind="fork", jobs=2) as two, \
            Executor(limits, kind="fork") as step:
        started = time.perf_counter()
        one.run_many([job])  # starts its server: once per optimization run
        starts.append(time.perf_counter() - started)
        two.run_many([job])
        step.run_many([job])
        ways: dict[str, Callable[[], object]] = {
            "bare": lambda: _bare(folder, 1, runs),
            "bare, 2 at once": lambda: _bare(folder, 2, runs),
            "spawn": lambda: [evaluate(j, limits) for j in jobs],
            "fork": lambda: one.run_many(jobs),
            "fork, --jobs 2": lambda: two.run_many(jobs),
            "measured step": lambda: _measured_step(step, batch),
        }
        servers = [one, two, step]
        for _ in range(rounds):
            for way, run in ways.items():
                used = _cpu(servers)
                started = time.perf_counter()
                run()
                seconds[way].append(time.perf_counter() - started)
                cpu[way].append(_cpu(servers) - used)
    return ({way: runs / statistics.median(times) for way, times in seconds.items()},
            {way: runs / max(statistics.median(times), 1e-9) for way, times in cpu.items()}, statistics.median(starts))


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
