"""Cost of confining an evaluation: one evaluation of ``examples/fit_constants`` (its judge's examples,
recorded) run the way autotrace ran it before confinement (the worker alone in a child process, no
policy), confined with Landlock (the default where the kernel has it), and in the private-copy fallback
(``AUTOTRACE_CONFINE=copy``), alternating, in one run.

    python experiments/confinement.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from autotrace.project import Project
from autotrace.runners.confine import MODE_ENV, mechanism
from autotrace.runners.program_runs import make_job
from autotrace.runners.outcome import WorkerOutcome, outcome_from_json
from autotrace.runners.sandbox import Limits, evaluate, run_limited
from autotrace.runners.worker import Job

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fit_constants"


def unconfined(job: Job, limits: Limits) -> WorkerOutcome:
    """The evaluation as it was before confinement: the worker in a limited child, nothing more."""
    with tempfile.TemporaryDirectory(prefix="autotrace-eval-") as tmp:
        folder = Path(tmp)
        job_path, result_path = folder / "job.json", folder / "result.json"
        job_path.write_text(job.to_json(), encoding="utf-8")
        run_limited([sys.executable, "-m", "autotrace.runners.worker", str(job_path), str(result_path)],
                    limits, folder / "output.log")
        return outcome_from_json(result_path.read_text(encoding="utf-8"))


def confined(job: Job, limits: Limits, mode: str | None) -> WorkerOutcome:
    if mode:
        os.environ[MODE_ENV] = mode
    try:
        return evaluate(job, limits)
    finally:
        os.environ.pop(MODE_ENV, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run it: the unconfined worker caches too
    limits = Limits()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fit_constants"
        shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", ".autotrace"))
        project = Project.load(root / "main.py")
        job = make_job(project, root / "main.py", "main", root / "judge.py", {})
        ways = {"before (no confinement)": lambda: unconfined(job, limits),
                f"confined ({mechanism()})": lambda: confined(job, limits, None),
                "confined (private copy)": lambda: confined(job, limits, "copy")}
        expected = None
        for way in ways.values():  # warm the caches once each; every way must give the same scores
            scores = [e.score for e in way().examples]
            assert expected is None or scores == expected, (scores, expected)
            expected = scores
        wall: dict[str, list[float]] = {name: [] for name in ways}
        cpu: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(rounds):
            for name, way in ways.items():
                start, used = time.perf_counter(), _cpu()
                way()
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(_cpu() - used)
    print(f"one evaluation of examples/fit_constants ({len(expected)} example, recorded), {rounds} rounds "
          f"alternating; CPU = this process and its children, user + system (steadier than wall time on a "
          f"loaded machine)")
    base_wall, base_cpu = (statistics.median(d["before (no confinement)"]) for d in (wall, cpu))
    for name in ways:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"{name:<26} wall median {w * 1000:6.1f} ms (ratio {w / base_wall:.3f})   "
              f"CPU median {c * 1000:6.1f} ms (ratio {c / base_cpu:.3f})")


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
