"""Benchmark results as data: one typed row per optimization run, stored as JSON lines in the repository.

A row says which code (``commit``), which optimizer (``side`` and its ``arm``), which ``model`` and ``seed``,
on which registered ``task``, and what came of it: ``solved``, the best ``visible_score`` (the judge's) and
the ``hidden_score`` (the final program on the task's hidden cases), whether the solving step asked the
model (``llm_driven``: False for a solve the measured search found by program runs alone, None for a run
that did not solve), the cost (``program_runs``, ``optimizer_tokens``, ``program_tokens``: what the program's
own model calls spent, counted by autotrace's recording proxy on every side, 0 for a program that calls none;
``seconds``) and the machine's ``load`` (1-minute load average at the start). ``command`` reproduces the run.
Every field is typed; :func:`decode` rejects a line with a missing, unknown or wrongly typed field, so a file
that loads is a file the summary can read.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

from autotrace.config import DEFAULTS

RESULTS = Path(__file__).resolve().parent / "results"
#: The task runs' rows (every side, every task); studies keep their own files beside it.
QUALITY = RESULTS / "quality.jsonl"


class RowError(ValueError):
    """A line that is no valid row (one line: where and what)."""


@dataclass(frozen=True)
class Row:
    """One optimization run of one task by one side (see the module docstring)."""

    commit: str
    side: str  # "autotrace" | "trace-opt" | "gepa"
    arm: str  # the side's settings that differ from its defaults, "default" when none
    model: str
    seed: int
    task: str
    steps: int  # the step budget
    solved: bool
    visible_score: float | None
    hidden_score: float | None  # fraction of the hidden cases passed; None when the task has none
    llm_driven: bool | None  # solved by a step that asked the model; None when not solved or not known
    program_runs: int | None
    optimizer_tokens: int | None
    program_tokens: int | None  # tokens the program's own model calls used; None when not counted
    seconds: float | None
    load: float | None
    command: str
    date: str  # UTC, "YYYY-MM-DD HH:MM"
    note: str = ""


_FIELDS = {f.name: f for f in fields(Row)}
_HINTS = typing.get_type_hints(Row)


def _accepts(hint: Any, value: Any) -> bool:
    """Whether ``value`` (as JSON gives it) fits the field type ``hint`` (a builtin or ``X | None``)."""
    if isinstance(hint, types.UnionType):
        return any(_accepts(arg, value) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def encode(row: Row) -> str:
    """One JSON line (no newline), the keys in field order, so a file diffs line by line."""
    return json.dumps(asdict(row), ensure_ascii=False)


def decode(line: str, where: str = "row") -> Row:
    """The row in one JSON line; raises RowError naming the field that is missing, unknown or mistyped."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RowError(f"{where}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RowError(f"{where}: a row is a JSON object")
    unknown = set(data) - set(_FIELDS)
    if unknown:
        raise RowError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    missing = [name for name, f in _FIELDS.items() if name not in data and f.default is MISSING]
    if missing:
        raise RowError(f"{where}: missing field(s) {', '.join(missing)}")
    for name, value in data.items():
        if not _accepts(_HINTS[name], value):
            raise RowError(f"{where}: {name}={value!r} is not {_HINTS[name]}")
    if data["solved"] is False and data.get("llm_driven") is not None:
        raise RowError(f"{where}: llm_driven is for solved runs (null when not solved)")
    return Row(**{**data, **{k: float(v) for k, v in data.items() if _HINTS[k] in (float, float | None)
                             and v is not None}})


def load(path: Path = QUALITY) -> list[Row]:
    """Every row of a JSON-lines file, in file order (blank lines skipped); a missing file has none."""
    if not path.is_file():
        return []
    return [decode(line, f"{path.name}:{number}") for number, line in enumerate(path.read_text().splitlines(), 1)
            if line.strip()]


