"""Real third-party test suites, plain and with every function of the package instrumented.

For each package: download its PyPI sdist (``pip download --no-binary :all: --no-deps``), extract it,
make a venv for it under the work dir, install autotrace (editable, from this checkout), the suite's
test dependencies and the package itself (editable, from the extracted tree), then run the package's
own test suite twice in that venv, one run right after the other:

* plain;
* under autotrace, every module under the package's source folder rewritten as recorded calls and a
  fresh recorder active for each test: the real plugin's ``-p autotrace --autotrace-all=DIR`` when the
  installed plugin offers that option, else a stand-in plugin written to the work dir that drives
  ``autotrace.transforms.hook.install`` itself (same mechanism, see ``HOOK_PLUGIN``).

Per-test outcomes come from ``--junitxml``. Both runs get the same ``PYTHONHASHSEED``, the same
hypothesis profile (no deadline, no example database, derandomized, no ``too_slow`` health check) and
``-p no:cacheprovider``; bytecode caches (plain and autotrace's) are warmed by a ``--collect-only``
pass of each mode first, so the timed runs compare steady-state cost, and the instrumented warm-up
time (which includes the LibCST rewrite of every module) is reported separately.

    .venv/bin/python benchmarks/real_suites.py                 # all packages, full suites
    .venv/bin/python benchmarks/real_suites.py --quick         # a subset of each suite, a few minutes
    .venv/bin/python benchmarks/real_suites.py --packages attrs --markdown

Exit status: 0 when every package's per-test outcomes are identical in both runs, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MARKDOWN = REPO / ".bench" / "real-suites.md"  # a run's table (not committed; docs/measurements.md sums it up)
BEGIN, END = "<!-- real-suites:begin -->", "<!-- real-suites:end -->"
HASHSEED = "0"


@dataclass(frozen=True)
class Package:
    name: str  # PyPI name
    version: str
    source: str  # folder (relative to the extracted sdist) whose every .py is instrumented
    tests: tuple[str, ...]  # pytest arguments, relative to the extracted sdist
    deps: tuple[str, ...]  # test dependencies (pinned)
    quick: tuple[str, ...]  # pytest arguments for --quick
    extra: tuple[str, ...] = ()  # further pytest options for both runs

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


PACKAGES: dict[str, Package] = {p.name: p for p in (
    Package(
        "attrs", "24.2.0", source="src", tests=("tests",),
        deps=("hypothesis==6.112.1", "cloudpickle==3.0.0"),
        quick=("tests/test_funcs.py", "tests/test_slots.py", "tests/test_dunders.py", "tests/test_validators.py",
               "tests/test_3rd_party.py", "tests/test_init_subclass.py", "tests/test_next_gen.py"),
    ),
    Package(
        # the suite's own runner is unittest with load_tests adding each module's doctests; under pytest
        # the same doctests run through --doctest-modules on the package
        "more-itertools", "10.5.0", source="more_itertools", tests=("tests", "more_itertools"),
        deps=(), extra=("--doctest-modules",),
        quick=("tests/test_recipes.py", "more_itertools/recipes.py", "tests/test_more.py::ChunkedTests",
               "tests/test_more.py::SeekableTest", "tests/test_more.py::PeekableTests"),
    ),
    Package(
        # its setup.cfg turns every warning into an error: pytest 9 deprecates its generator parametrize,
        # and its conftest marks tests no_cover (a pytest-cov marker)
        "python-dateutil", "2.9.0.post0", source="src/dateutil", tests=("tests",),
        deps=("hypothesis==6.112.1", "freezegun==1.5.1"),
        extra=("-W", "ignore::pytest.PytestRemovedIn10Warning", "-W", "ignore::pytest.PytestUnknownMarkWarning"),
        quick=("tests/test_relativedelta.py", "tests/test_easter.py", "tests/test_isoparser.py",
               "tests/test_rrule.py::RRuleTest::testYearly", "tests/test_imports.py"),
    ),
    Package(
        # debugutils.wrap_trace walks an object's attributes (it saw the recorder's __weakref__),
        # funcutils rebuilds functions from their signatures, tbutils reads frames
        "boltons", "26.2.0", source="boltons", tests=("tests",), deps=(),
        quick=("tests/test_debugutils_trace.py", "tests/test_funcutils.py", "tests/test_funcutils_fb_py3.py",
               "tests/test_tbutils.py", "tests/test_cacheutils.py", "tests/test_iterutils.py"),
    ),
    Package(
        # one module of regular expressions applied in loops: many small calls per test
        "inflection", "0.5.1", source="inflection", tests=("test_inflection.py",), deps=(),
        quick=("test_inflection.py",),
    ),
    Package(
        # curry inspects signatures (has_args, num_required_args, is_partial_args) of every kind of callable
        "toolz", "1.0.0", source="toolz", tests=("toolz/tests",), deps=(),
        quick=("toolz/tests/test_functoolz.py", "toolz/tests/test_inspect_args.py", "toolz/tests/test_curried.py"),
    ),
)}

# Loaded with -p in both runs: the same hypothesis settings, and a count of what was instrumented.
COMMON_PLUGIN = '''\
"""autotrace real-suite benchmark: identical settings for the plain and the instrumented run."""
import importlib.util
import json
import os
import sys

import pytest


@pytest.hookimpl(trylast=True)  # after the suite's own conftest loaded its profile
def pytest_configure(config):
    if importlib.util.find_spec("hypothesis") is None:
        return
    from hypothesis import HealthCheck, settings

    current = settings.default
    settings.register_profile(
        "autotrace-bench", parent=current, deadline=None, database=None, derandomize=True,
        suppress_health_check=sorted({*current.suppress_health_check, HealthCheck.too_slow}, key=str))
    settings.load_profile("autotrace-bench")


def pytest_sessionfinish(session):
    out = os.environ.get("AUTOTRACE_BENCH_COMMON_STATS")
    if not out:
        return
    loaded = sorted(name for name, module in list(sys.modules.items())
                    if any(kind.__name__ == "AutotraceLoader"
                           for kind in type(getattr(getattr(module, "__spec__", None), "loader", None)).__mro__))
    with open(out, "w") as handle:
        json.dump({"instrumented_modules": loaded}, handle)
'''

# Stand-in for the plugin's --autotrace-all, used only while the installed plugin lacks that option.
HOOK_PLUGIN = '''\
"""autotrace real-suite benchmark: instrument every module under $AUTOTRACE_BENCH_ALL (each function
a recorded call) and record each test under its own Recorder, building its DAG afterwards.

