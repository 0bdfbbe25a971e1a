"""Recording overhead, side by side in one run: plain Python, autotrace-instrumented (not recording,
recording) in this process, and trace-opt's ``@bundle`` in its own venv (a subprocess per round).

Rounds are interleaved (plain, not recording, recording, trace-opt, then again) so a noisy machine
disturbs every variant alike; the report gives the median over rounds and the ratios per round's median.
"""

from __future__ import annotations

import importlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from autotrace.project import Project
from autotrace.recorder import ParamNode, Recorder, RunOutcome, build_graph
from autotrace.runtime import Runtime, is_recorded
from autotrace.transforms.hook import Target, install, uninstall

SOURCE = '''"""Functions whose call cost is measured."""

K = 1  # autotrace: param a constant, so the module is a project file


def f(x):
    return x + 1


def work(x):
    total = 0
    for i in range(40):
        total += (i * x) % 7
    return total


def count(items):
    return len(items)
'''

#: the list passed to ``count``: a container the recorder holds until the call ends, then detaches
ITEMS = list(range(10))

TRACE_SCRIPT = Path(__file__).resolve().parent / "trace_side" / "overhead.py"


def _per_call(fn, n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - started) / n * 1e6


def _load(folder: Path) -> tuple[Any, Any, Runtime, Any]:
    """(plain module, instrumented module, runtime, finder) from two copies of SOURCE."""
    (folder / "plain_calls.py").write_text(SOURCE)
    (folder / "traced_calls.py").write_text(SOURCE)
    (folder / "pyproject.toml").write_text("[tool.autotrace]\n")
    sys.path.insert(0, str(folder))
    plain = importlib.import_module("plain_calls")
    project = Project.load(folder / "traced_calls.py")
    plans = {p: plan for p, plan in project.plans().items() if p.name == "traced_calls.py"}
    runtime = Runtime({})
    finder = install({p: Target(plan) for p, plan in plans.items()}, runtime)
    traced = importlib.import_module("traced_calls")
    assert is_recorded(traced.f), "the hook did not instrument traced_calls"
    return plain, traced, runtime, finder


def measure(trace_python: Path | None, n: int = 100_000, rounds: int = 5) -> dict[str, Any]:
    rows: dict[str, list[float]] = {k: [] for k in (
        "plain", "off", "on", "build_graph", "plain_work", "off_work", "on_work", "plain_list", "on_list",
        "trace_plain", "trace_bundle", "trace_plain_work", "trace_bundle_work", "trace_stop_tracing")}
    trace_error = None
    with tempfile.TemporaryDirectory(prefix="autotrace-overhead-") as tmp:
        plain, traced, runtime, finder = _load(Path(tmp))
        try:
            for _ in range(rounds):
                rows["plain"].append(_per_call(plain.f, n))
                rows["off"].append(_per_call(traced.f, n))
                recorder = Recorder()
                with runtime.recording(recorder):
                    rows["on"].append(_per_call(traced.f, n))
                started = time.perf_counter()
                build_graph(recorder, [ParamNode("traced_calls.K", 1, "literal")], RunOutcome(None, None))
                rows["build_graph"].append((time.perf_counter() - started) / n * 1e6)
                del recorder
                rows["plain_work"].append(_per_call(plain.work, n // 10))
                rows["off_work"].append(_per_call(traced.work, n // 10))
                with runtime.recording(Recorder()):
                    rows["on_work"].append(_per_call(traced.work, n // 10))
                rows["plain_list"].append(_per_call(lambda _: plain.count(ITEMS), n // 10))
                with runtime.recording(Recorder()):
                    rows["on_list"].append(_per_call(lambda _: traced.count(ITEMS), n // 10))
                if trace_python is not None and trace_error is None:
                    proc = subprocess.run([str(trace_python), str(TRACE_SCRIPT), str(n)], capture_output=True,
                                          text=True, timeout=900)
                    if proc.returncode != 0:
                        trace_error = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
                        continue
                    data = json.loads(proc.stdout.strip().splitlines()[-1])
                    rows["trace_plain"].append(data["plain_us"])
                    rows["trace_bundle"].append(data["bundle_us"])
                    rows["trace_plain_work"].append(data["plain_work_us"])
                    rows["trace_bundle_work"].append(data["bundle_work_us"])
                    rows["trace_stop_tracing"].append(data["bundle_stop_tracing_us"])
        finally:
            uninstall(finder)
            sys.path.remove(tmp)
            for name in ("plain_calls", "traced_calls"):
                sys.modules.pop(name, None)
    med = {k: statistics.median(v) if v else None for k, v in rows.items()}
    low = {k: min(v) if v else None for k, v in rows.items()}
    return {"n": n, "rounds": rounds, "median_us": med, "min_us": low, "raw_us": rows, "trace_error": trace_error}


if __name__ == "__main__":
    trace = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    print(json.dumps(measure(trace), indent=1))
