"""Runs solved against wall time, one line per arm (``autotrace``, ``autotrace resample 2``,
``autotrace N=4``, ``trace-opt``...), from the quality section of one or more benchmark runs:

    python -m benchmarks.plot_solved .bench/results/A/results.json .bench/results/B/results.json \\
        --tasks leap_year roman ... --out benchmarks/solved.svg

A run counts as solved at the wall time its solving step ended (the sum of its steps' seconds up to
that step), so the curve says how many of an arm's runs a given time per run would have solved;
its right end is the arm's total. With several N among the arms a second panel gives runs solved
against N. matplotlib draws it (the benchmark extra, ``pip install -e '.[bench]'``): the one
plotting library every reader can redraw from, and not a dependency of autotrace itself.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .report import _arm


def solve_seconds(run: dict[str, Any]) -> float | None:
    """When ``run`` was solved, in seconds of its own wall time; None if it was not."""
    if not run.get("solved") or run.get("solved_step") is None:
        return None
    return sum(float(s.get("seconds") or 0.0) for s in run.get("steps", []) if s["step"] <= run["solved_step"])


def curves(runs: Sequence[dict[str, Any]]) -> dict[str, tuple[int, list[float]]]:
    """Per arm: its number of runs, and the sorted solve times of those it solved."""
    by_arm: dict[str, tuple[int, list[float]]] = {}
    for run in runs:
        total, times = by_arm.get(_arm(run), (0, []))
        seconds = solve_seconds(run)
        by_arm[_arm(run)] = (total + 1, sorted(times + ([seconds] if seconds is not None else [])))
    return by_arm


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plot_solved", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", type=Path, help="results.json files of benchmark runs")
    parser.add_argument("--tasks", nargs="+", default=None, help="only these tasks (default: every task run)")
    parser.add_argument("--out", type=Path, required=True, help="the picture (.svg or .png)")
    args = parser.parse_args(argv)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        parser.error("matplotlib is needed: pip install -e '.[bench]'")
    runs = [run for path in args.results for run in json.loads(path.read_text()).get("quality", [])
            if args.tasks is None or run.get("task") in args.tasks]
    if not runs:
        parser.error("no quality runs in those files (for those tasks)")
    arms = curves(runs)
    by_n: dict[int, list[bool]] = defaultdict(list)  # autotrace's runs by answers per step
    for run in runs:
        if run.get("side") == "autotrace":
            by_n[int(run.get("candidates") or 1)].append(bool(run.get("solved")))
    panels = 2 if len(by_n) > 1 else 1
    fig, axes = plt.subplots(1, panels, figsize=(7 * panels, 4.2), squeeze=False)
    ax = axes[0][0]
    end = max(float(run.get("wall_seconds") or 0.0) for run in runs) / 60  # the longest run: every line reaches it
    for arm, (total, times) in sorted(arms.items()):
        xs = [0.0, *[t / 60 for t in times], end]
        ax.step(xs, [*range(len(times) + 1), len(times)], where="post",
                label=f"{arm}: {len(times)} of {total} solved")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("wall time per run, minutes (when the solving step ended)")
    ax.set_ylabel("runs solved")
    ax.set_title("runs solved against wall time")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    if panels == 2:
        ns = sorted(by_n)
        axes[0][1].plot(ns, [sum(by_n[n]) for n in ns], marker="o")
        axes[0][1].set_xscale("log", base=2)
        axes[0][1].set_xlabel("answers per step (N)")
        axes[0][1].set_ylabel("runs solved")
        axes[0][1].set_title("runs solved against N")
    fig.tight_layout()
    fig.savefig(args.out, metadata={"Date": None} if args.out.suffix == ".svg" else None)
    print(f"{args.out}: {', '.join(f'{arm} {len(t)}/{n}' for arm, (n, t) in sorted(arms.items()))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