Installed when this plugin is imported (``-p`` plugins are imported before setuptools entry points
and conftests, so before hypothesis or a conftest can import the package)."""
import json
import os
import sys
import time
from pathlib import Path

import pytest

from autotrace.recorder import Recorder, RunOutcome, build_graph
from autotrace.runtime import Runtime
from autotrace.transforms.hook import Target, install
from autotrace.transforms.plan import ModulePlan


def _module_name(path):
    parts = [] if path.name == "__init__.py" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


RUNTIME = Runtime()
FINDER = None
STATS = {"tests": 0, "calls": 0, "max_calls": 0, "graph_seconds": 0.0, "graph_nodes": 0, "too_late": []}
_root = os.environ.get("AUTOTRACE_BENCH_ALL")
if _root:
    targets = {}
    for path in sorted(Path(_root).resolve().rglob("*.py")):
        name = _module_name(path)
        if name:
            targets[path] = Target(ModulePlan(module=name, param_names=frozenset()))
    files = {str(p) for p in targets}
    STATS["too_late"] = sorted(n for n, m in list(sys.modules.items())
                               if getattr(m, "__file__", None) and os.path.realpath(m.__file__) in files)
    FINDER = install(targets, RUNTIME)
GRAPH = os.environ.get("AUTOTRACE_BENCH_GRAPH", "1") == "1"
RECORD = os.environ.get("AUTOTRACE_BENCH_RECORD", "1") == "1"  # 0: rewritten modules, no recorder active


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if FINDER is None:
        yield
        return
    if not RECORD:
        yield
        return
    recorder = Recorder()
    with RUNTIME.recording(recorder):
        yield
    STATS["tests"] += 1
    STATS["calls"] += len(recorder.calls)
    STATS["max_calls"] = max(STATS["max_calls"], len(recorder.calls))
    if GRAPH:
        start = time.perf_counter()
        graph = build_graph(recorder, [], RunOutcome(None))
        STATS["graph_seconds"] += time.perf_counter() - start
        STATS["graph_nodes"] += graph.number_of_nodes()


def pytest_sessionfinish(session):
    out = os.environ.get("AUTOTRACE_BENCH_HOOK_STATS")
    if FINDER is not None and out:
        with open(out, "w") as handle:
            json.dump(STATS, handle)
'''


# -- setup ------------------------------------------------------------------------------------------
def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("$", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def prepare(pkg: Package, workdir: Path) -> tuple[Path, Path]:
    """The extracted tree and the venv's python, set up once (a stamp file marks a finished setup)."""
    sdists = workdir / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    tree = workdir / pkg.key
    venv = workdir / "venvs" / pkg.key
    python = venv / "bin" / "python"
    stamp = venv / ".autotrace-bench-ready"
    wanted = json.dumps([pkg.deps, str(REPO)])
    if stamp.is_file() and stamp.read_text() == wanted and tree.is_dir():
        return tree, python
    archive = next(sdists.glob(f"{pkg.name.replace('-', '?')}-{pkg.version}.tar.gz"), None)
    if archive is None:
        run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "-d", sdists,
             f"{pkg.name}=={pkg.version}"])
        archive = next(sdists.glob(f"{pkg.name.replace('-', '?')}-{pkg.version}.tar.gz"))
    if tree.exists():
        shutil.rmtree(tree)
    with tarfile.open(archive) as tar:
        top = tar.getnames()[0].split("/")[0]
        tar.extractall(workdir / "extract", filter="data")
    shutil.move(workdir / "extract" / top, tree)
    shutil.rmtree(workdir / "extract")
    if venv.exists():
        shutil.rmtree(venv)
    run([sys.executable, "-m", "venv", venv])
    pip = [python, "-m", "pip", "install", "-q"]
    run([*pip, "-e", REPO])  # autotrace and its dependencies (pytest among them)
    if pkg.deps:
        run([*pip, *pkg.deps])
    run([*pip, "-e", tree])  # last, so the editable package replaces any copy a test dependency pulled in
    (venv / "pip-freeze.txt").write_text(
        subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout)
    stamp.write_text(wanted)
    return tree, python


