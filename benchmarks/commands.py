"""``python -m benchmarks list | perf | summary``: the registry, the performance suite and the summary.

    python -m benchmarks list                  # every registered task and performance benchmark
    python -m benchmarks perf                  # run the performance suite, save it for this commit
    python -m benchmarks perf --compare        # run it and compare with the last saved run (exit 1: a regression)
    python -m benchmarks summary > BENCHMARKS.md

Task runs are ``python -m benchmarks [--sections quality] --tasks ...`` (``python -m benchmarks --help``).
"""

from __future__ import annotations

import argparse
import ast
import sys

from . import perf_data, summary, tasks
from .rows import RowError

SUBCOMMANDS = ("list", "perf", "summary")


def list_all() -> int:
    print(f"{'task':<20} {'kind':<17} {'fresh':<6} {'runner':<8} {'sides':<25} summary")
    for t in tasks.ALL:
        print(f"{t.name:<20} {t.kind:<17} {'yes' if t.fresh else 'no':<6} {t.runner:<8} {','.join(t.sides):<25} "
              f"{t.summary}")
    print("\nperformance benchmarks (python -m benchmarks perf):")
    for node in ast.parse(perf_data.SUITE.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            print(f"  {node.name:<22} {(ast.get_docstring(node) or '').splitlines()[0]}")
    return 0


def perf(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks perf", description=perf_data.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", action="store_true", help="compare with the last saved run; exit 1 beyond "
                        f"+{perf_data.THRESHOLD_PERCENT} %% (the run is then not saved unless --save)")
    parser.add_argument("--save", action="store_true", help="with --compare: also save this run")
    parser.add_argument("-k", dest="only", default=None, help="only the benchmarks this pytest -k expression selects")
    args = parser.parse_args(argv)
    baseline = perf_data.latest() if args.compare else None
    if args.compare and baseline is None:
        print(f"no saved performance run under {perf_data.STORAGE_REL}: run `{perf_data.RUN_COMMAND}` first",
              file=sys.stderr)
        return 2
    only = args.only
    if only and args.compare:
        only = f"({only}) or {perf_data.REFERENCE}"  # the comparison reads every figure against the reference
    current = perf_data.run(save=args.save or not args.compare, only=only)
    if baseline is None:
        return 0
    lines, failed = perf_data.compare(current, baseline)
    for attempt in range(1, perf_data.CONFIRMATIONS + 1):
        if not failed:
            break
        print("\n".join(lines))
        print(f"measuring {', '.join(failed)} again ({attempt} of {perf_data.CONFIRMATIONS}): a regression is one "
              "that repeats; each figure keeps its lower minimum")
        again = perf_data.run(save=False, only=" or ".join([*failed, perf_data.REFERENCE]))
        current = perf_data.fastest(current, again)
        lines, failed = perf_data.compare(current, baseline)
    print("\n".join(lines))
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    command, rest = argv[0], argv[1:]
    try:
        if command == "list":
            return list_all()
        if command == "perf":
            return perf(rest)
        return summary.main()
    except (tasks.TaskError, RowError) as exc:
        print(f"benchmarks: {exc}", file=sys.stderr)
        return 2
