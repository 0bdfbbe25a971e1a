"""Performance benchmarks (pytest-benchmark): what autotrace costs a program and a user, per commit.

Run by ``python -m benchmarks perf`` (saves a run under ``benchmarks/results/perf``) and compared with the
saved baseline by ``python -m benchmarks perf --compare`` (the slow check ``tests/test_perf_regression.py``).
The benchmarks that run in this process are timed in CPU time and read against ``reference``, a plain
Python loop measured in the same session; those marked ``wall`` run child processes and are timed by the
wall clock; see ``benchmarks/perf_data.py``.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from autotrace.project import Project
from autotrace.recorder import ParamNode, Recorder, RunOutcome, build_graph
from autotrace.runtime import Runtime, is_recorded
from autotrace.transforms.hook import Target, install, uninstall

ROOT = Path(__file__).resolve().parents[2]
CALLS = 20_000

SOURCE = '''"""Functions whose call cost is measured."""
K = 1  # autotrace: param a constant, so the module is a project file


def f(x):
    return x + 1


class Box:
    def __init__(self):
        self.items = []

    def add(self, x):
        self.items.append(x)
        return len(self.items)


def table(x):
    return [[str(x)] * 10 for _ in range(10)]
'''


def _calls(fn: Any, n: int = CALLS) -> None:
    for i in range(n):
        fn(i)


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, ModuleType, Runtime]]:
    """(plain module, instrumented module, its runtime): two copies of SOURCE, one through the import hook."""
    folder = tmp_path_factory.mktemp("perf_calls")
    (folder / "perf_plain.py").write_text(SOURCE)
    (folder / "perf_traced.py").write_text(SOURCE)
    (folder / "pyproject.toml").write_text("[tool.autotrace]\n")
    sys.path.insert(0, str(folder))
    project = Project.load(folder / "perf_traced.py")
    runtime = Runtime({})
    finder = install({p: Target(plan) for p, plan in project.plans().items() if p.name == "perf_traced.py"}, runtime)
    try:
        plain, traced = importlib.import_module("perf_plain"), importlib.import_module("perf_traced")
        assert is_recorded(traced.f), "the hook did not instrument perf_traced"
        yield plain, traced, runtime
    finally:
        uninstall(finder)
        sys.path.remove(str(folder))
        for name in ("perf_plain", "perf_traced"):
            sys.modules.pop(name, None)


def test_reference(benchmark: Any, modules: tuple[ModuleType, ModuleType, Runtime]) -> None:
    """20,000 calls of a plain one-line function: the yardstick every other figure is divided by."""
    benchmark(_calls, modules[0].f)


def test_not_recording(benchmark: Any, modules: tuple[ModuleType, ModuleType, Runtime]) -> None:
    """20,000 calls of the instrumented function while nothing records (the quiet twin)."""
    benchmark(_calls, modules[1].f)


def test_recording(benchmark: Any, modules: tuple[ModuleType, ModuleType, Runtime]) -> None:
    """20,000 recorded calls (the hot path of an evaluation)."""
    _, traced, runtime = modules

    def record() -> None:
        with runtime.recording(Recorder()):
            _calls(traced.f)

    benchmark(record)


def test_recording_methods(benchmark: Any, modules: tuple[ModuleType, ModuleType, Runtime]) -> None:
    """20,000 recorded calls of one object's method, recorded as the pytest plugin records a test (a text budget
    of 1,000): its ``self`` is detached when each call ends, with its text for the first 1,000, brief after."""
    _, traced, runtime = modules

    def record() -> None:
        box = traced.Box()
        with runtime.recording(Recorder(texts=1_000)):
            _calls(box.add)

    benchmark(record)


def test_recording_tables(benchmark: Any, modules: tuple[ModuleType, ModuleType, Runtime]) -> None:
    """2,000 recorded calls each returning a new 10x10 table of strings: the result is detached when its call ends
    and, holding only plain values, kept alive for the recording (no later list takes its address)."""
    _, traced, runtime = modules

    def record() -> None:
        with runtime.recording(Recorder()):
            _calls(traced.table, 2_000)

    benchmark(record)


def test_build_graph(benchmark: Any, modules: tuple[ModuleType, ModuleType, Runtime]) -> None:
    """The DAG of 20,000 recorded calls, built after the run."""
    _, traced, runtime = modules

    def recorded() -> tuple[tuple[Recorder], dict[str, Any]]:
        recorder = Recorder()
        with runtime.recording(recorder):
            _calls(traced.f)
        return (recorder,), {}

    benchmark.pedantic(lambda recorder: build_graph(recorder, [ParamNode("perf_traced.K", 1, "literal")],
                                                    RunOutcome(None, None)), setup=recorded, rounds=5)


def test_transform(benchmark: Any, tmp_path: Path) -> None:
    """An instrumented import of a copy of the standard library's textwrap (~500 lines), no bytecode cache:
    the analysis, the rewrite and both compiles."""
    import textwrap

    from autotrace.transforms.plan import ModulePlan

    name = "perf_textwrap"
    path = tmp_path / f"{name}.py"
    path.write_text(Path(textwrap.__file__).read_text(encoding="utf-8"), encoding="utf-8")
    param = f"{name}.TextWrapper._split"
    plan = ModulePlan(name, functions={"TextWrapper._split": param}, param_names=frozenset({param}))
    sys.path.insert(0, str(tmp_path))

    def load() -> None:
        finder = install({path: Target(plan)}, Runtime(), cache=False)
        try:
            importlib.import_module(name)
        finally:
            uninstall(finder)
            sys.modules.pop(name, None)

    try:
        benchmark(load)
    finally:
        sys.path.remove(str(tmp_path))


@pytest.fixture(scope="module")
def linear_job(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One evaluation of the registered task ``linear`` (program, judge), its bytecode cache written."""
    from autotrace.runners.program_runs import evaluation_of, make_job
    from autotrace.runners.sandbox import Limits, evaluate
    from benchmarks.tasks import get

    folder = tmp_path_factory.mktemp("perf_linear")
    program = get("linear").lay_out("autotrace", folder)
    job = make_job(Project.load(program), program, "main", folder / "judge.py", {})
    assert evaluation_of(evaluate(job, Limits(timeout=120))).problem is None
    return job


