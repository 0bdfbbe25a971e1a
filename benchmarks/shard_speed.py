"""Wall time of one evaluation of a program that calls an LLM, ``--jobs 1`` against ``--jobs 2``: its
examples run one after another in one worker, or split over two workers (``runners/shards.py``).

    python -m benchmarks.shard_speed [--examples 6] [--delay 0.5] [--rounds 3]
        [--out benchmarks/results/shard_speed.jsonl] [--label TEXT]

The program is an unmodified ``OpenAI()`` client asking a scripted OpenAI-compatible server
(tests/llmserver.py, a real socket) that answers every request after ``--delay`` seconds, as a model
would take that long; one request per example. Two evaluations are timed, each with both job counts, the
counts alternating round by round so that a change in the machine's load reaches both alike: the initial
values' evaluation as ``autotrace optimize`` runs it (``prepare`` on the run's executor, the start of its
fork server included) and one candidate's evaluation in a step (``Executor.run_many`` on a warm fork
server, started outside the timing, once per run). The program's model is its own endpoint
(``OPENAI_BASE_URL``), not the run's caching proxy: every round pays every request. One JSON line per
evaluation kind is appended to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autotrace.project import Project
from autotrace.runners.executor import Executor
from autotrace.runners.optimize import Settings, open_executor, prepare
from autotrace.runners.program_runs import evaluation_of, make_job
from autotrace.runners.sandbox import Limits

from .harness import ROOT

PROGRAM = '''\
from openai import OpenAI

PROMPT = "Answer yes or no."  # autotrace: param the system prompt

client = OpenAI()


def main(text):
    reply = client.chat.completions.create(
        model="gpt-4o-mini", temperature=0,
        messages=[{"role": "system", "content": PROMPT}, {"role": "user", "content": text}])
    return reply.choices[0].message.content
'''
JUDGE = '''\
def examples():
    return [f"question {i}" for i in range({count})]


def feedback(output, text):
    return 1.0 if output == "yes" else 0.0
'''
JOBS = (1, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=6)
    parser.add_argument("--delay", type=float, default=0.5, help="seconds the server takes per request")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/shard_speed.jsonl"))
    parser.add_argument("--label", default="", help="what the code measured is (a record's 'label')")
    args = parser.parse_args()
    out = args.out if args.out.is_absolute() else ROOT / args.out
    sys.path.insert(0, str(ROOT / "tests"))
    from llmserver import Fault, ScriptedLLMServer

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="shard-speed-") as folder, ScriptedLLMServer() as server:
        root = Path(folder)
        (root / "pyproject.toml").write_text("")
        (root / "app.py").write_text(PROGRAM)
        (root / "judge.py").write_text(JUDGE.replace("{count}", str(args.examples)))
        server.script(*[Fault.delay(args.delay, "yes")] * (4 * args.rounds * args.examples * len(JOBS) + 10))
        os.environ.update({"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "benchmark"})
        os.chdir(root)
        project = Project.load(root / "app.py")
        job = make_job(project, root / "app.py", "main", root / "judge.py", {})
        limits = Limits(timeout=300)
        times: dict[str, dict[int, list[float]]] = {"initial": {n: [] for n in JOBS}, "step": {n: [] for n in JOBS}}
        executors = {n: Executor(limits, kind="fork", jobs=n) for n in JOBS}
        try:
            for n in JOBS:
                executors[n].run_many([job])  # the fork server's start: once per run, not timed
            for round_ in range(args.rounds):
                for n in (JOBS if round_ % 2 == 0 else tuple(reversed(JOBS))):
                    settings = Settings(target=root / "app.py", judge=root / "judge.py", jobs=n, limits=limits)
                    started = time.perf_counter()
                    with open_executor(settings, root) as run_executor:  # a run's: its fork server starts here
                        _, initial = prepare(settings, run_executor)
                    times["initial"][n].append(time.perf_counter() - started)
                    assert initial.score == 1.0, initial.message()
                    started = time.perf_counter()
                    step = evaluation_of(executors[n].run_many([job])[0])
                    times["step"][n].append(time.perf_counter() - started)
                    assert step.score == 1.0, step.message()
        finally:
            for executor in executors.values():
                executor.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8") as lines:
        for kind, by_jobs in times.items():
            record = {"benchmark": "shard_speed", "commit": commit, "label": args.label, "evaluation": kind,
                      "examples": args.examples, "delay": args.delay, "rounds": args.rounds,
                      "seconds": {f"jobs {n}": [round(t, 3) for t in by_jobs[n]] for n in JOBS},
                      "median": {f"jobs {n}": round(statistics.median(by_jobs[n]), 3) for n in JOBS}}
            lines.write(json.dumps(record) + "\n")
            print(f"{kind}: " + ", ".join(f"--jobs {n} {statistics.median(by_jobs[n]):.2f} s" for n in JOBS)
                  + f" (median of {args.rounds}; {args.examples} examples, {args.delay:g} s a request)")


if __name__ == "__main__":
    main()