def write_plugins(workdir: Path) -> Path:
    folder = workdir / "plugins"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_autotrace_bench_common.py").write_text(COMMON_PLUGIN)
    (folder / "_autotrace_bench_hook.py").write_text(HOOK_PLUGIN)
    return folder


def real_plugin_has_all(python: Path, tree: Path, env: dict[str, str]) -> bool:
    out = subprocess.run([str(python), "-m", "pytest", "--help", "-p", "no:cacheprovider"], cwd=tree, env=env,
                         capture_output=True, text=True)
    return "--autotrace-all" in out.stdout


# -- runs -------------------------------------------------------------------------------------------
@dataclass
class RunResult:
    seconds: float
    returncode: int
    outcomes: dict[str, list[str]]  # test id -> sorted outcome kinds (one per junit testcase entry)
    details: dict[str, str]
    stats: dict = field(default_factory=dict)
    warmup_seconds: float = 0.0
    cpu_seconds: float = 0.0  # user + system time of the pytest process: less sensitive to a busy machine

    def counts(self) -> Counter:
        found: Counter = Counter()
        for kinds in self.outcomes.values():
            found.update(kinds)
        return found


def parse_junit(path: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    outcomes: dict[str, list[str]] = {}
    details: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        test_id = f"{case.get('classname', '')}::{case.get('name', '')}"
        kind, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                kind = {"failure": "failed", "error": "errored", "skipped": "skipped"}[child.tag]
                message = (child.get("message") or "").splitlines()[0][:200] if child.get("message") else ""
                break
        outcomes.setdefault(test_id, []).append(kind)
        if message:
            details[test_id] = message
    for kinds in outcomes.values():
        kinds.sort()
    return outcomes, details


def pytest_run(python: Path, tree: Path, args: list[str], env: dict[str, str], junit: Path, log: Path,
               timeout: float) -> tuple[float, float, int]:
    cmd = [str(python), "-m", "pytest", *args, "-p", "no:cacheprovider", "-p", "_autotrace_bench_common",
           f"--junitxml={junit}", "-q", "-rfE"]
    print("$", " ".join(cmd), f"> {log}", flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.run(cmd, cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode


def run_package(pkg: Package, workdir: Path, quick: bool, timeout: float, graph: bool, mechanism: str) -> dict:
    tree, python = prepare(pkg, workdir)
    plugins = write_plugins(workdir)
    results = workdir / "results" / pkg.key
    results.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "HYPOTHESIS_", "AUTOTRACE_", "COV_", "PYTHONPATH"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # both runs keep their bytecode caches
    env.update(PYTHONHASHSEED=HASHSEED, PYTHONPATH=str(plugins), AUTOTRACE_BENCH_GRAPH="1" if graph else "0")
    source = (tree / pkg.source).resolve()
    real = mechanism == "plugin" or (mechanism == "auto" and real_plugin_has_all(python, tree, env))
    tests = list(pkg.quick if quick else pkg.tests) + list(pkg.extra)
    modes = {
        "plain": ([], {}),
        "instrumented": ((["-p", "autotrace", f"--autotrace-all={source}",
                           *([f"--autotrace-report={results / 'instrumented.report.json'}"] if graph else [])], {})
                         if real else (["-p", "_autotrace_bench_hook"], {"AUTOTRACE_BENCH_ALL": str(source)})),
    }
    out: dict = {"package": pkg.key, "mechanism": "plugin --autotrace-all" if real else "stand-in hook plugin",
                 "quick": quick, "source": str(source.relative_to(tree)), "tests": tests}
    for mode, (extra_args, extra_env) in modes.items():
        mode_env = {**env, **extra_env,
                    "AUTOTRACE_BENCH_HOOK_STATS": str(results / f"{mode}.hook.json"),
                    "AUTOTRACE_BENCH_COMMON_STATS": str(results / f"{mode}.common.json")}
        for stale in results.glob(f"{mode}.*"):
            stale.unlink()
        warm_start = time.perf_counter()  # fills __pycache__ (plain) / the autotrace bytecode (rewritten)
        subprocess.run([str(python), "-m", "pytest", *tests, *extra_args, "-p", "no:cacheprovider",
                        "-p", "_autotrace_bench_common", "--collect-only", "-q"],
                       cwd=tree, env={**mode_env, "AUTOTRACE_BENCH_HOOK_STATS": "", "AUTOTRACE_BENCH_COMMON_STATS": ""},
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout)
        warmup = time.perf_counter() - warm_start
        junit = results / f"{mode}.xml"
        seconds, cpu, code = pytest_run(python, tree, [*tests, *extra_args], mode_env, junit, results / f"{mode}.log",
                                   timeout)
        outcomes, details = parse_junit(junit) if junit.is_file() else ({}, {})
        stats = {}
        for kind in ("hook", "common"):
            path = results / f"{mode}.{kind}.json"
            if path.is_file():
                stats.update(json.loads(path.read_text()))
        report = results / f"{mode}.report.json"
        if report.is_file():  # the plugin's --autotrace-report: calls per test (before its per-test bound)
            calls = [t.get("calls", 0) for t in json.loads(report.read_text()).get("tests", [])]
            stats.update(calls=sum(calls), max_calls=max(calls, default=0), report_mb=report.stat().st_size / 1e6)
        out[mode] = RunResult(seconds, code, outcomes, details, stats, warmup, cpu)
    plain, inst = out["plain"], out["instrumented"]
    diff = sorted(t for t in set(plain.outcomes) | set(inst.outcomes)
                  if plain.outcomes.get(t) != inst.outcomes.get(t))
    out["diff"] = [(t, plain.outcomes.get(t), inst.outcomes.get(t), inst.details.get(t, "")) for t in diff]
    out["identical"] = not diff and bool(plain.outcomes)
    (results / "summary.json").write_text(json.dumps(
        {k: (v.__dict__ if isinstance(v, RunResult) else v) for k, v in out.items()}, indent=1, default=str))
    return out


# -- report -----------------------------------------------------------------------------------------
def fmt_counts(r: RunResult) -> str:
    c = r.counts()
    return f"{c['passed']} / {c['failed']} / {c['errored']} / {c['skipped']}"


def table(rows: list[dict]) -> list[str]:
    lines = ["| package | tests | plain p/f/e/s | instrumented p/f/e/s | identical | wall s plain → instr. | wall ratio | "
             "CPU s plain → instr. | CPU ratio | first import s (plain → instr.) | recorded calls (max/test) | mechanism |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        plain, inst = r["plain"], r["instrumented"]
        stats = inst.stats
        calls = f"{stats['calls']:,} ({stats['max_calls']:,})" if "calls" in stats else "n/a"
        lines.append(
            f"| {r['package']} | {len(plain.outcomes)} | {fmt_counts(plain)} | {fmt_counts(inst)} | "
            f"{'yes' if r['identical'] else 'NO'} | {plain.seconds:.1f} → {inst.seconds:.1f} | "
            f"{inst.seconds / plain.seconds:.2f}x | {plain.cpu_seconds:.1f} → {inst.cpu_seconds:.1f} | "
            f"{inst.cpu_seconds / max(plain.cpu_seconds, 1e-9):.2f}x | "
            f"{plain.warmup_seconds:.1f} → {inst.warmup_seconds:.1f} | {calls} | "
            f"{r['mechanism']} |")
    return lines


def notes(rows: list[dict]) -> list[str]:
    lines = []
    for r in rows:
        inst = r["instrumented"]
        mods = inst.stats.get("instrumented_modules", [])
        lines.append(f"- {r['package']}: instrumented `{r['source']}/` ({len(mods)} modules loaded through the hook"
                     + (f"; already imported before the hook: {inst.stats['too_late']}" if inst.stats.get("too_late")
                        else "") + f"); tests: `{' '.join(r['tests'])}`"
                     + (f"; DAG building {inst.stats['graph_seconds']:.1f} s of the instrumented run"
                        if inst.stats.get("graph_seconds") else "")
                     + (f"; --autotrace-report {inst.stats['report_mb']:.1f} MB" if inst.stats.get("report_mb") else ""))
        for test, before, after, message in r["diff"][:20]:
            lines.append(f"  - DIFF {test}: plain {before} → instrumented {after} {message}")
    return lines


def write_markdown(rows: list[dict], command: str) -> None:
    versions = {r["package"]: r.get("freeze", "") for r in rows}
    body = [BEGIN, "", f"Command: `{command}`", "",
            f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; "
            f"PYTHONHASHSEED={HASHSEED}; hypothesis profile: deadline=None, database=None, derandomize=True, "
            "too_slow suppressed (both runs); `-p no:cacheprovider`; timed runs after a `--collect-only` warm-up "
            "of each mode (bytecode caches warm). CPU = user+system seconds of the pytest process (the machine "
            "may be shared: the CPU ratio is the steadier figure).", "",
            *table(rows), "", *notes(rows), "",
            "Test dependencies (pinned in `benchmarks/real_suites.py`): "
            + "; ".join(f"{p.key}: {', '.join(p.deps) or 'none'}" for p in PACKAGES.values() if p.key in versions),
            "", END]
    text = MARKDOWN.read_text() if MARKDOWN.is_file() else "# autotrace on real third-party test suites\n\n"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + "\n".join(body) + tail
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(body) + "\n"
    MARKDOWN.write_text(text)
    print(f"wrote {MARKDOWN}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", default=",".join(PACKAGES), help=f"comma-separated, from {', '.join(PACKAGES)}")
    parser.add_argument("--quick", action="store_true", help="a subset of each suite (a few minutes in all)")
    parser.add_argument("--workdir", type=Path, default=REPO / ".bench")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds for one pytest run")
    parser.add_argument("--no-graph", action="store_true",
                        help="record calls but build no DAG (the plugin without --autotrace-report)")
    parser.add_argument("--mechanism", choices=("auto", "plugin", "stand-in"), default="auto",
                        help="how to instrument: the plugin's --autotrace-all (auto: when the installed plugin "
                             "has it), or the stand-in hook plugin this script writes")
    parser.add_argument("--markdown", action="store_true", help=f"write the table into {MARKDOWN.name}")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.packages.split(",") if n.strip()]
    unknown = [n for n in names if n not in PACKAGES]
    if unknown:
        parser.error(f"unknown package(s) {unknown}; known: {', '.join(PACKAGES)}")
    workdir = args.workdir.resolve()
    rows = []
    for name in names:
        row = run_package(PACKAGES[name], workdir, args.quick, args.timeout, not args.no_graph, args.mechanism)
        rows.append(row)
        print("\n".join(table([row])[2:]), flush=True)
    print()
    print("\n".join(table(rows)))
    print("\n".join(notes(rows)))
    if args.markdown:
        shown = ["benchmarks/real_suites.py", *(argv if argv is not None else sys.argv[1:])]
        write_markdown(rows, " ".join([".venv/bin/python", *shown]))
    return 0 if all(r["identical"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
