"""The benchmarks' one command: task runs against Trace (trace-opt), the registry, the performance suite.

    python -m benchmarks list       # the registered tasks and the performance benchmarks
    python -m benchmarks run NAME... [options]   # those tasks on their sides (= --sections quality --tasks NAME...)
    python -m benchmarks perf [--compare]   # the performance suite (benchmarks/commands.py)
    python -m benchmarks summary > BENCHMARKS.md
    python -m benchmarks            # the harness's tasks on both sides and every measurement (about an hour on an
                                    # idle 2-core machine); --tasks / run NAME selects any registered task
    python -m benchmarks --quick    # overhead, prompt size, import, the quick tasks x 1 seed x 3 steps

Sections: ``--sections quality overhead prompt import`` (default: all). Every registered task runs from here,
each by its kind's runner (``benchmarks/dispatch.py``): the harness's tasks, the prompt tasks (autotrace and
GEPA), the multi-parameter CLI tasks, the paper experiments. Each quality run's row is appended to
benchmarks/results/quality.jsonl (what BENCHMARKS.md is generated from); the run's detailed report goes to
.bench/results/<stamp>/report.md (``--report``) and the raw figures beside it, results.json.
The local model server is started once for the whole run (autotrace's LocalServer, the 1.5B
model), unless ``--base-url``/``--model`` name one that is already up.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from autotrace.config import DEFAULTS

from . import commands, dispatch, harness, report, rows, tasks

SECTIONS = ("quality", "overhead", "prompt", "import")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the CI subset (a few minutes on an idle machine)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--tasks", nargs="+", default=None, help="task names (default: all, or the quick pair)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per task (default 3, quick 1)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds run are K..K+N-1 (default 0: a later run can add seeds to an earlier one, "
                             "merged with --render)")
    parser.add_argument("--sides", nargs="+", choices=tasks.SIDES, default=None,
                        help="optimizers the quality section runs, on the tasks that have them (default: each "
                             "task's own sides; one alone is for iterating on it, and its report has no comparison)")
    parser.add_argument("--metric-calls", type=int, default=None, metavar="N",
                        help="GEPA's budget on a prompt task, in program runs (on one example each for a judge "
                             "with examples(), else the program's whole run). Default: on a harness task, the "
                             "runs of the autotrace run of the same task and seed (this invocation's, else the "
                             "latest in --record); else (steps + 1) x the examples, an autotrace run's at one "
                             "evaluation a step")
    parser.add_argument("--steps", type=int, default=None, help="step budget for every task (default: each task's)")
    parser.add_argument("--base-url", default=None, help="use this OpenAI-compatible server instead of starting one")
    parser.add_argument("--model", default=None, help="model name at --base-url")
    parser.add_argument("--threads", type=int, default=None, help="threads of the local model server")
    parser.add_argument("--candidates", type=int, default=1, metavar="N",
                        help="answers autotrace asks for per step (autotrace optimize --candidates N); the "
                             "trace-opt side is unaffected (its OptoPrime asks one per step). Recorded per run: "
                             "runs at N=1, 2, 4 merged with --render are compared side by side (default 1)")
    parser.add_argument("--resample", type=int, default=DEFAULTS["resample"], metavar="N",
                        help="sampled answers autotrace asks for when a step's answers gave nothing new "
                             "(autotrace optimize --resample N; default autotrace's own). Recorded per run: "
                             "runs before it existed count as 0")
    parser.add_argument("--holdout", type=float, default=0.0, metavar="FRACTION",
                        help="fraction of each judge's examples autotrace holds out (autotrace optimize "
                             "--holdout); trace-opt sees every example. 'solved' is then the score on the "
                             "others. No task's judge has examples() yet (each scores one output), so on "
                             "today's tasks nothing is split (default 0)")
    parser.add_argument("--max-tokens", type=int, default=1024, help="completion limit per optimizer call, both sides")
    parser.add_argument("--run-timeout", type=float, default=3600.0, help="seconds one optimization run may take")
    parser.add_argument("--calls", type=int, default=100_000, help="calls per overhead measurement")
    parser.add_argument("--rounds", type=int, default=None, help="overhead rounds (default 5, quick 3)")
    parser.add_argument("--report", type=Path, default=None,
                        help="the detailed report (default .bench/results/<stamp>/report.md; with --render "
                             ".bench/report.md)")
    parser.add_argument("--record", type=Path, default=rows.QUALITY, metavar="ROWS.jsonl",
                        help="where each quality run's row is appended (default benchmarks/results/quality.jsonl, "
                             "which BENCHMARKS.md is generated from)")
    parser.add_argument("--no-record", dest="record", action="store_const", const=None,
                        help="append no rows (a run for iterating, not for the summary)")
    parser.add_argument("--render", type=Path, nargs="+", metavar="RESULTS.json", default=None,
                        help="only rewrite the report from earlier runs' results.json (several: each section "
                             "from the last run that measured it)")
    args = parser.parse_args(argv)
    if args.candidates < 1:
        parser.error(f"--candidates {args.candidates}: at least 1")
    if args.resample < 0:
        parser.error(f"--resample {args.resample}: at least 0")
    if not 0 <= args.holdout < 1:
        parser.error(f"--holdout {args.holdout}: a fraction from 0 up to (not including) 1")
    return args


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given and given[0] in commands.SUBCOMMANDS:  # list | perf | summary (benchmarks/commands.py)
        return commands.main(given)
    if given and given[0] == "run":  # run NAME... [options]: the quality section on those tasks
        names = [arg for arg in itertools.takewhile(lambda arg: not arg.startswith("-"), given[1:])]
        if not names:
            print("benchmarks: run NAME... [options]: name at least one task (python -m benchmarks list)",
                  file=sys.stderr)
            return 2
        argv = given = ["--sections", "quality", "--tasks", *names, *given[1 + len(names):]]
    args = parse_args(argv)
    try:  # the registry and the task names, checked before anything starts
        chosen = [tasks.get(name) for name in args.tasks or ()]
        tasks.__getattr__("ALL")
    except (KeyError, tasks.TaskError) as exc:
        print(f"benchmarks: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 2
    if args.render is not None:
        args.report = args.report or harness.BENCH / "report.md"
        runs = [json.loads(path.read_text()) for path in args.render]
        args.report.write_text(report.render(runs[0] if len(runs) == 1 else report.merge(runs)))
        print(f"report: {args.report}")
        return 0
    command = "python -m benchmarks" + ("" if argv is None and len(sys.argv) == 1 else " " + shlex.join(
        argv if argv is not None else sys.argv[1:]))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out_dir = harness.BENCH / "results" / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    args.report = args.report or out_dir / "report.md"
    say = lambda text: print(text, flush=True)  # noqa: E731
    results: dict = {"command": command, "stamp": stamp, "quick": args.quick, "sections": args.sections,
                     "max_tokens": args.max_tokens, "candidates": args.candidates, "holdout": args.holdout,
                     "resample": args.resample,
                     "machine": report.machine_info(), "load_before": os.getloadavg()}
    started = time.perf_counter()
    code = 0
    # trace-opt's venv is made only for what runs it: its quality side, and the other sections' comparisons
    names = args.tasks or (list(tasks.QUICK) if args.quick else [t.name for t in tasks.TASKS])
    chosen = [tasks.get(n) for n in names]
    on_harness = [t for t in chosen if t.runner == tasks.Runner.HARNESS]
    needs_trace = any(section != "quality" for section in args.sections) or (
        "quality" in args.sections and any("trace" in dispatch.sides_of(t, args.sides) for t in on_harness))
    trace_py = harness.trace_python(create=needs_trace, say=say)
    results["versions"] = report.versions(trace_py)
    if trace_py is None and needs_trace:
        say("trace-opt venv unavailable: its side is not measured")

    def save() -> None:
        results["seconds"] = time.perf_counter() - started
        results["load_after"] = os.getloadavg()
        (out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str))
        args.report.write_text(report.render(results))

    needs_server = "prompt" in args.sections or (
        "quality" in args.sections and dispatch.needs_server(chosen, args.sides))
    with harness.model_server(args.base_url, args.model, args.threads, say) if needs_server else \
            _no_server() as server:
        results["server"] = server
        if "overhead" in args.sections:
            from . import overhead

            say("overhead ...")
            results["overhead"] = overhead.measure(trace_py, args.calls, args.rounds or (3 if args.quick else 5))
            save()
        if "prompt" in args.sections:
            from . import prompt_size

            say("prompt size ...")
            sizes = (100, 1000, 10_000)
            results["prompt"] = prompt_size.measure(trace_py, sizes, server["base_url"] if server else None,
                                                    trace_sizes=(100, 1000) if args.quick else sizes)
            save()
        if "import" in args.sections:
            from . import import_time

            say("import ...")
            results["import"] = {"autotrace": import_time.measure(3 if args.quick else 5),
                                 "trace": import_time.trace_import(trace_py) if trace_py else None}
            save()
        if "quality" in args.sections:
            count = args.seeds if args.seeds is not None else (1 if args.quick else 3)
            seeds = range(args.first_seed, args.first_seed + count)
            steps = args.steps if args.steps is not None else (3 if args.quick else None)
            sides_said = " and ".join(args.sides or ["their sides"])
            say(f"quality: {len(chosen)} tasks x {len(seeds)} seeds x {sides_said} ...")
            results["quality"] = []
            results["tasks"] = {t.name: {"kind": t.kind, "steps": steps or t.steps, "target": t.target,
                                         "summary": t.summary} for t in on_harness}
            for task in chosen:
                if task.runner != tasks.Runner.HARNESS:
                    code = max(code, dispatch.run(task, args, seeds, steps, server, say))
                    continue
                sides = dispatch.sides_of(task, args.sides)
                if not sides:
                    continue
                runs = harness.run_quality([task], seeds, steps, server, out_dir, trace_py, args.run_timeout,
                                           args.max_tokens, say, sides, candidates=args.candidates,
                                           holdout=args.holdout, resample=args.resample,
                                           metric_calls=args.metric_calls,
                                           earlier=rows.load(args.record) if args.record is not None else ())
                results["quality"] += runs
                save()
                if args.record is not None:
                    rows.append([_row(run, args, server) for run in runs], args.record)
    save()
    say(f"report: {args.report}   raw: {out_dir / 'results.json'}   ({results['seconds']:.0f} s)")
    return code


def _row(run: dict, args: argparse.Namespace, server: dict) -> rows.Row:
    """The committed row of one quality run, with the command that repeats that run alone."""
    side = {"trace-opt": "trace", "gepa": "gepa"}.get(run.get("side", ""), "autotrace")
    command = ["python", "-m", "benchmarks", "--sections", "quality", "--tasks", run["task"], "--seeds", "1",
               "--first-seed", str(run["seed"]), "--sides", side, "--steps", str(run["steps_budget"])]
    command += ["--metric-calls", str(run["metric_calls"])] if side == "gepa" else []
    if side == "autotrace":
        command += [*(["--candidates", str(args.candidates)] if args.candidates != 1 else []),
                    *(["--resample", str(args.resample)] if args.resample != DEFAULTS["resample"] else []),
                    *(["--holdout", f"{args.holdout:g}"] if args.holdout else [])]
    if args.base_url:
        command += ["--base-url", "URL", "--model", server["model"]]
    return rows.from_harness(run, commit=rows.head_commit(), model=server["model"], load=run.get("load"),
                             command=shlex.join(command), date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M"))


class _no_server:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    sys.exit(main())
