"""Import cost of instrumented modules: the first import (LibCST rewrite, bytecode cache written),
a cached import, and a plain import of the same file, each in a fresh interpreter.

The parameters are found once in this process (``Project.load``, as ``autotrace optimize`` does
once per run); each probe then installs the hook from those plans the way an evaluation worker does.
The "large" module is a copy of the standard library's ``argparse.py`` (every function and method is
wrapped); the "small" one is a benchmark task program. Times are medians over ``repeats`` fresh
processes.
"""

from __future__ import annotations

import argparse as _argparse_module
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROBE = r'''
import importlib, json, sys, time
folder, name, plans = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, folder)
result = {}
if plans != "plain":  # what the worker does: install the hook from the job's plans, then import
    started = time.perf_counter()
    from pathlib import Path
    from autotrace.runners.job import plan_from_dict
    from autotrace.runtime import Runtime
    from autotrace.transforms.hook import Target, install
    fields = json.loads(Path(plans).read_text())
    install({Path(p): Target(plan_from_dict(f)) for p, f in fields.items()}, Runtime({}))
    result["hook_ms"] = (time.perf_counter() - started) * 1000
started = time.perf_counter()
module = importlib.import_module(name)
result["import_ms"] = (time.perf_counter() - started) * 1000
result["libcst_loaded"] = "libcst" in sys.modules
print(json.dumps(result))
'''


def _probe(folder: Path, name: str, plans: str) -> dict[str, Any]:
    # PYTHONDONTWRITEBYTECODE would turn off both .pyc caches (the plain one and autotrace's): unset here
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(folder), name, plans], capture_output=True, text=True,
                          timeout=600, env=env)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "probe failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _plans(path: Path) -> tuple[str, float]:
    """The project's plans as the worker gets them (a JSON file), and how long finding them took."""
    from autotrace.project import Project
    from autotrace.runners.job import plan_to_dict

    started = time.perf_counter()
    project = Project.load(path)
    plans = {str(p): plan_to_dict(plan) for p, plan in project.plans().items()}
    seconds = time.perf_counter() - started
    out = path.parent / "plans.json"
    out.write_text(json.dumps(plans))
    return str(out), seconds * 1000


def _clear_autotrace_cache(folder: Path) -> None:
    for path in (folder / "__pycache__").glob("*.autotrace-*.pyc"):
        path.unlink()


def _modules(folder: Path) -> dict[str, tuple[Path, int]]:
    """name -> (file, lines) of the modules measured, each copied into a project folder of its own."""
    here = Path(__file__).resolve().parent
    for sub in ("small", "big"):
        (folder / sub).mkdir()
        (folder / sub / "pyproject.toml").write_text("[tool.autotrace]\n")
    small = folder / "small" / "task_program.py"
    shutil.copy(here / "tasks" / "ranking" / "program.py", small)
    big = folder / "big" / "big_module.py"
    source = Path(_argparse_module.__file__).read_text()
    big.write_text("VERBOSE = False  # autotrace: param a marker, so the file is a project file\n" + source)
    return {p.stem: (p, len(p.read_text().splitlines())) for p in (small, big)}


def measure(repeats: int = 5) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="autotrace-import-") as tmp:
        folder = Path(tmp)
        for name, (path, lines) in _modules(folder).items():
            where = path.parent
            samples: dict[str, list[float]] = {"plain": [], "first": [], "cached": [], "hook": [], "discover": []}
            libcst_first = libcst_cached = None
            _probe(where, name, "plain")  # writes the plain .pyc once
            plans, _ = _plans(path)  # the first call pays for importing LibCST; not counted
            for _ in range(repeats):
                samples["plain"].append(_probe(where, name, "plain")["import_ms"])
                _clear_autotrace_cache(where)
                samples["discover"].append(_plans(path)[1])
                first = _probe(where, name, plans)
                samples["first"].append(first["import_ms"])
                cached = _probe(where, name, plans)
                samples["cached"].append(cached["import_ms"])
                samples["hook"].append(cached["hook_ms"])
                libcst_first, libcst_cached = first["libcst_loaded"], cached["libcst_loaded"]
            med = {k: statistics.median(v) for k, v in samples.items()}
            rows.append({"module": name, "lines": lines, "repeats": repeats, "median_ms": med,
                         "raw_ms": samples, "libcst_loaded_first": libcst_first,
                         "libcst_loaded_cached": libcst_cached})
    return rows


def trace_import(trace_python: Path, repeats: int = 3) -> dict[str, Any] | None:
    """For context: how long ``import opto.trace, opto.optimizers`` takes in trace-opt's venv."""
    code = ("import os, time; os.environ.setdefault('LITELLM_LOCAL_MODEL_COST_MAP', 'True'); t = time.perf_counter();"
            "import opto.trace, opto.optimizers; print((time.perf_counter() - t) * 1000)")
    samples = []
    for _ in range(repeats):
        proc = subprocess.run([str(trace_python), "-c", code], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            return None
        samples.append(float(proc.stdout.strip().splitlines()[-1]))
    return {"median_ms": statistics.median(samples), "raw_ms": samples}


if __name__ == "__main__":
    started = time.perf_counter()
    print(json.dumps(measure(3), indent=1))
    print(f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
