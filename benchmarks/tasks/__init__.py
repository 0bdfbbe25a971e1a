"""The benchmark task registry: every task is a folder with a ``task.toml`` (its data) beside its program.

A folder is a task when it holds ``task.toml``; the registry looks in :data:`ROOTS` (this folder,
``benchmarks/multi_tasks``, ``benchmarks/fresh_prompts`` and ``examples``), so registering a task is adding its
folder with that file (``benchmarks/tasks/README.md`` lists the keys). Each task holds:

* ``program.py``: the program as a user writes it, with ``# autotrace: param`` marks. trace-opt's form is
  generated from it (:mod:`benchmarks.tasks.trace_form`) when a run lays the task out, never kept by hand;
* ``judge.py``: ``feedback(output)`` returns ``(score, message)``, the score in [0, 1] (a judge with
  ``examples()`` takes ``feedback(output, example)``); a run counts as solved once the score reaches the
  task's ``target``. ``BENCH_SEED`` picks a numeric or code task's instance (targets, test inputs), the
  same for every side. A program that calls a model (a prompt task) reads no harness variable: it is an
  ``OpenAI()`` app, given the standard ``OPENAI_BASE_URL``/``OPENAI_API_KEY`` as a user sets them;
* optionally ``hidden.py``: inputs (``CASES``) never laid out for a run, so neither the judge nor the prompt
  sees them; after the run :mod:`benchmarks.hidden_cases` judges the final function on them, and a fix that
  special-cases the visible inputs shows up there.

``fresh`` marks a held-out task: written for a question and never used to choose a setting. The summary
reports fresh tasks apart, and a change to the search reports its figures on them.
"""

from __future__ import annotations

import ast
import shutil
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SHARED = HERE / "_shared"
#: Where task folders are looked for, in this order (a folder's tasks sort by their ``order`` key).
ROOTS = (HERE, REPO / "benchmarks" / "multi_tasks", REPO / "benchmarks" / "fresh_prompts", REPO / "examples")


class Kind(StrEnum):
    """What a task's parameters are: how it is searched and which figures mean something for it."""

    NUMERIC = "numeric"  # constants a program's output depends on (the measured search applies)
    CODE = "code"  # a function's source with a bug, judged on test cases
    PROMPT = "prompt"  # a prompt text an LLM app sends to its model
    LLM_PROGRAM = "llm_program"  # a program that calls a model, with code and text parameters
    PAPER_EXPERIMENT = "paper_experiment"  # a reproduction of an experiment of the Trace paper


class Runner(StrEnum):
    """How a task is run, each by its own module; ``python -m benchmarks --tasks NAME`` picks it."""

    HARNESS = "harness"  # program.main() judged by feedback(output): autotrace and trace-opt (benchmarks.harness)
    CLI = "cli"  # `autotrace optimize program.py --feedback judge.py` in a copy (benchmarks.multi_param)
    PROMPT = "prompt"  # an OpenAI app's marked prompt: autotrace's CLI and GEPA (benchmarks.prompt_proposers)
    PAPER = "paper"  # a paper experiment: autotrace, trace-opt and its classic baselines (benchmarks.paper.run)


#: Every side a task may name; a task's default is the first two (the autotrace vs trace-opt comparison).
SIDES = ("autotrace", "trace", "gepa", "baseline")
_KEYS = {"kind", "summary", "steps", "target", "order", "shared", "data", "files", "program", "judge", "visible",
         "tags", "quick", "fresh", "sides", "runner"}


class TaskError(ValueError):
    """A task.toml that does not describe a task (one line: the file and what is wrong)."""


@dataclass(frozen=True)
class Task:
    """One registered task (see the module docstring); built from its ``task.toml`` by :func:`load`."""

    name: str
    kind: str
    steps: int  # optimization steps (LLM proposals; autotrace's may be measured steps), the same for every side
    target: float  # score that counts as solved
    shared: tuple[str, ...] = ("scoring.py",)  # helpers from benchmarks/tasks/_shared laid out beside the judge
    data: tuple[str, ...] = ()  # files from benchmarks/tasks/data laid out under data/
    summary: str = ""
    root: Path = HERE
    fresh: bool = False
    sides: tuple[str, ...] = SIDES[:2]
    runner: str = Runner.HARNESS.value
    program: str = "program.py"
    judge: str = "judge.py"
    files: tuple[str, ...] = ()  # more of the folder's own files a run needs
    visible: str | None = None  # "NAME" in the program or "FILE:NAME": a literal holding the visible inputs
    tags: tuple[str, ...] = ()
    quick: bool = False
    order: int = 100
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def folder(self) -> Path:
        return self.root / self.name

    @property
    def hidden(self) -> Path | None:
        """The task's hidden cases (``hidden.py``), None when it has none; never copied by :meth:`lay_out`."""
        path = self.folder / "hidden.py"
        return path if path.is_file() else None

    @property
    def llm_in_program(self) -> bool:
        """Whether the program itself calls a model (its runs cost program tokens)."""
        return self.kind in (Kind.PROMPT.value, Kind.LLM_PROGRAM.value)

    def visible_cases(self) -> Any:
        """The visible inputs, read as a literal from the file that holds them (None when not declared)."""
        if self.visible is None:
            return None
        file, _, name = self.visible.rpartition(":")
        return _literal(self.folder / (file or self.program), name)

    def hidden_cases(self) -> Any:
        """The hidden inputs (``CASES`` of ``hidden.py``) as a literal; None when the task has none."""
        return _literal(self.hidden, "CASES") if self.hidden is not None else None

    def trace_source(self) -> str:
        """trace-opt's form of the program, generated (raises TraceFormError when it cannot be); a prompt
        task's app gets its marked prompt passed to the functions that read it (``prompt_trace_source``)."""
        from .trace_form import prompt_trace_source, trace_source

        source = (self.folder / self.program).read_text()
        return prompt_trace_source(source) if self.runner == Runner.PROMPT else trace_source(source)

    def lay_out(self, side: str, dest: Path) -> Path:
        """Copy what one side runs into ``dest`` (its own project: a pyproject.toml marks the root);
        return the program's path there. ``side`` is "trace" (its program generated) or another side (the
        program as it is)."""
        if side not in self.sides:
            raise ValueError(f"task {self.name} does not run on side {side!r} (its sides: {', '.join(self.sides)})")
        dest.mkdir(parents=True, exist_ok=True)
        if side != "trace":
            program = dest / self.program
            shutil.copy(self.folder / self.program, program)
        else:
            program = dest / "program_trace.py"
            program.write_text(self.trace_source())
        shutil.copy(self.folder / self.judge, dest / self.judge)
        for name in self.files:
            shutil.copy(self.folder / name, dest / name)
        for name in self.shared:
            shutil.copy(SHARED / name, dest / name)
        if self.data:
            (dest / "data").mkdir(exist_ok=True)
            for name in self.data:
                shutil.copy(HERE / "data" / name, dest / "data" / name)
        (dest / "pyproject.toml").write_text("# one benchmark task: its own autotrace project\n[tool.autotrace]\n")
        return program


