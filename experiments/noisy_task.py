"""A noisy real task: does the patch beat the original on draws the run never saw? (issue #31)

    python -m experiments.noisy_task [--steps 6] [--fresh 200] [-- extra optimize options]

Copies ``examples/inventory`` (a stock policy simulated under random demand), runs ``autotrace optimize
--apply`` on the copy with the default settings (the embedded model unless OPENAI_* say otherwise), then
scores the original and the patched program on ``--fresh`` seeds far from any the run used: the judge's
mean over the four products, per seed, and the paired difference with its standard error. Prints one
JSON line (also appended to ``--out``), saying whether the model or the measured search wrote
the patch.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "inventory"
AUTOTRACE = Path(sys.executable).with_name("autotrace")
#: Scores one folder's program on the given seeds: the judge's mean over its examples, per seed.
SCORER = """
import json, random, sys
sys.path.insert(0, sys.argv[1])
import judge, shop
scores = []
for seed in json.loads(sys.argv[2]):
    total = []
    for example in judge.examples():
        random.seed(seed)
        score = judge.feedback(shop.main(example), example)[0]
        total.append(score)
    scores.append(sum(total) / len(total))
print(json.dumps(scores))
"""


def fresh_scores(folder: Path, seeds: list[int]) -> list[float]:
    done = subprocess.run([sys.executable, "-c", SCORER, str(folder), json.dumps(seeds)], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout)


def one_run(steps: int, seeds: list[int], extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "inventory"
        shutil.copytree(EXAMPLE, folder)
        (folder / "pyproject.toml").write_text("")
        started = time.perf_counter()
        done = subprocess.run([str(AUTOTRACE), "optimize", "shop.py", "--feedback", "judge.py", "--steps", str(steps),
                               "--apply", *extra], cwd=folder, capture_output=True, text=True, timeout=3 * 3600)
        seconds = time.perf_counter() - started
        original, patched = fresh_scores(EXAMPLE, seeds), fresh_scores(folder, seeds)
        values = {line.split("=")[0].strip(): line.split("=")[1].split("#")[0].strip()
                  for line in (folder / "shop.py").read_text().splitlines()
                  if line.startswith(("REORDER_POINT", "ORDER_SIZE"))}
    differences = [p - o for p, o in zip(patched, original)]
    mean = sum(differences) / len(differences)
    stderr = math.sqrt(sum((d - mean) ** 2 for d in differences) / (len(differences) - 1) / len(differences))
    lines = done.stderr.splitlines()
    return {"benchmark": "noisy_task", "exit": done.returncode, "values": values,
            "noisy_detected": any("noisy:" in line for line in lines),
            "llm_steps": sum(1 for line in lines if line.startswith("step") and not line.startswith("step   0/")
                             and " tok " in line and " 0+0 tok " not in line),  # steps that asked the model
            "measured_steps": sum(1 for line in lines if "measured step:" in line),
            "best_line": next((line for line in lines if line.startswith("best score:")), ""),
            "no_patch": next((line for line in lines if line.startswith("no patch:")), ""),
            "fresh_seeds": len(seeds), "original_fresh": round(sum(original) / len(original), 3),
            "patched_fresh": round(sum(patched) / len(patched), 3), "difference": round(mean, 3),
            "stderr": round(stderr, 3), "seconds": round(seconds, 1), "load": round(os.getloadavg()[0], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--fresh", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("experiments/results/noisy_task.jsonl"))
    parser.add_argument("extra", nargs="*", help="more autotrace optimize options (after --)")
    args = parser.parse_args(argv)
    seeds = list(range(1_000_000, 1_000_000 + args.fresh))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    line = json.dumps({"commit": commit, **one_run(args.steps, seeds, args.extra)})
    print(line, flush=True)
    with args.out.open("a", encoding="utf-8") as out:
        out.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
