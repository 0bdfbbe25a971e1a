"""The performance runs: run the pytest-benchmark suite, save it per commit, compare with the baseline.

pytest-benchmark measures and saves (``benchmarks/results/perf/<machine>/NNNN_<commit>.json``, its own
format). The comparison is done here, on each benchmark's minimum *divided by the* ``reference``
*benchmark's minimum in the same run*: the minimum is the figure least moved by other processes, and the
ratio cancels a machine that is slower or busier as a whole, which a comparison of absolute times would
report as a regression of everything. A benchmark whose ratio grew by more than :data:`THRESHOLD_PERCENT`
percent over the baseline's fails the comparison.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .rows import head_commit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SUITE = HERE / "perf" / "test_perf.py"
STORAGE = HERE / "results" / "perf"
STORAGE_REL = "benchmarks/results/perf"
REFERENCE = "test_reference"
THRESHOLD_PERCENT = 10
RUN_COMMAND = "python -m benchmarks perf"
COMPARE_COMMAND = "python -m benchmarks perf --compare"


@dataclass(frozen=True)
class Bench:
    name: str
    min: float  # seconds
    median: float
    rounds: int
    doc: str


@dataclass(frozen=True)
class PerfRun:
    commit: str
    machine: str
    benchmarks: tuple[Bench, ...]
    path: Path | None = None

    def ratio(self, name: str) -> float | None:
        """The benchmark's minimum over the reference's (None when either is missing)."""
        by_name = {b.name: b for b in self.benchmarks}
        if name not in by_name or REFERENCE not in by_name:
            return None
        return by_name[name].min / by_name[REFERENCE].min


def _docs() -> dict[str, str]:
    """Each benchmark's first docstring line, read from the suite's source (not imported)."""
    docs = {}
    for node in ast.parse(SUITE.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            docs[node.name] = (ast.get_docstring(node) or "").split("\n\n")[0].replace("\n", " ")
    return docs


def read(path: Path) -> PerfRun:
    """One saved pytest-benchmark run."""
    data = json.loads(path.read_text())
    docs = _docs()
    info = data.get("machine_info", {})
    machine = f"{info.get('cpu', {}).get('count', '?')} cores, {info.get('python_implementation', '')} " \
              f"{info.get('python_version', '')}".strip()
    commit = (data.get("commit_info") or {}).get("id", "")[:7] or path.stem.partition("_")[2]
    benches = tuple(Bench(name=b["name"], min=b["stats"]["min"], median=b["stats"]["median"],
                          rounds=b["stats"]["rounds"], doc=docs.get(b["name"].partition("[")[0], ""))
                    for b in data["benchmarks"])
    return PerfRun(commit=commit, machine=machine, benchmarks=benches, path=path)


def saved() -> list[Path]:
    """The saved runs, oldest first (pytest-benchmark numbers them)."""
    return sorted(STORAGE.glob("*/*.json"), key=lambda p: p.name)


def latest() -> PerfRun | None:
    paths = saved()
    return read(paths[-1]) if paths else None


def human(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def run(save: bool, only: str | None = None) -> PerfRun:
    """Run the suite in a child pytest (no xdist, none of the default marker filter); save it when asked."""
    with tempfile.TemporaryDirectory(prefix="autotrace-perf-") as tmp:
        out = Path(tmp) / "run.json"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-o", "addopts=",
                   f"--rootdir={ROOT}", str(SUITE), f"--benchmark-json={out}", "--benchmark-columns=min,median,rounds"]
        if only:
            command += ["-k", only]
        if save:
            command += [f"--benchmark-storage=file://{STORAGE}", f"--benchmark-save={head_commit()}"]
        done = subprocess.run(command, cwd=tmp, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if done.returncode != 0:
            raise RuntimeError(f"the performance suite failed (exit {done.returncode})")
        return read(out)


def compare(current: PerfRun, baseline: PerfRun, threshold: float = THRESHOLD_PERCENT) -> tuple[list[str], bool]:
    """Lines comparing each benchmark's ratio to the reference with the baseline's; True when one grew
    by more than ``threshold`` percent."""
    lines = [f"baseline: commit {baseline.commit} ({baseline.path.name if baseline.path else '?'}); "
             f"threshold +{threshold:g} % on min / min({REFERENCE})"]
    failed = False
    for bench in current.benchmarks:
        if bench.name == REFERENCE:
            continue
        now, then = current.ratio(bench.name), baseline.ratio(bench.name)
        if now is None or then is None:
            lines.append(f"  {bench.name}: not in the baseline")
            continue
        change = (now / then - 1) * 100
        verdict = "REGRESSION" if change > threshold else "ok"
        failed |= change > threshold
        lines.append(f"  {bench.name}: {then:,.1f}x -> {now:,.1f}x the reference ({change:+.1f} %) {verdict}")
    return lines, failed
