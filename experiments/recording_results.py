"""What recording a call that returns a new container costs, on the hot path and in the DAG built after: 2,000
recorded calls each returning a new 10x10 table of strings, then a small list of two numbers, CPU time, the
minimum of ``--rounds`` runs. Run it with one checkout's interpreter, then another's, to compare recorders.

    .venv/bin/python -m experiments.recording_results [--rounds 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

SOURCE = """
def table(x):
    return [[str(x)] * 10 for _ in range(10)]


def small(x):
    return [x, x + 1.5]


def loop(f):
    for i in range(2000):
        f(i)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from instrumented import program

    from autotrace.recorder import Recorder, RunOutcome, build_graph

    with tempfile.TemporaryDirectory() as folder, program(Path(folder), {"m.py": SOURCE}) as p:
        module = p.module("m")
        for func in (module.table, module.small):
            recording, dag = [], []
            for _ in range(args.rounds):
                recorder = Recorder()
                started = time.process_time()
                with p.runtime.recording(recorder):
                    module.loop(func)
                recorded = time.process_time()
                build_graph(recorder, [], RunOutcome(None))
                recording.append(recorded - started)
                dag.append(time.process_time() - recorded)
            print(f"{func.__name__}: recording {min(recording) * 1000:.1f} ms, DAG {min(dag) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
