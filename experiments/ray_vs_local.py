"""A judge with 1,000 labelled examples on a toy program: candidates evaluated per minute by the local fork
server with ``--jobs 2`` and by a local Ray cluster (``--executor ray``, ``ray.init()``), side by side in one
run. Needs ``pip install 'autotrace[ray]'``.

    python -m experiments.ray_vs_local [--candidates 8] [--examples 1000] [--rounds 2]

Each round evaluates the same ``--candidates`` sets of values through each executor (``run_many``: all at
once, results in order); both must give the same scores. The Ray cluster's start (once per optimization
run) is timed apart. On one machine Ray can only add overhead: this measures how much, the price of
being able to add nodes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from autotrace.project import Project
from autotrace.runners.program_runs import evaluation_of, make_job
from autotrace.runners.executor import Executor
from autotrace.runners.sandbox import Limits

PROGRAM = ("THRESHOLD = 0.5  # autotrace: param\n\n\n"
           "def classify(message):\n    length = sum(ord(c) for c in message) % 100 / 100\n"
           "    return 'long' if length > THRESHOLD else 'short'\n\n\n"
           "def main(message):\n    return classify(message)\n")
JUDGE = ("def examples():\n    return [f'message number {i} ' * (1 + i % 7) for i in range(COUNT)]\n\n\n"
         "def feedback(output, message):\n    wanted = 'long' if sum(ord(c) for c in message) % 100 >= 30 else 'short'\n"
         "    return (1.0 if output == wanted else 0.0), f'wanted {wanted}'\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    limits = Limits(timeout=300)
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="autotrace-ray-vs-local-") as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text("")
        (root / "app.py").write_text(PROGRAM)
        (root / "judge.py").write_text(JUDGE.replace("COUNT", str(args.examples)))
        project = Project.load(root / "app.py")
        jobs = [make_job(project, root / "app.py", "main", root / "judge.py", {"app.THRESHOLD": 0.1 * (i + 1)})
                for i in range(args.candidates)]
        minutes: dict[str, list[float]] = {"fork, --jobs 2": [], "ray (local cluster)": []}
        scores: dict[str, list[float | None]] = {}
        started = time.perf_counter()
        with Executor(limits, kind="fork", jobs=2) as local, Executor(limits, kind="ray", root=root) as ray:
            ray_start = time.perf_counter() - started
            local.run_many(jobs[:1])
            ray.run_many(jobs[:2])  # Ray starts its worker processes on first use
            for _ in range(args.rounds):
                for name, executor in (("fork, --jobs 2", local), ("ray (local cluster)", ray)):
                    began = time.perf_counter()
                    results = executor.run_many(jobs)
                    minutes[name].append((time.perf_counter() - began) / 60)
                    scores[name] = [evaluation_of(r).score for r in results]
    assert scores["fork, --jobs 2"] == scores["ray (local cluster)"], scores
    print(f"{args.candidates} candidates x {args.examples} examples per round, {args.rounds} rounds (median);"
          f" Ray cluster start: {ray_start:.1f} s\n")
    print("| executor | candidates per minute | seconds per candidate |\n|---|---|---|")
    for name, times in minutes.items():
        rate = args.candidates / statistics.median(times)
        print(f"| {name} | {rate:.1f} | {60 / rate:.2f} |")
    print(f"\nload average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
