"""How often does a program whose score is pure noise get a patch? (issue #31)

    python -m experiments.noise_patch [--runs 40] [--steps 3] [--out experiments/results/noise_patch.jsonl]

The program has one numeric knob that changes nothing; the judge returns a random number. Every run is a
whole ``optimize`` with the default settings (probes, the measured search, answers asked again, merges),
the model's part played by a scripted OpenAI-compatible server on 127.0.0.1 that proposes knob values, so
that only the scoring decides what becomes the patch. Two kinds of noise: ``seeded`` (``random.random()``,
which the run seeds per draw, the same for every candidate) and ``unseeded`` (``random.SystemRandom``,
which no seed reaches: the worst case). Two arms: ``default`` (noise detected, draws, the paired test and
the confirmation on fresh draws) and ``--repeats 1`` (one draw, a higher mean wins: the rule before #31).
No LLM is involved; each row is one run (JSON lines).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from autotrace.llm.client import LLMConfig
from autotrace.runners.optimize import Settings, optimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from llmserver import ScriptedLLMServer  # noqa: E402  (the tests' scripted server: real sockets)

PROGRAM = "KNOB = 1.0  # autotrace: param in [0, 10]\n\n\ndef main(example):\n    return KNOB\n"
JUDGES = {
    "seeded": "import random\n\n\ndef examples():\n    return [1, 2, 3, 4]\n\n\n"
              "def feedback(output, example):\n    return random.random()\n",
    "unseeded": "import random\n\n\ndef examples():\n    return [1, 2, 3, 4]\n\n\n"
                "def feedback(output, example):\n    return random.SystemRandom().random()\n",
}


def one_run(folder: Path, server: ScriptedLLMServer, seed: int, steps: int, repeats: int | None) -> dict:
    (folder / "pyproject.toml").write_text("")
    (folder / "app.py").write_text(PROGRAM)
    answers = [{"reasoning": "try another", "suggestion": {"app.KNOB": round(0.5 + 0.7 * i, 2)}} for i in range(40)]
    server.script(*answers)
    settings = Settings(target=folder / "app.py", judge=folder / "judge.py", steps=steps, repeats=repeats,
                        llm=LLMConfig(model="scripted", base_url=server.base_url, api_key="test", seed=seed),
                        cache=False, jobs=2)
    started = time.perf_counter()
    result = optimize(settings)
    return {"seed": seed, "patched": bool(result.patch.diff), "best": result.best_score,
            "evaluations": result.evaluations, "no_patch": result.no_patch,
            "seconds": round(time.perf_counter() - started, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--noise", nargs="+", default=list(JUDGES), choices=list(JUDGES))
    parser.add_argument("--arms", nargs="+", default=["default", "repeats1"], choices=["default", "repeats1"])
    parser.add_argument("--out", type=Path, default=Path("experiments/results/noise_patch.jsonl"))
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    commit = os.popen("git rev-parse --short HEAD 2>/dev/null").read().strip()
    load = os.getloadavg()[0]
    with args.out.open("a", encoding="utf-8") as out:
        for noise in args.noise:
            for arm in args.arms:
                patched = 0
                for seed in range(args.runs):
                    with tempfile.TemporaryDirectory() as tmp, ScriptedLLMServer() as server:
                        folder = Path(tmp)
                        (folder / "judge.py").write_text(JUDGES[noise])
                        row = one_run(folder, server, seed, args.steps, None if arm == "default" else 1)
                    row.update(benchmark="noise_patch", commit=commit, noise=noise, arm=arm, steps=args.steps,
                               load=round(load, 2))
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    patched += row["patched"]
                print(f"{noise:9} {arm:9} patched {patched} of {args.runs} runs ({100 * patched / args.runs:.0f}%)",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
