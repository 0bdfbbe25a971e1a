"""The pytest plugin's cost on real third-party suites, every mode side by side in one run.

For each package (set up as ``benchmarks/real_suites.py`` sets it up: its PyPI sdist extracted, a venv of
its own with autotrace editable from this checkout) the package's own suite runs in these modes:

* ``plain``: no autotrace;
* ``hook``: ``-p autotrace --autotrace-all=SRC`` (every function of the package rewritten, nothing recorded);
* ``report``: as ``hook`` plus ``--autotrace-report=FILE`` (every test recorded, the report written);
* ``hook-nobc``: as ``hook`` with ``PYTHONDONTWRITEBYTECODE=1`` (toolz only unless ``--nobc-all``): the
  rewritten modules then come from autotrace's own cache folder;
* with ``--before DIR``, ``before-hook`` and ``before-report``: the same with the autotrace found in DIR
  first on ``PYTHONPATH`` (an older checkout laid out as installed: ``DIR/autotrace/{transforms,runners}``).

Every mode is warmed by one untimed run (bytecode and the hook's cache written), then the modes run
round-robin ``--runs`` times; a mode's figure is its best CPU time (user + system of the pytest process),
and its ratio is to ``plain``'s best. A mode's per-test outcomes (``--junitxml``) must equal ``plain``'s.
The results go to ``benchmarks/results/plugin_overhead.json`` (one object per package, with the command).

    .venv/bin/python benchmarks/plugin_overhead.py [--packages toolz,boltons] [--runs 3] [--before /tmp/before]

Exit status: 0 when every mode's outcomes equal the plain run's in every package, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_suites import HASHSEED, PACKAGES, REPO, Package, parse_junit, prepare, write_plugins  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "plugin_overhead.json"
GOALS = {"hook": 1.3, "report": 2.0}  # the ratios to the plain suite's CPU this benchmark checks


def _modes(pkg: Package, tree: Path, out: Path, before: Path | None,
           nobc: bool) -> dict[str, tuple[list[str], dict]]:
    """mode -> (extra pytest arguments, extra environment)."""
    source = (tree / pkg.source).resolve()
    rootdir = [f"--rootdir={tree}"]  # the package's own folder, not this checkout above it (plugin's root)
    hook = [*rootdir, "-p", "autotrace", f"--autotrace-all={source}"]
    modes: dict[str, tuple[list[str], dict]] = {
        "plain": (rootdir, {}),
        "hook": (hook, {}),
        "report": ([*hook, f"--autotrace-report={out / 'report.json'}"], {}),
    }
    if nobc:
        modes["hook-nobc"] = (hook, {"PYTHONDONTWRITEBYTECODE": "1", "AUTOTRACE_CACHE_DIR": str(out / "cache")})
    if before is not None:
        modes["before-hook"] = (hook, {"AUTOTRACE_BENCH_BEFORE": str(before)})
        modes["before-report"] = ([*hook, f"--autotrace-report={out / 'before-report.json'}"],
                                  {"AUTOTRACE_BENCH_BEFORE": str(before)})
    return modes


def _run(python: Path, tree: Path, args: list[str], env: dict[str, str], junit: Path | None,
         timeout: float) -> tuple[float, int]:
    """CPU seconds and exit status of one pytest run."""
    cmd = [str(python), "-m", "pytest", *args, "-q", "-p", "no:cacheprovider", "-p", "_autotrace_bench_common",
           *([f"--junitxml={junit}"] if junit is not None else [])]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    code = subprocess.run(cmd, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=timeout).returncode
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), code


def run_package(pkg: Package, workdir: Path, runs: int, before: Path | None, nobc: bool, quick: bool,
                timeout: float) -> dict:
    tree, python = prepare(pkg, workdir)
    plugins = write_plugins(workdir)
    out = workdir / "results" / f"overhead-{pkg.key}"
    out.mkdir(parents=True, exist_ok=True)
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("PYTEST_", "HYPOTHESIS_", "AUTOTRACE_", "COV_", "PYTHONPATH",
                                 "PYTHONDONTWRITEBYTECODE"))}
    base.update(PYTHONHASHSEED=HASHSEED)
    tests = [*(pkg.quick if quick else pkg.tests), *pkg.extra]
    modes = _modes(pkg, tree, out, before, nobc)
    envs = {}
    for mode, (_, extra) in modes.items():
        older = extra.get("AUTOTRACE_BENCH_BEFORE")
        path = os.pathsep.join([*([older] if older else []), str(plugins)])
        own = {k: v for k, v in extra.items() if k != "AUTOTRACE_BENCH_BEFORE"}
        envs[mode] = {**base, **own, "PYTHONPATH": path}
    outcomes: dict[str, dict[str, list[str]]] = {}
    messages: dict[str, dict[str, str]] = {}
    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    codes: dict[str, int] = {}
    for mode, (args, _) in modes.items():  # warm-up, with the outcomes
        junit = out / f"{mode}.xml"
        junit.unlink(missing_ok=True)
        _, codes[mode] = _run(python, tree, [*tests, *args], envs[mode], junit, timeout)
        outcomes[mode], messages[mode] = parse_junit(junit) if junit.is_file() else ({}, {})
    for _ in range(runs):
        for mode, (args, _) in modes.items():
            cpu[mode].append(_run(python, tree, [*tests, *args], envs[mode], None, timeout)[0])
    best = {mode: min(times) for mode, times in cpu.items()}
    plain = outcomes["plain"]
    differ = {mode: sorted(t for t in set(plain) | set(found) if plain.get(t) != found.get(t))
              for mode, found in outcomes.items() if mode != "plain"}
    report_file = out / "report.json"
    report_mb = report_file.stat().st_size / 1e6 if report_file.is_file() else None
    return {
        "package": pkg.key, "tests": len(plain), "args": tests, "runs": runs,
        "cpu_seconds": cpu, "best": best,
        "ratio": {mode: round(best[mode] / max(best["plain"], 1e-9), 3) for mode in modes},
        "nobc_ratio": round(best["hook-nobc"] / best["hook"], 3) if "hook-nobc" in best else None,
        "exit_codes": codes,
        "differ": {mode: [(t, plain.get(t), outcomes[mode].get(t),
                           messages[mode].get(t) or messages["plain"].get(t, "")) for t in found[:20]]
                   for mode, found in differ.items()},
        "identical": not any(differ.values()) and bool(plain), "report_mb": report_mb,
    }


def table(rows: list[dict]) -> list[str]:
    modes = [m for m in ("hook", "report", "hook-nobc", "before-hook", "before-report")
             if any(m in r["best"] for r in rows)]
    lines = ["| package | tests | plain CPU s | " + " | ".join(f"{m} (ratio)" for m in modes) + " | identical |",
             "|---|---|---|" + "---|" * len(modes) + "---|"]
    for r in rows:
        cells = [f"{r['best'][m]:.2f} ({r['ratio'][m]:.2f}x)" if m in r["best"] else "" for m in modes]
        lines.append(f"| {r['package']} | {r['tests']} | {r['best']['plain']:.2f} | " + " | ".join(cells)
                     + f" | {'yes' if r['identical'] else 'NO: ' + json.dumps(r['differ'])} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", default="toolz,boltons,inflection,attrs,more-itertools")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each mode (best counts)")
    parser.add_argument("--before", type=Path, default=None,
                        help="an older autotrace laid out as installed (DIR/autotrace/...) to compare with")
    parser.add_argument("--nobc-all", action="store_true", help="the PYTHONDONTWRITEBYTECODE mode for every package")
    parser.add_argument("--quick", action="store_true", help="each package's --quick subset")
    parser.add_argument("--workdir", type=Path, default=REPO / ".bench")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.packages.split(",") if n.strip()]
    unknown = [n for n in names if n not in PACKAGES]
    if unknown:
        parser.error(f"unknown package(s) {unknown}; known: {', '.join(PACKAGES)}")
    given = argv if argv is not None else sys.argv[1:]
    command = shlex.join([".venv/bin/python", "benchmarks/plugin_overhead.py", *given])
    args.results.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in names:
        row = run_package(PACKAGES[name], args.workdir.resolve(), args.runs, args.before,
                          args.nobc_all or name == "toolz", args.quick, args.timeout)
        rows.append(row)
        print("\n".join(table([row])[2:]), flush=True)
        args.results.write_text(json.dumps({  # after each package: a run stopped early keeps what it measured
            "command": command, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "python": platform.python_version(), "cores": os.cpu_count(), "goals": GOALS, "packages": rows},
            indent=1) + "\n")
    print("\n".join(table(rows)))
    print(f"wrote {args.results}")
    return 0 if all(r["identical"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
