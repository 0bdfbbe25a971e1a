"""Tables and curves of the paper experiments from benchmarks/results/paper.jsonl.

    python -m benchmarks.paper.report [--plots docs/]

Prints one markdown table per experiment (side, method, seeds, tasks, mean score, program runs, tokens,
seconds) and, with ``--plots``, writes ``paper-<experiment>.png``: the best score so far against program
runs and against LLM tokens, one line per side (mean over the runs' tasks and seeds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from .common import RESULTS

LOWER_IS_BETTER = {"numeric_graphs": True, "battleship": False, "traffic": True}
UNITS = {"numeric_graphs": "mean absolute error", "battleship": "share of ship squares hit",
         "traffic": "loss (s)"}


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def groups(records: list[dict]) -> dict[tuple, list[dict]]:
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        # numeric graphs: one row over the graphs; the others: one row per task (e.g. the boards played)
        task = "" if r["experiment"] == "numeric_graphs" else r["task"]
        grouped[(r["experiment"], r["side"], r.get("method") or "", r.get("steps"), r.get("quick"), task)].append(r)
    return grouped


def table(records: list[dict], experiment: str) -> str:
    rows = ["| side | method | steps | seeds | tasks | start | score | program runs | tokens | seconds | commit |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for (exp, side, method, steps, quick, _), rs in sorted(groups(records).items(), key=lambda kv: str(kv[0])):
        if exp != experiment:
            continue
        ok = [r for r in rs if r.get("score") is not None and not r.get("error")]
        failed = len(rs) - len(ok)
        starts = [r["curve"][0]["best"] for r in ok if r.get("curve") and r["curve"][0].get("best") is not None]
        rows.append("| " + " | ".join([
            side, method or "—", f"{steps}{' (quick)' if quick else ''}",
            ",".join(str(s) for s in sorted({r["seed"] for r in rs})),
            (f"{len({r['task'] for r in rs})}" if exp == "numeric_graphs" else rs[0]["task"])
            + (f" ({failed} failed)" if failed else ""),
            f"{statistics.mean(starts):.3g}" if starts else "—",
            f"{statistics.mean(r['score'] for r in ok):.3g}" if ok else "—",
            f"{statistics.mean(r['program_runs'] for r in ok):.1f}" if ok else "—",
            f"{statistics.mean(r['tokens'] for r in ok):.0f}" if ok else "—",
            f"{statistics.mean(r['seconds'] for r in ok):.0f}" if ok else "—",
            ",".join(sorted({r["commit"] for r in rs}))]) + " |")
    return "\n".join(rows)


def plot(records: list[dict], experiment: str, out: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    drawn = False
    drew_tokens = [False]
    colors: list[str] = []
    for (exp, side, method, _steps, quick, _), rs in sorted(groups(records).items(), key=lambda kv: str(kv[0])):
        if exp != experiment or quick:
            continue
        curves = [r["curve"] for r in rs if r.get("curve") and not r.get("error")]
        if not curves:
            continue
        label = side + (f": {method}" if method else "") + f" ({len(curves)} runs)"
        color = f"C{len(colors) % 10}"
        colors.append(label)
        for ax, key in zip(axes, ("program_runs", "tokens"), strict=True):
            if key == "tokens" and not any(p["tokens"] for c in curves for p in c):
                continue
            xs = sorted({p[key] for c in curves for p in c})
            ys = []
            for x in xs:  # each curve's best so far at x (its last point at or before x), averaged
                vals = [next((p["best"] for p in reversed(c) if p[key] <= x and p["best"] is not None), None)
                        for c in curves]
                vals = [v for v in vals if v is not None]
                ys.append(statistics.mean(vals) if vals else float("nan"))
            if len(xs) == 1:  # one program run (e.g. SCATS): its score as a level across the plot
                ax.axhline(ys[0], linestyle="--", color=color, label=label)
            else:
                ax.step(xs, ys, where="post", color=color, label=label)
            drawn = True
            drew_tokens[0] |= key == "tokens"
    if not drawn:
        plt.close(fig)
        return None
    for ax, key in zip(axes, ("program runs", "LLM tokens"), strict=True):
        ax.set_xlabel(key)
        ax.set_ylabel(f"best {UNITS[experiment]} so far")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    if not drew_tokens[0]:
        axes[1].text(0.5, 0.5, "no side spent LLM tokens", ha="center", transform=axes[1].transAxes)
    fig.suptitle(f"{experiment} (benchmarks/results/paper.jsonl)")
    fig.tight_layout()
    path = out / f"paper-{experiment}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--plots", type=Path, help="folder for the curves' images")
    args = parser.parse_args(argv)
    if not args.results.is_file():
        print(f"error: no results at {args.results}", file=sys.stderr)
        return 2
    records = load(args.results)
    for experiment in LOWER_IS_BETTER:
        print(f"\n### {experiment} ({UNITS[experiment]}, {'lower' if LOWER_IS_BETTER[experiment] else 'higher'} "
              "is better)\n")
        print(table(records, experiment))
        if args.plots:
            path = plot(records, experiment, args.plots)
            if path:
                print(f"\n![{experiment}]({path.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
