"""BENCHMARKS.md, generated from the committed results: ``python -m benchmarks.summary > BENCHMARKS.md``.

The summary holds the current numbers only: for each task, side, arm and model, the rows of the latest
commit that ran it (older rows stay in ``benchmarks/results/quality.jsonl``: the history is the data).
Solves the measured search found without asking the model are counted apart from the model's, fresh
held-out tasks apart from the tasks the defaults were tuned on, and every figure names the command that
repeats it. The output depends on the committed files alone (no clock, no machine), so regenerating it
gives the committed file byte for byte (``tests/test_bench_summary.py`` checks).
"""

from __future__ import annotations

import re
import statistics
import sys
from collections.abc import Iterable, Sequence

from . import perf_data, rows, tasks
from .rows import Row

COMMAND = "python -m benchmarks.summary > BENCHMARKS.md"


def current(all_rows: Sequence[Row]) -> list[Row]:
    """Per (task, side, arm, model): the rows of the commit measured last (file order decides a tie)."""
    latest: dict[tuple[str, str, str, str], tuple[str, str]] = {}
    for row in all_rows:
        key = (row.task, row.side, row.arm, row.model)
        if key not in latest or row.date >= latest[key][0]:
            latest[key] = (row.date, row.commit)
    kept: dict[tuple[str, str, str, str, int], Row] = {}
    for row in all_rows:  # one row per seed: a seed run again at the same commit keeps its last row
        if latest[(row.task, row.side, row.arm, row.model)][1] == row.commit:
            kept[(row.task, row.side, row.arm, row.model, row.seed)] = row
    return list(kept.values())


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known else None


