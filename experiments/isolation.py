"""Cost of process isolation per evaluation: the same trivial program evaluated in a child process
(the default) and in-process (``--in-process``), alternating, in one run.

    python experiments/isolation.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from autotrace.project import Project
from autotrace.runners.program_runs import make_job, run_evaluation
from autotrace.runners.sandbox import Limits

PROGRAM = "RATE = 0.5  # autotrace: param\n\ndef price(q):\n    return q * RATE\n\ndef main():\n    return price(4)\n"
JUDGE = "def feedback(output):\n    return -abs(output - 3)\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text("")
        (root / "app.py").write_text(PROGRAM)
        (root / "judge.py").write_text(JUDGE)
        project = Project.load(root / "app.py")
        job = make_job(project, root / "app.py", "main", root / "judge.py", {})
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(rounds):
            for isolated in (True, False):
                start = time.perf_counter()
                assert run_evaluation(job, Limits(), isolated=isolated).score == -1.0
                times[isolated].append(time.perf_counter() - start)
    child, here = statistics.median(times[True]), statistics.median(times[False])
    print(f"evaluations: {rounds} each, alternating")
    print(f"child process (default): median {child * 1000:.0f} ms")
    print(f"in-process:              median {here * 1000:.0f} ms")
    print(f"isolation overhead:      {(child - here) * 1000:.0f} ms per evaluation ({child / here:.1f}x)")


if __name__ == "__main__":
    main()
