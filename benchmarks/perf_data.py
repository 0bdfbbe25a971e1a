"""The performance runs: run the pytest-benchmark suite, save it per commit, compare with the baseline.

pytest-benchmark measures and saves (``benchmarks/results/perf/<machine>/NNNN_<commit>-<timer>.json``, its
own format), in two sessions: the benchmarks that run in this process are timed in CPU time
(``time.process_time``: on a shared machine a wall-clock round is preempted, a CPU-time round is not), the
ones marked ``wall`` (child processes: evaluations, the pytest plugin) by the wall clock. The comparison
is done here, on each CPU benchmark's minimum *divided by the* ``reference`` *benchmark's minimum in the
same run*, which cancels a machine that is slower as a whole; a ratio that grew by more than
:data:`THRESHOLD_PERCENT` percent over the baseline's fails. Wall-clock figures are compared and shown, never
failed on: on a machine shared by other jobs they move by more than any threshold worth having.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from .rows import head_commit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SUITE = HERE / "perf" / "test_perf.py"
STORAGE = HERE / "results" / "perf"
STORAGE_REL = "benchmarks/results/perf"
REFERENCE = "test_reference"
THRESHOLD_PERCENT = 15
#: Benchmarks whose CPU minimum spreads more between runs of one commit get a wider threshold (percent).
WIDER = {"test_build_graph": 25, "test_report": 25}
TIMERS = {"cpu": "time.process_time", "wall": "time.perf_counter"}
#: How many times a CPU figure over its threshold is measured again before it counts as a regression.
CONFIRMATIONS = 2
RUN_COMMAND = "python -m benchmarks perf"
COMPARE_COMMAND = "python -m benchmarks perf --compare"


@dataclass(frozen=True)
class Bench:
    name: str
    min: float  # seconds
    median: float
    rounds: int
    doc: str
    timer: str = "cpu"  # "cpu" (this process's CPU time, compared) or "wall" (child processes, shown)


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


def fastest(first: PerfRun, again: PerfRun) -> PerfRun:
    """``first`` with each CPU benchmark ``again`` measured (the reference included) at its lower minimum.

    CPU time is only ever added to by the rest of the machine (another process in the caches, a busy
    memory bus), so the lower of two minimums is the closer to what the code costs; a real regression
    stays above its threshold however often it is measured."""
    lower = {b.name: b for b in again.benchmarks if b.timer == "cpu"}
    return replace(first, benchmarks=tuple(
        min(b, lower[b.name], key=lambda one: one.min) if b.timer == "cpu" and b.name in lower else b
        for b in first.benchmarks))


def _docs() -> dict[str, str]:
    """Each benchmark's first docstring line, read from the suite's source (not imported)."""
    docs = {}
    for node in ast.parse(SUITE.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            docs[node.name] = (ast.get_docstring(node) or "").split("\n\n")[0].replace("\n", " ")
    return docs


def read(*paths: Path) -> PerfRun:
    """One performance run from its saved session files (the CPU one and the wall one)."""
    docs = _docs()
    benches: list[Bench] = []
    machine = commit = ""
    for path in paths:
        data = json.loads(path.read_text())
        info = data.get("machine_info", {})
        machine = f"{info.get('cpu', {}).get('count', '?')} cores, {info.get('python_implementation', '')} " \
                  f"{info.get('python_version', '')}".strip()
        commit, timer = _name(path)
        benches += [Bench(name=b["name"], min=b["stats"]["min"], median=b["stats"]["median"],
                          rounds=b["stats"]["rounds"], doc=docs.get(b["name"].partition("[")[0], ""), timer=timer)
                    for b in data["benchmarks"]]
    return PerfRun(commit=commit, machine=machine, benchmarks=tuple(benches), path=paths[-1] if paths else None)


def _name(path: Path) -> tuple[str, str]:
    """(commit, timer) of a session file: ``NNNN_<commit>-<timer>.json`` saved, ``<timer>.json`` just run."""
    if path.stem in TIMERS:
        return "", path.stem
    commit, _, timer = path.stem.partition("_")[2].rpartition("-")
    return (commit, timer) if timer in TIMERS else (path.stem.partition("_")[2], "cpu")


def saved() -> list[Path]:
    """The saved session files, oldest first (pytest-benchmark numbers them)."""
    return sorted(STORAGE.glob("*/*.json"), key=lambda p: p.name)


def latest() -> PerfRun | None:
    """The last saved run: the newest file of each timer."""
    newest: dict[str, Path] = {}
    for path in saved():
        newest[_name(path)[1]] = path
    return read(*newest.values()) if newest else None


def human(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def _user_env() -> dict[str, str]:
    """The environment a user's pytest runs in: installed plugins load (autotrace's own test run turns that
    off for the pytest runs it starts; the suite measures the plugin as users run it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    return {**env, "PYTHONPATH": str(ROOT)}


