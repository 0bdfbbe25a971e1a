"""The benchmark tasks: each folder holds the program twice (``program.py`` with ``# autotrace: param``
markers, ``program_trace.py`` with trace-opt's ``node``/``bundle``) and one ``judge.py`` both sides use.

A judge's ``feedback(output)`` returns ``(score, message)`` with the score in [0, 1]; a task counts
as solved once the score reaches its ``target``. ``BENCH_SEED`` picks the task instance (targets,
test inputs, labelled items), the same for both sides.

A code task may also hold ``hidden.py``: inputs (``CASES``) that are never laid out for a run, so neither
the judge nor the prompt sees them; after the run, :mod:`benchmarks.hidden_cases` judges the run's final
function on them, and a fix that special-cases the visible inputs shows up there.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE / "_shared"


@dataclass(frozen=True)
class Task:
    name: str
    kind: str  # numeric | code | prompt | large
    steps: int  # optimization steps (LLM proposals; autotrace's may be measured steps), the same for both sides
    target: float  # score that counts as solved
    shared: tuple[str, ...] = ("scoring.py",)
    data: tuple[str, ...] = ()
    summary: str = ""

    @property
    def folder(self) -> Path:
        return HERE / self.name

    @property
    def hidden(self) -> Path | None:
        """The task's hidden cases (``hidden.py``), None when it has none; never copied by :meth:`lay_out`."""
        path = self.folder / "hidden.py"
        return path if path.is_file() else None

    def lay_out(self, side: str, dest: Path) -> Path:
        """Copy what one side runs into ``dest`` (its own project: a pyproject.toml marks the root);
        return the program's path there. ``side`` is "autotrace" or "trace"."""
        dest.mkdir(parents=True, exist_ok=True)
        program = "program.py" if side == "autotrace" else "program_trace.py"
        shutil.copy(self.folder / program, dest / program)
        shutil.copy(self.folder / "judge.py", dest / "judge.py")
        for name in self.shared:
            shutil.copy(SHARED / name, dest / name)
        if self.data:
            (dest / "data").mkdir(exist_ok=True)
            for name in self.data:
                shutil.copy(HERE / "data" / name, dest / "data" / name)
        (dest / "pyproject.toml").write_text("# one benchmark task: its own autotrace project\n[tool.autotrace]\n")
        return dest / program


_CODE = ("checks.py",)
_PROMPT = ("app_llm.py", "bigbench.py")

TASKS: tuple[Task, ...] = (
    Task("linear", "numeric", 5, 0.99, summary="1 constant through 2 functions: 3x+2 = target"),
    Task("fahrenheit", "numeric", 5, 0.99, summary="2 constants (scale, offset) of a unit conversion"),
    Task("rectangle", "numeric", 5, 0.99, summary="2 interacting constants: area and perimeter targets"),
    Task("ranking", "numeric", 5, 0.99, summary="combinatorial: sort key, order and count slots"),
    Task("budget", "numeric", 5, 0.99, summary="4 shares of an income, one target amount each"),
    Task("median", "code", 5, 1.0, _CODE, summary="median ignores even-length lists"),
    Task("leap_year", "code", 5, 1.0, _CODE, summary="leap years without the century rules"),
    Task("binary_search", "code", 5, 1.0, _CODE, summary="off-by-one loop bound misses hits"),
    Task("slugify", "code", 5, 1.0, _CODE, summary="slugs keep punctuation and repeated hyphens"),
    Task("roman", "code", 5, 1.0, _CODE, summary="Roman numerals without subtractive pairs"),
    Task("run_length", "code", 5, 1.0, _CODE, summary="run-length code drops the last run"),
    Task("duration", "code", 5, 1.0, _CODE, summary="\"1h30m\" read as one number of the last unit"),
    Task("title_case", "code", 5, 1.0, _CODE, summary="title case capitalises the small words too"),
    Task("merge_intervals", "code", 5, 1.0, _CODE, summary="intervals merged unsorted, touching ones kept apart"),
    Task("sports_prompt", "prompt", 4, 1.0, _PROMPT, ("sports_understanding.task.json",),
         summary="BIG-bench sports_understanding, 8 items"),
    Task("implicature_prompt", "prompt", 4, 1.0, _PROMPT, ("implicatures.task.json",),
         summary="BIG-bench implicatures, 8 items"),
    Task("savings_sim", "large", 4, 0.99, summary="2,000-day loop, ~4,000 calls per run"),
)

#: What ``--quick`` runs: two small tasks.
QUICK = ("linear", "median")


def get(name: str) -> Task:
    for task in TASKS:
        if task.name == name:
            return task
    raise KeyError(f"no task {name!r}; known: {', '.join(t.name for t in TASKS)}")
