"""How much of each step's prompt stays the same, without a model: a task run against the scripted server
(tests/llmserver.py) in its llama.cpp mode, which keeps the last prompt as one llama.cpp slot does and
reports the common prefix (at four characters a token) as ``timings.cache_n``.

Each answer rewrites the task's function (a different body every time, same behaviour), so every step
takes a new candidate whose outputs are those of the last: the case where only #Variables and the memory
change. It measures the prompt's order, not a server: the real server's share is measured by a run on
the embedded model (``benchmarks.step_cost``). Usage::

    python -m benchmarks.prefix_sim [--task roman] [--steps 3] [--arm after] [--record]

prints the per-step rows of :mod:`benchmarks.step_cost` (``--record``: appended to its results file).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.harness import stored_steps
from benchmarks.rows import append, head_commit
from benchmarks.step_cost import OUT, rows_of
from benchmarks.tasks import get

ROOT = Path(__file__).resolve().parent.parent
#: Bodies the scripted answers give the function in turn: each keeps its behaviour, in other words.
BODIES = ("    total = 0\n    for ch in {arg}:\n        total += VALUES[ch]\n    return total\n",
          "    return sum(VALUES[ch] for ch in {arg}[::-1])\n",
          "    values = [VALUES[ch] for ch in {arg}]\n    return sum(values)\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.prefix_sim", description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="roman", help="a code task whose function is roman's roman_to_int")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--arm", default="", help="the label of the rows (default: the commit)")
    parser.add_argument("--record", action="store_true", help=f"append the rows to {OUT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    from llmserver import ScriptedLLMServer

    answers = itertools.count()

    def answer(body: dict[str, Any]) -> str:
        source = ('def roman_to_int(numeral):\n    """The integer value of a Roman numeral."""\n'
                  + BODIES[next(answers) % len(BODIES)].format(arg="numeral"))
        return f"The function ignores subtractive pairs.\n```python\n{source}```\n"

    command = f"python -m benchmarks.prefix_sim --task {args.task} --steps {args.steps}"
    with tempfile.TemporaryDirectory() as tmp, ScriptedLLMServer(prefix_cache="llama") as server:
        server.script(*[answer] * (args.steps * 4))
        run_dir = Path(tmp) / args.task
        get(args.task).lay_out("autotrace", run_dir)
        done = subprocess.run([sys.executable, "-m", "autotrace", "optimize", "program.py", "--feedback", "judge.py",
                               "--steps", str(args.steps), "--base-url", server.base_url, "--model", "scripted",
                               "--no-cache", "--no-probe"], cwd=run_dir, capture_output=True, text=True,
                              env={**os.environ, "BENCH_SEED": "0"})
        if done.returncode != 0:
            print(f"error: the run failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            return 1
        commit = head_commit(ROOT)
        rows = rows_of(stored_steps(run_dir), commit=commit, arm=args.arm or commit, task=args.task, seed=0,
                       model="scripted (llama.cpp's slot at 4 characters a token)", command=command,
                       note="the prompt's order without a model: every answer a new function with the same outputs; "
                            "seconds are the scripted server's made-up rates")
    if args.record:
        append(rows, OUT)  # type: ignore[arg-type]  # append writes any dataclass row as JSON
    for row in rows:
        print(json.dumps(asdict(row)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
