"""What moving a function's imports into its body does to answers the model actually gave.

:mod:`autotrace.optimizers.code_imports` is deterministic, so its effect can be measured on recorded
answers, with no new LLM call: every code block in every answer recorded by the steps of earlier
benchmark runs (``<results>/runs/<task>-seed<k>-autotrace*/.autotrace/autotrace.db``) that defines
the task's function is taken as the model wrote it and as the repair leaves it. Where the two
differ, both are run on the task's hidden cases (a child process each, as the harness judges a
run's final function), in the program's own globals, where a missing import fails as it failed in
the run. An answer with imports above its ``def`` was rejected before the repair, so it counts as
passing none.

    python -m experiments.import_repair .bench/results/*      # prints a table of the changed answers
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sqlite3
import tempfile
import textwrap
from pathlib import Path

from autotrace.optimizers.code_imports import with_imports

from benchmarks.hidden_cases import check_function, function_name
from benchmarks.tasks import get

_BLOCK = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n(.*?)```", re.DOTALL)


def answers(run_dir: Path, function: str) -> set[str]:
    """Every distinct code block defining ``function`` in the answers recorded by ``run_dir``'s steps."""
    db = run_dir / ".autotrace" / "autotrace.db"
    if not db.exists():
        return set()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        records = [json.loads(row[0]) for row in connection.execute("SELECT record FROM steps")]
    texts = [r.get("response") or "" for r in records]
    texts += [o.get("response") or "" for r in records for o in r.get("other_answers") or []]
    return {textwrap.dedent(block).strip("\n") + "\n" for text in texts for block in _BLOCK.findall(text)
            if f"def {function}(" in block}


def hidden_passed(task_name: str, source: str, folder: Path) -> int:
    """Hidden cases ``source`` passes, run as :mod:`benchmarks.hidden_cases` runs a run's final function."""
    return check_function(get(task_name), source, folder).get("passed", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="benchmark result folders (.bench/results/<stamp>)")
    args = parser.parse_args()
    seen: set[tuple[str, str]] = set()
    rows = []
    scanned = 0
    with tempfile.TemporaryDirectory() as tmp:
        for run_dir in sorted(p for r in args.results for p in (r / "runs").glob("*-seed*-autotrace*")):
            task_name = run_dir.name.split("-seed")[0]
            task = get(task_name)
            if task.kind != "code" or task.hidden is None:
                continue
            program = run_dir / "program.py"
            function = function_name(task.folder / "program.py")
            for source in sorted(answers(run_dir, function)):
                scanned += 1
                if (task_name, source) in seen:
                    continue
                seen.add((task_name, source))
                try:
                    tree = ast.parse(source)
                except SyntaxError:
                    continue
                repaired = with_imports(source, tree, program)
                if repaired == source:
                    continue
                rejected = not isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef))
                folder = Path(tmp) / str(len(rows))
                before = 0 if rejected else hidden_passed(task_name, source, folder / "before")
                after = hidden_passed(task_name, repaired, folder / "after")
                run = f"{run_dir.parent.parent.name} seed {run_dir.name.split('-seed')[1].split('-')[0]}"
                rows.append((task_name, run, "rejected" if rejected else f"{before}/9", after))
                print(f"  {task_name} {run}: before {rows[-1][2]}, after {after}/9", flush=True)
    print(f"\n{scanned} code answers scanned, {len(seen)} distinct; the repair changed {len(rows)}:\n")
    print("| task | run | hidden cases passed, as written | after the repair |")
    print("|---|---|---|---|")
    for task_name, run, before, after in rows:
        print(f"| {task_name} | {run} | {before} | {after}/9 |")
    print(f"\nall 9 passed: {sum(r[3] == 9 for r in rows)} after, "
          f"{sum(r[2] == '9/9' for r in rows)} before")


if __name__ == "__main__":
    main()