def append(rows: Iterable[Row], path: Path = QUALITY) -> None:
    """Add rows at the end of ``path`` atomically: the file is rewritten whole beside itself, then renamed."""
    old = path.read_text() if path.is_file() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    text = old + "".join(encode(row) + "\n" for row in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: The code a task run measures: a change to these makes a row's commit ``+dirty``.
MEASURED = ("autotrace", "transforms", "runners", "benchmarks/tasks", "benchmarks/harness.py",
            "benchmarks/autotrace_side.py", "benchmarks/trace_side", "benchmarks/multi_param.py",
            "benchmarks/trace_prompt_side.py", "benchmarks/gepa_side.py")


def head_commit(root: Path | None = None) -> str:
    """The checkout's short commit, with ``+dirty`` when the measured code (:data:`MEASURED`) has
    uncommitted changes."""
    cwd = root or Path(__file__).resolve().parent.parent
    run = lambda *args: subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)  # noqa: E731
    commit = run("rev-parse", "--short", "HEAD").stdout.strip() or "unknown"
    dirty = run("status", "--porcelain", "--untracked-files=no", "--", *MEASURED).stdout.strip()
    return commit + ("+dirty" if dirty else "")


def _arm(result: Mapping[str, Any]) -> str:
    """The autotrace settings a run changed from autotrace's defaults ("default" when none)."""
    parts = [*([f"n{result['candidates']}"] if result.get("candidates", 1) != 1 else []),
             *([f"r{result['resample']}"] if result.get("resample", DEFAULTS["resample"]) != DEFAULTS["resample"]
               else []),
             *([f"holdout{result['holdout']:g}"] if result.get("holdout") else []),
             *([result["code_format"]] if result.get("code_format") else [])]
    return "-".join(parts) or "default"


def from_harness(result: Mapping[str, Any], *, commit: str, model: str, load: float | None, command: str,
                 date: str) -> Row:
    """The row of one ``benchmarks.harness.run_task`` result (any side; GEPA's arm is its budget, ``calls12``)."""
    steps = result.get("steps") or []
    solved = bool(result.get("solved"))
    llm_driven: bool | None = None
    if solved:
        step = next((s for s in steps if s.get("step") == result.get("solved_step")), None)
        if step is not None and "asked" in step:
            llm_driven = bool(step["asked"])
        elif step is not None:  # trace-opt records no "asked": a step after 0 is an LLM proposal
            llm_driven = step["step"] > 0 and (step.get("prompt_tokens") or 0) > 0
    hidden = result.get("hidden") or {}
    hidden_score = hidden["passed"] / hidden["total"] if hidden.get("total") else None
    side = result.get("side", "autotrace")
    runs = result.get("evaluations")
    if runs is None and side == "trace-opt" and steps:
        runs = len(steps)  # trace-opt runs the program once per step, step 0 included
    tokens = (result.get("prompt_tokens") or 0) + (result.get("completion_tokens") or 0)
    arm = _arm(result) if side == "autotrace" else f"calls{result['metric_calls']}" if side == "gepa" else "default"
    return Row(commit=commit, side=side, arm=arm, model=model,
               seed=int(result["seed"]), task=str(result["task"]), steps=int(result.get("steps_budget", 0)),
               solved=solved, visible_score=result.get("best_score"), hidden_score=hidden_score,
               llm_driven=llm_driven, program_runs=runs, optimizer_tokens=tokens if steps else None,
               program_tokens=result.get("program_tokens"),
               seconds=result.get("wall_seconds") or result.get("process_seconds"),
               load=load, command=command, date=date, note=str(result.get("error") or ""))


def from_multi_param(line: Mapping[str, Any], *, commit: str, model: str, command: str, load: float | None) -> Row:
    """The row of one ``benchmarks.multi_param`` line (autotrace's CLI run in a copy of the task)."""
    solved = bool(line.get("solved"))
    best_from = line.get("best_from")
    hidden_total = line.get("hidden_total")
    return Row(commit=commit, side="autotrace", arm="default", model=model, seed=int(line.get("seed", 0)),
               task=str(line["task"]), steps=int(line["steps_budget"]), solved=solved,
               visible_score=line.get("visible_score"),
               hidden_score=line["hidden_passed"] / hidden_total if hidden_total else None,
               llm_driven=(best_from == "llm") if solved and best_from in ("llm", "measured") else None,
               program_runs=None, optimizer_tokens=line.get("tokens"),
               program_tokens=0,  # the multi-parameter tasks' programs make no model call
               seconds=line.get("seconds"), load=load, command=command,
               date=str(line.get("finished", ""))[:16], note=str(line.get("partial") or line.get("error") or ""))