def _sum(values: Iterable[int | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{sum(known):,}" if known else "—"


def _seeds(seeds: Sequence[int]) -> str:
    ordered = sorted(set(seeds))
    if len(ordered) > 1 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{ordered[0]}–{ordered[-1]}"
    return ",".join(map(str, ordered))


def group_command(group: Sequence[Row]) -> str:
    """One command that repeats every run of the group: the per-seed commands with the seeds folded."""
    commands = {re.sub(r"--seeds 1 --first-seed \d+", "--seeds N --first-seed K", r.command) for r in group}
    if len(commands) != 1:
        return "; ".join(sorted({r.command for r in group}))
    command = commands.pop()
    seeds = sorted({r.seed for r in group})
    if "--first-seed K" in command:
        if seeds == list(range(seeds[0], seeds[-1] + 1)):
            return command.replace("--seeds N --first-seed K", f"--seeds {len(seeds)} --first-seed {seeds[0]}")
        return " ; ".join(command.replace("--seeds N --first-seed K", f"--seeds 1 --first-seed {s}") for s in seeds)
    return command


def _solves(group: Sequence[Row]) -> str:
    solved = [r for r in group if r.solved]
    by_model = sum(1 for r in solved if r.llm_driven is True)
    by_search = sum(1 for r in solved if r.llm_driven is False)
    unknown = len(solved) - by_model - by_search
    parts = [f"{by_model} by the model", f"{by_search} by the search alone"]
    parts += [f"{unknown} not known"] if unknown else []
    return f"{len(solved)}/{len(group)} ({', '.join(parts)})"


def runs_section(title: str, chosen: Sequence[Row], registry: dict[str, tasks.Task], empty: str) -> list[str]:
    """The totals per side/arm/model, then one line per task: the rows of the tasks given."""
    out = [f"## {title}", ""]
    if not chosen:
        return out + [empty, ""]
    groups: dict[tuple[str, str, str], list[Row]] = {}
    for row in chosen:
        groups.setdefault((row.side, row.arm, row.model), []).append(row)
    out += ["| side · arm | model | tasks | runs solved (by the model, by the measured search alone) | "
            "optimizer tokens | program tokens | commits |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for (side, arm, model), group in sorted(groups.items()):
        out.append(f"| {side} · {arm} | {model} | {len({r.task for r in group})} | {_solves(group)} | "
                   f"{_sum(r.optimizer_tokens for r in group)} | {_sum(r.program_tokens for r in group)} | "
                   f"{', '.join(sorted({r.commit for r in group}))} |")
    out += ["", "| task | kind | side · arm | model | seeds | solved | visible | hidden | optimizer tokens | "
            "program tokens | program runs | seconds (median) | load | commit | reproduce |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    order = {name: i for i, name in enumerate(registry)}
    per_task: dict[tuple[str, str, str, str], list[Row]] = {}
    for row in chosen:
        per_task.setdefault((row.task, row.side, row.arm, row.model), []).append(row)
    for (task, side, arm, model), group in sorted(per_task.items(),
                                                  key=lambda kv: (order.get(kv[0][0], 1 << 30), kv[0])):
        kind = registry[task].kind if task in registry else "not registered"
        seconds = [r.seconds for r in group if r.seconds is not None]
        median = _fmt(statistics.median(seconds), 1) if seconds else "—"
        out.append(f"| {task} | {kind} | {side} · {arm} | {model} | {_seeds([r.seed for r in group])} | "
                   f"{_solves(group)} | {_fmt(_mean(r.visible_score for r in group))} | "
                   f"{_fmt(_mean(r.hidden_score for r in group))} | {_sum(r.optimizer_tokens for r in group)} | "
                   f"{_sum(r.program_tokens for r in group)} | {_sum(r.program_runs for r in group)} | {median} | "
                   f"{_fmt(_mean(r.load for r in group), 1)} | {', '.join(sorted({r.commit for r in group}))} | "
                   f"`{group_command(group)}` |")
    notes = sorted({f"{r.task} ({r.side}, seed {r.seed}): {r.note}" for r in chosen if r.note})
    if notes:
        out += ["", "Notes on these runs:", ""] + [f"* {note}" for note in notes]
    return out + [""]


def registry_section(registry: Sequence[tasks.Task]) -> list[str]:
    out = ["## Tasks", "",
           f"{len(registry)} tasks are registered ({sum(t.fresh for t in registry)} fresh: held out, never used to "
           "choose a setting). Each is a folder with a `task.toml` (`benchmarks/tasks/README.md`); "
           "`python -m benchmarks list` prints them and `python -m benchmarks run NAME` runs one on its sides, by its "
           "kind's runner (`benchmarks/dispatch.py`). The paper experiments' figures are the experiments' own "
           "measures with per-step curves, not a judge's solved or not: they are lines of "
           "`benchmarks/results/paper.jsonl`, tabled in `docs/paper.md`, not rows of the tables below.", "",
           "| task | kind | fresh | runner | sides | steps | target | what |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for t in registry:
        out.append(f"| {t.name} | {t.kind} | {'yes' if t.fresh else 'no'} | {t.runner} | {', '.join(t.sides)} | "
                   f"{t.steps} | {t.target:g} | {t.summary} |")
    return out + [""]


def perf_section() -> list[str]:
    out = ["## Performance", "",
           "pytest-benchmark over `benchmarks/perf/` (why this tool: `docs/decisions/benchmark-tool.md`), saved per "
           f"commit under `{perf_data.STORAGE_REL}`. `{perf_data.COMPARE_COMMAND}` (the slow check "
           "`tests/test_perf_regression.py`) fails when a CPU-timed benchmark's minimum, read as a multiple of the "
           f"reference loop's in the same run, grew by more than {perf_data.THRESHOLD_PERCENT} % over the last saved "
           "run's (" + ", ".join(f"{name} {limit} %" for name, limit in sorted(perf_data.WIDER.items()))
           + ": they spread more); wall-clock benchmarks (child processes) are shown, not checked.", ""]
    baseline = perf_data.latest()
    if baseline is None:
        return out + ["No performance run is saved yet.", ""]
    out += [f"Last saved run: commit {baseline.commit}, {baseline.machine}; `{perf_data.RUN_COMMAND}` repeats it.",
            "", "| benchmark | timer | min | median | rounds | × reference | what |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for bench in baseline.benchmarks:
        ratio = baseline.ratio(bench.name) if bench.timer == "cpu" else None
        out.append(f"| {bench.name} | {bench.timer} | {perf_data.human(bench.min)} | {perf_data.human(bench.median)} | "
                   f"{bench.rounds} | {'—' if ratio is None else f'{ratio:,.1f}'} | {bench.doc} |")
    return out + [""]


def missing_section() -> list[str]:
    return ["## What is not here", "",
            "The earlier hand-written log cited runs under `.bench/results/` (never committed, and absent where this "
            "file was first generated), so its figures could not be turned into rows and are not repeated here; git "
            "history keeps that log. What those runs decided is in `docs/decisions/`; one-off measurements the design "
            "relies on (the local model, real third-party suites, the examples) are in `docs/measurements.md`. "
            "Studies that answered one past question are in `experiments/` (its README lists them); they are not "
            "benchmarks and write no rows here.", ""]


def render(all_rows: Sequence[Row], registry: Sequence[tasks.Task]) -> str:
    by_name = {t.name: t for t in registry}
    now = current(all_rows)
    fresh = [r for r in now if r.task in by_name and by_name[r.task].fresh]
    tuned = [r for r in now if r not in fresh]
    out = ["# Benchmarks", "",
           f"Generated by `{COMMAND}` from the committed results: one typed row per optimization run in "
           "`benchmarks/results/quality.jsonl` (`benchmarks/rows.py`) and the saved performance runs. Edit those, "
           "not this file. Each table shows, per task, side, arm and model, the runs of the latest commit that ran "
           "it; the file keeps every earlier row. A run is *solved* when its best score reaches the task's target; "
           "a solve counts as *by the measured search alone* when the solving step asked no model (numeric "
           "parameters searched by program runs), and as *by the model* otherwise. *visible*: the best judge "
           "score, mean over seeds; *hidden*: the final program on the task's hidden cases (fraction passed); "
           "*program tokens*: what the program's own model calls spent during the run (0: it calls none; — not "
           "counted). "
           "Seconds are wall time on a shared machine: read them with the load average beside them.", ""]
    out += registry_section(registry)
    out += runs_section("Task runs: tasks tuned on", tuned, by_name, "No runs recorded.")
    out += runs_section("Task runs: fresh held-out tasks", fresh, by_name,
                        "No runs recorded on the fresh tasks. A change to the search reports its figures here.")
    out += perf_section()
    out += missing_section()
    return "\n".join(out).rstrip("\n") + "\n"


def main() -> int:
    try:
        text = render(rows.load(), tasks.ALL)
    except (tasks.TaskError, rows.RowError) as exc:
        print(f"benchmarks.summary: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
