"""toolz's suite under the import hook with and without ``PYTHONDONTWRITEBYTECODE=1``, side by side.

With bytecode writing off (many container images and CI set-ups), the hook's cache of rewritten modules
is kept in autotrace's own cache folder instead of ``__pycache__``; before that, every run analysed every
module with LibCST again. Three modes, each warmed by one run, then timed round-robin:

* ``bytecode``: Python writes bytecode, the hook's cache lies in ``__pycache__``;
* ``no-bytecode``: ``PYTHONDONTWRITEBYTECODE=1``, the cache in ``$AUTOTRACE_CACHE_DIR/instrumented``;
* ``no-cache``: as ``no-bytecode`` with an unwritable cache folder: what every run cost before.

The suite runs as the real-suites benchmark sets it up (``benchmarks/real_suites.py``: toolz from its
PyPI sdist in a venv of its own under ``--workdir``) with ``-p autotrace --autotrace-all=toolz`` (every
function rewritten, no report), ``--rootdir`` the extracted tree: toolz's setup.cfg has no pytest
section, so with the default work dir (inside this checkout) pytest would take the checkout for the
project and the plugin would look for markers in autotrace's own files. CPU seconds (user + system) of each pytest process, best of
``--runs``; the ratio is to the ``bytecode`` mode.

    .venv/bin/python experiments/no_bytecode.py [--runs 3]

Measured 2026-12-07 on the shared 2-core machine (toolz 1.0.0, 180 tests), CPU s best of 3:
bytecode 0.84, no-bytecode 0.85 (1.01x), no-cache 2.76 (3.27x).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from real_suites import PACKAGES, REPO, prepare  # noqa: E402

MODES = ("bytecode", "no-bytecode", "no-cache")


def run_suite(python: Path, tree: Path, env: dict[str, str]) -> tuple[float, int]:
    """CPU seconds and exit status of one run of the suite."""
    pkg = PACKAGES["toolz"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    code = subprocess.run([str(python), "-m", "pytest", *pkg.tests, "-q", "-p", "no:cacheprovider", "-p", "autotrace",
                           f"--autotrace-all={tree / pkg.source}", f"--rootdir={tree}"], cwd=tree, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=REPO / ".bench")
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    tree, python = prepare(PACKAGES["toolz"], workdir)
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("PYTEST_", "AUTOTRACE_", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH"))}
    cache = workdir / "no-bytecode-cache"
    envs = {"bytecode": {**base, "AUTOTRACE_CACHE_DIR": str(cache)},
            "no-bytecode": {**base, "PYTHONDONTWRITEBYTECODE": "1", "AUTOTRACE_CACHE_DIR": str(cache)},
            "no-cache": {**base, "PYTHONDONTWRITEBYTECODE": "1", "AUTOTRACE_CACHE_DIR": "/proc/autotrace-no-cache"}}
    for mode in MODES:  # warm: __pycache__ (plain and rewritten modules) and autotrace's own folder
        _, code = run_suite(python, tree, envs[mode])
        if code != 0:
            print(f"{mode}: the suite failed (exit {code})", file=sys.stderr)
            return 1
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(args.runs):
        for mode in MODES:
            cpu[mode].append(run_suite(python, tree, envs[mode])[0])
    best = {mode: min(times) for mode, times in cpu.items()}
    print(f"toolz {PACKAGES['toolz'].version} under -p autotrace --autotrace-all, CPU s best of {args.runs} "
          "(all runs), warm cache")
    for mode in MODES:
        print(f"  {mode:12} {best[mode]:6.2f} s  {best[mode] / best['bytecode']:5.2f}x   "
              f"({', '.join(f'{t:.2f}' for t in cpu[mode])})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