def run(save: bool, only: str | None = None) -> PerfRun:
    """Run the suite in child pytests (no xdist, none of the default marker filter), one per timer; save
    them when asked."""
    commit = head_commit()
    with tempfile.TemporaryDirectory(prefix="autotrace-perf-") as tmp:
        outputs = []
        for timer, clock in TIMERS.items():
            out = Path(tmp) / f"{timer}.json"
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                       "-o", "addopts=", f"--rootdir={ROOT}", str(SUITE), f"--benchmark-json={out}",
                       f"--benchmark-timer={clock}", "--benchmark-columns=min,median,rounds",
                       "-m", "wall" if timer == "wall" else "not wall"]
            command += ["-k", only] if only else []
            if save:
                command += [f"--benchmark-storage=file://{STORAGE}", f"--benchmark-save={commit}-{timer}"]
            done = subprocess.run(command, cwd=tmp, env=_user_env())
            if done.returncode == 5:  # -k selected none of this timer's benchmarks
                continue
            if done.returncode != 0:
                raise RuntimeError(f"the performance suite failed (exit {done.returncode})")
            outputs.append(out)
        return replace(read(*outputs), commit=commit)


def compare(current: PerfRun, baseline: PerfRun, threshold: float = THRESHOLD_PERCENT,
            wider: dict[str, float] | None = None) -> tuple[list[str], list[str]]:
    """Lines comparing each CPU benchmark's ratio to the reference with the baseline's (and each wall-clock
    figure with the baseline's, for information), and the CPU benchmarks whose ratio grew by more than its
    threshold: ``threshold`` %, or the benchmark's own in ``wider`` (default :data:`WIDER`)."""
    wider = WIDER if wider is None else wider
    lines = [f"baseline: commit {baseline.commit}; fails beyond +{threshold:g} % on CPU min / CPU min({REFERENCE})"
             + "".join(f", {name} +{limit:g} %" for name, limit in sorted(wider.items()))]
    failed: list[str] = []
    before = {b.name: b for b in baseline.benchmarks}
    for bench in current.benchmarks:
        if bench.name == REFERENCE:
            continue
        if bench.timer == "wall":
            if bench.name in before:
                change = (bench.min / before[bench.name].min - 1) * 100
                lines.append(f"  {bench.name}: {human(before[bench.name].min)} -> {human(bench.min)} wall "
                             f"({change:+.1f} %) shown, not checked")
            continue
        now, then = current.ratio(bench.name), baseline.ratio(bench.name)
        if now is None or then is None:
            lines.append(f"  {bench.name}: not in the baseline")
            continue
        change = (now / then - 1) * 100
        limit = wider.get(bench.name.partition("[")[0], threshold)
        verdict = "REGRESSION" if change > limit else "ok"
        failed += [bench.name] if change > limit else []
        lines.append(f"  {bench.name}: {then:,.1f}x -> {now:,.1f}x the reference ({change:+.1f} %) {verdict}")
    return lines, failed