def _literal(path: Path, name: str) -> Any:
    """The literal value assigned to ``name`` at the top level of ``path`` (read, never run)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise TaskError(f"{path}: no top-level literal {name}")


def _strings(value: Any, key: str, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TaskError(f"{path}: {key} must be a list of strings")
    return tuple(value)


def load(folder: Path, root: Path | None = None) -> Task:
    """The task whose ``task.toml`` is in ``folder``; raises TaskError on a missing or wrong key."""
    path = folder / "task.toml"
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TaskError(f"{path}: {exc}") from None
    unknown = set(data) - _KEYS
    if unknown:
        raise TaskError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_KEYS))}")
    for key in ("kind", "steps", "target"):
        if key not in data:
            raise TaskError(f"{path}: {key} is required")
    try:
        kind = Kind(data["kind"]).value
        runner = Runner(data.get("runner", Runner.HARNESS.value)).value
    except ValueError as exc:
        raise TaskError(f"{path}: {exc}") from None
    sides = _strings(data.get("sides", list(SIDES[:2])), "sides", path)
    if not sides or set(sides) - set(SIDES):
        raise TaskError(f"{path}: sides must be some of {', '.join(SIDES)}")
    if not isinstance(data["steps"], int) or data["steps"] < 1:
        raise TaskError(f"{path}: steps must be a positive integer")
    if not isinstance(data["target"], int | float):
        raise TaskError(f"{path}: target must be a number")
    task = Task(name=folder.name, kind=kind, steps=data["steps"], target=float(data["target"]),
                shared=_strings(data.get("shared", ["scoring.py"]), "shared", path),
                data=_strings(data.get("data", []), "data", path), summary=str(data.get("summary", "")),
                root=(root or folder.parent), fresh=bool(data.get("fresh", False)), sides=sides, runner=runner,
                program=str(data.get("program", "program.py")), judge=str(data.get("judge", "judge.py")),
                files=_strings(data.get("files", []), "files", path), visible=data.get("visible"),
                tags=_strings(data.get("tags", []), "tags", path), quick=bool(data.get("quick", False)),
                order=int(data.get("order", 100)))
    for name in (task.program, task.judge, *task.files):
        if not (folder / name).is_file():
            raise TaskError(f"{path}: {name} is not in {folder}")
    return task


def discover(roots: tuple[Path, ...] = ROOTS) -> tuple[Task, ...]:
    """Every task under ``roots`` (a folder with a task.toml), root by root, each root's by order then name."""
    found: list[Task] = []
    for root in roots:
        if root.is_dir():
            found += sorted((load(p.parent, root) for p in root.glob("*/task.toml")), key=lambda t: (t.order, t.name))
    names = [t.name for t in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise TaskError(f"task name(s) registered twice: {', '.join(twice)}")
    return tuple(found)


def __getattr__(name: str) -> Any:
    """``ALL`` (every registered task), ``TASKS`` (the ones the harness runs on both sides: the autotrace vs
    trace-opt comparison) and ``QUICK`` (the names ``--quick`` runs), found on first use, so that a broken
    task.toml is a one-line error where a command reads the registry, not an import failure."""
    if name not in ("ALL", "TASKS", "QUICK"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    found = discover()
    globals().update(ALL=found, TASKS=tuple(t for t in found if t.runner == Runner.HARNESS.value),
                     QUICK=tuple(t.name for t in found if t.quick))
    return globals()[name]


def get(name: str) -> Task:
    registered: tuple[Task, ...] = __getattr__("ALL")
    for task in registered:
        if task.name == name:
            return task
    raise KeyError(f"no task {name!r}; known: {', '.join(t.name for t in registered)}")
