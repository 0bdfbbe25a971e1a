"""Test helper: write modules to a folder, import them through the real import hook, record a run."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from autotrace.project import Project
from autotrace.recorder import ParamNode, Recorder, RunOutcome, build_graph
from autotrace.runtime import Runtime
from autotrace.transforms.hook import Target, install, uninstall


@dataclass
class Program:
    root: Path
    project: Project
    runtime: Runtime

    def module(self, name: str) -> Any:
        return importlib.import_module(name)

    def record(self, func: Callable, *args: Any, **kwargs: Any) -> nx.DiGraph:
        """Call ``func`` under a fresh recorder and return the run's DAG."""
        recorder = Recorder()
        output, error = None, None
        with self.runtime.recording(recorder):
            try:
                output = func(*args, **kwargs)
            except Exception as exc:
                error = exc
        entry = 0 if recorder.calls and recorder.is_call_of(recorder.calls[0], func) else None
        params = [ParamNode(p.name, self.runtime.values.get(p.name, p.initial), p.kind, p.description)
                  for p in self.project.params]
        return build_graph(recorder, params, RunOutcome(entry, output, error))


@contextmanager
def program(tmp_path: Path, files: dict[str, str], values: dict[str, Any] | None = None,
            selectors: tuple[str, ...] = (), cache: bool = False) -> Iterator[Program]:
    """Write ``files`` (dedented) under ``tmp_path``, install the hook for all of them, and clean up
    ``sys.modules`` / ``sys.path`` / ``sys.meta_path`` afterwards."""
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    (tmp_path / "pyproject.toml").touch()
    py_files = [tmp_path / n for n in files if n.endswith(".py")]
    project = Project.load(None, [f"{tmp_path / s}" for s in selectors], root=tmp_path, instrument=py_files)
    runtime = Runtime(values)
    plans = project.plans()
    finder = install({p: Target(plans[p]) for p in project.files}, runtime, cache=cache)
    before = set(sys.modules)
    sys.path.insert(0, str(tmp_path))
    try:
        yield Program(tmp_path, project, runtime)
    finally:
        uninstall(finder)
        sys.path.remove(str(tmp_path))
        for name in set(sys.modules) - before:
            del sys.modules[name]


def edges(graph: nx.DiGraph) -> set[tuple[str, str, str]]:
    """Edges as (source label, target label, role), readable in assertions."""
    def label(node: str) -> str:
        data = graph.nodes[node]
        if data["kind"] == "call":
            return f"{data['func'].rpartition('.')[2]}#{data['seq']}"
        return data["label"] if data["kind"] != "input" else f"input={data['value']}"

    return {(label(u), label(v), role) for u, v, role in graph.edges(data="role")}
