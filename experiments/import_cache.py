"""What importing instrumented modules costs: the first import (LibCST rewrite), the cached import
(autotrace's hash-checked bytecode in ``__pycache__``) and a plain import, each in a fresh interpreter.

    .venv/bin/python experiments/import_cache.py [--runs 7]

The modules are renamed copies of pure-Python standard-library modules (real code of some size), so
nothing has imported them before. In each child the originals are imported first, which loads their
dependencies; then only the ``import`` statements of the copies are timed. Installing the hook
(importing autotrace's runtime) is timed apart. CPU time is reported beside wall time because a
shared machine makes wall time noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

MODULES = ("difflib", "fractions", "statistics", "textwrap", "ipaddress", "argparse")

CHILD = r"""
import importlib, json, sys, time
from pathlib import Path

mode, folder, *names = sys.argv[1:]
sys.path.insert(0, folder)
for name in names:
    importlib.import_module(name)  # the originals: their dependencies are loaded before timing
wall0, cpu0 = time.perf_counter(), time.process_time()
if mode != "plain":
    from autotrace.runtime import Runtime
    from autotrace.transforms.hook import Target, install
    from autotrace.transforms.plan import ModulePlan

    install({Path(folder, f"bench_{n}.py"): Target(ModulePlan(module=f"bench_{n}")) for n in names}, Runtime())
wall1, cpu1 = time.perf_counter(), time.process_time()
for name in names:
    importlib.import_module(f"bench_{name}")
wall2, cpu2 = time.perf_counter(), time.process_time()
print(json.dumps({"setup_wall": wall1 - wall0, "setup_cpu": cpu1 - cpu0, "wall": wall2 - wall1, "cpu": cpu2 - cpu1,
                  "libcst": "libcst" in sys.modules}))
"""


def make_modules(folder: Path) -> int:
    """Copy the standard-library modules in as ``bench_<name>.py``; the number of lines copied."""
    lines = 0
    for name in MODULES:
        source = Path(__import__(name).__file__).read_text(encoding="utf-8")
        (folder / f"bench_{name}.py").write_text(source, encoding="utf-8")
        lines += source.count("\n")
    return lines


def clear(folder: Path, pattern: str) -> None:
    for path in (folder / "__pycache__").glob(pattern):
        path.unlink()


def measure(mode: str, folder: Path, env: dict[str, str]) -> dict:
    argv = [sys.executable, "-c", CHILD, "plain" if mode.startswith("plain") else "autotrace", str(folder), *MODULES]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per mode (median reported)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # the caches must be written
    folder = Path(tempfile.mkdtemp(prefix="autotrace-import-bench-"))
    try:
        lines = make_modules(folder)
        # mode -> what to delete before each run (a glob in __pycache__), so the run starts cold or warm
        modes = {
            "plain, bytecode cached": None,
            "plain, compiled from source": "bench_*.cpython-*.pyc",
            "autotrace, first import (rewrite)": "bench_*.autotrace-*.pyc",
            "autotrace, cached import": None,
        }
        results: dict[str, list[dict]] = {}
        for mode, stale in modes.items():
            measure(mode, folder, env)  # warm-up: fills the caches this mode may read
            runs = []
            for _ in range(args.runs):
                if stale:
                    clear(folder, stale)
                runs.append(measure(mode, folder, env))
            results[mode] = runs
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    median = {mode: {key: statistics.median(r[key] for r in runs) for key in ("wall", "cpu", "setup_wall", "setup_cpu")}
              for mode, runs in results.items()}
    base = median["plain, bytecode cached"]
    print(f"{len(MODULES)} modules ({', '.join(MODULES)}), {lines:,} lines; median of {args.runs} fresh interpreters; "
          f"Python {sys.version.split()[0]}")
    print(f"{'import of the modules':<36} {'wall ms':>9} {'× plain':>8} {'cpu ms':>9} {'× plain':>8}  libcst loaded")
    for mode, m in median.items():
        loaded = "yes" if any(r["libcst"] for r in results[mode]) else "no"
        print(f"{mode:<36} {m['wall'] * 1e3:9.1f} {m['wall'] / base['wall']:8.2f} {m['cpu'] * 1e3:9.1f} "
              f"{m['cpu'] / base['cpu']:8.2f}  {loaded}")
    setup = median["autotrace, cached import"]
    print(f"installing the hook (importing autotrace's runtime, once per process): "
          f"{setup['setup_wall'] * 1e3:.1f} ms wall, {setup['setup_cpu'] * 1e3:.1f} ms cpu")
    return 0


if __name__ == "__main__":
    sys.exit(main())
