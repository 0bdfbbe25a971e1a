"""Did the model use the sensitivity estimate it was told to use? Counted from stored benchmark runs.

    python -m experiments.estimate_use .bench/results/*/

For every autotrace step that asked the model while its #Sensitivity section gave an estimated value,
this counts the answers that changed exactly that one parameter to exactly that value, and how many of
those raised the best score so far. It is the measurement behind the measured step
(``Settings.measured_step``): it reads the prompts and answers the run store keeps, so it needs runs
made with the measured step off (any run before it existed, or ``--no-measured-step``).
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
from pathlib import Path

from autotrace.records import StepRecord

ESTIMATE = re.compile(r"^- (\S+): estimated best value (\S+) ", re.MULTILINE)


def count(database: Path) -> tuple[int, int, int]:
    """(steps shown an estimate, answers that copied it, copies that raised the best score)."""
    shown = copied = improved = 0
    best: float | None = None
    run = None
    with sqlite3.connect(database) as conn:
        rows = conn.execute("select run_id, record from steps order by run_id, step").fetchall()
    for run_id, text in rows:
        if run_id != run:
            run, best = run_id, None
        record = StepRecord.from_record(json.loads(text))
        found = ESTIMATE.search(record.sensitivity)
        score = record.score
        if found and record.prompt:
            shown += 1
            name, estimate = found[1], float(found[2])
            if list(record.candidate) == [name] and _number(record.candidate[name]) == estimate:
                copied += 1
                improved += score is not None and best is not None and score > best
        if score is not None:
            best = score if best is None else max(best, score)
    return shown, copied, improved


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.estimate_use", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", type=Path, help="result folders (.bench/results/<stamp>/)")
    args = parser.parse_args(argv)
    databases = sorted(db for folder in args.results
                       for db in folder.glob("runs/*-autotrace/.autotrace/autotrace.db"))
    if not databases:
        print("no autotrace runs under " + " ".join(map(str, args.results)), file=sys.stderr)
        return 2
    totals = [sum(column) for column in zip(*(count(db) for db in databases))]
    shown, copied, improved = totals
    print(f"{len(databases)} runs: {shown} steps asked the model with an estimate shown; {copied} answers "
          f"used it exactly, {improved} of them raised the best score; {shown - copied} did something else")
    return 0


if __name__ == "__main__":
    sys.exit(main())
