"""What instrumenting one module costs on a bytecode-cache miss, in a warm process (LibCST already
imported, as in the fork server's workers): the analysis, the rewrite and both compiles, for a
module as it is and with a candidate function substituted (each candidate of a code parameter is a
cache miss). CPU time beside wall time, because a shared machine makes wall time noisy.

    .venv/bin/python experiments/transform_time.py [--rounds 5] [--against OTHER/.venv/bin/python]

Measured through the import hook's public API (``install(..., cache=False)`` and an import), which
every version has, so ``--against`` runs the same measurement with another checkout's interpreter,
round by round alternating with this one, and prints both side by side with their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

#: (module copied from the standard library, a method given a candidate, the candidate's source)
CASES = (
    ("argparse", "HelpFormatter._indent",
     "def _indent(self):\n    step = self._indent_increment\n    self._current_indent += step\n    self._level += 1\n"),
    ("textwrap", "TextWrapper._split",
     "def _split(self, text):\n    chunks = self.wordsep_re.split(text)\n    chunks = [c for c in chunks if c]\n"
     "    return chunks\n"),
)

CHILD = r"""
import importlib, json, shutil, sys, tempfile, time
from pathlib import Path

import libcst  # loaded before timing, as in a warm worker

from autotrace.runtime import Runtime
from autotrace.transforms.hook import Target, install, uninstall
from autotrace.transforms.plan import ModulePlan

cases, runs = json.loads(sys.argv[1]), int(sys.argv[2])
folder = Path(tempfile.mkdtemp(prefix="autotrace-transform-bench-"))
sys.path.insert(0, str(folder))
samples = {}
try:
    for module, qualname, candidate in cases:
        name = f"bench_{module}"
        source = Path(importlib.import_module(module).__file__).read_text(encoding="utf-8")
        path = folder / f"{name}.py"
        path.write_text(source, encoding="utf-8")
        param = f"{name}.{qualname}"
        plan = ModulePlan(name, functions={qualname: param}, param_names=frozenset({param}))
        for label, candidates in (("as is", {}), ("with a candidate", {qualname: candidate})):
            key = f"{module} ({source.count(chr(10)):,} lines), {label}"
            samples[key] = []
            for run in range(runs + 1):  # the first run warms up
                finder = install({path: Target(plan, candidates)}, Runtime(), cache=False)
                wall, cpu = time.perf_counter(), time.process_time()
                importlib.import_module(name)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                uninstall(finder)
                del sys.modules[name]
                if run:
                    samples[key].append((wall * 1e3, cpu * 1e3))
finally:
    shutil.rmtree(folder, ignore_errors=True)
print(json.dumps(samples))
"""


def _measure(python: str, runs: int) -> dict[str, list[list[float]]]:
    proc = subprocess.run([python, "-c", CHILD, json.dumps(CASES), str(runs)], capture_output=True, text=True,
                          timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"{python}: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'failed'}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="fresh interpreters per version (alternating)")
    parser.add_argument("--runs", type=int, default=3, help="imports per case in each interpreter")
    parser.add_argument("--against", default=None, help="another checkout's interpreter, measured round by round")
    args = parser.parse_args()
    pythons = {"this": sys.executable, **({"against": args.against} if args.against else {})}
    samples: dict[str, dict[str, list[list[float]]]] = {label: {} for label in pythons}
    for _ in range(args.rounds):
        for label, python in pythons.items():
            for case, values in _measure(python, args.runs).items():
                samples[label].setdefault(case, []).extend(values)
    median = {label: {case: (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values))
                      for case, values in cases.items()} for label, cases in samples.items()}
    count = args.rounds * args.runs
    print(f"median of {count} imports per case ({args.rounds} interpreters x {args.runs}); Python "
          f"{sys.version.split()[0]}")
    for label, python in pythons.items():
        print(f"  {label}: {python}")
    header = f"{'module':<44} {'this wall ms':>12} {'cpu ms':>8}"
    if "against" in pythons:
        header += f" {'against wall':>12} {'cpu ms':>8} {'cpu this/against':>17}"
    print(header)
    for case, (wall, cpu) in median["this"].items():
        row = f"{case:<44} {wall:12.1f} {cpu:8.1f}"
        if "against" in pythons:
            other_wall, other_cpu = median["against"][case]
            row += f" {other_wall:12.1f} {other_cpu:8.1f} {cpu / other_cpu:17.2f}"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