@pytest.mark.wall
@pytest.mark.parametrize("way", ["spawn", "fork", "fork --jobs 2"])
def test_evaluations(benchmark: Any, linear_job: Any, way: str) -> None:
    """4 evaluations of one program: a process each (spawn), the fork server, the fork server with 2 jobs."""
    from autotrace.runners.executor import Executor
    from autotrace.runners.sandbox import Limits, evaluate

    limits = Limits(timeout=120)
    jobs = [linear_job] * 4
    if way == "spawn":
        benchmark.pedantic(lambda: [evaluate(j, limits) for j in jobs], rounds=2)
        return
    with Executor(limits, kind="fork", jobs=2 if "jobs" in way else 1) as executor:
        executor.run_many([linear_job])  # the server starts once per optimization run, not per evaluation
        benchmark.pedantic(lambda: executor.run_many(jobs), rounds=3)


def test_report(benchmark: Any, tmp_path: Path) -> None:
    """``autotrace report``'s page for a stored run of 3 steps over a 1,000-call chain (store read included)."""
    from autotrace.report.page import run_html
    from autotrace.report.run import run_view
    from benchmarks.report_size import build_run

    store, run_id = build_run(tmp_path, calls=1000, steps=3)
    run = store.get_run(run_id)
    try:
        benchmark.pedantic(lambda: run_html(run_view(run, store.steps(run_id), tmp_path, use_graphviz=False)),
                           rounds=7)
    finally:
        store.close()


@pytest.mark.wall
def test_pytest_plugin(benchmark: Any, tmp_path: Path) -> None:
    """The pytest plugin on a real suite: examples/pytest_project under ``--autotrace-all`` (every function
    recorded, each test's DAG built), in a child pytest."""
    project = tmp_path / "pytest_project"
    shutil.copytree(ROOT / "examples" / "pytest_project", project)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--autotrace", "--autotrace-all=src",
               "--autotrace-report=report.json", "tests"]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=600)

    done = benchmark.pedantic(run, rounds=2)
    assert "2 failed, 3 passed" in done.stdout and (project / "report.json").is_file(), done.stdout + done.stderr


@pytest.mark.wall
def test_cached_rerun(benchmark: Any, tmp_path: Path) -> None:
    """``autotrace optimize`` of examples/prompt_app (1 step) run again in its project: every model call, the
    program's and the optimizer's, answered from the run store (``benchmarks/rerun_cache.py``)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from llmserver import ScriptedLLMServer

    from benchmarks.rerun_cache import lay_out, one_run, scripted, user_env

    folder, env = lay_out(tmp_path), user_env()
    with ScriptedLLMServer() as server:
        model = scripted(server, 0.0)
        assert "run" in one_run(folder, 1, model, env, 600)  # the first run, which asks the model
        asked = len(server.chat_requests)
        done = benchmark.pedantic(lambda: one_run(folder, 1, model, env, 600), rounds=2)
        assert "run" in done and len(server.chat_requests) == asked, done
