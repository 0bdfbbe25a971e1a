"""Step latency and prompt tokens of ``autotrace optimize`` on the examples, on the embedded local model.

    python benchmarks/examples_local.py                 # examples a to d, writes .bench/examples.md
    python benchmarks/examples_local.py --only a --runs 3

Each example runs exactly as its README says (``--model local``: autotrace starts, uses and stops
its own server), in a scratch copy of the example folder, with the response cache off so every step
really asks the model. Example (c) is itself an LLM app: a second local server answers the app's
own calls (``OPENAI_BASE_URL``), as ``autotrace model serve`` would for a user. Per step the figures
are what the run store recorded: prompt and completion tokens as the server counted them, and wall
seconds of the whole step (sensitivity probes, the model's answer(s), the candidate's evaluation).
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
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
AUTOTRACE = Path(sys.executable).with_name("autotrace")


@dataclass(frozen=True)
class Example:
    key: str
    folder: str
    args: tuple[str, ...]
    app_llm: bool = False  # the program itself calls an LLM at OPENAI_BASE_URL


EXAMPLES = (
    Example("a", "fit_constants", ("main.py", "--feedback", "judge.py", "--steps", "10", "--target", "-0.5")),
    Example("b", "fix_bug", ("stats.py", "--feedback", "judge.py", "--steps", "5", "--target", "1")),
    Example("c", "prompt_app", ("triage.py", "--feedback", "judge.py", "--steps", "5", "--target", "1"), app_llm=True),
    Example("d", "threshold_tests", ("--tests", "tests/", "--holdout-tests", "boundaries", "--steps", "6")),
)


def run_example(example: Example, app_base_url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"autotrace-example-{example.key}-") as scratch:
        folder = Path(scratch) / example.folder
        shutil.copytree(ROOT / "examples" / example.folder, folder,
                        ignore=shutil.ignore_patterns(".autotrace", "__pycache__"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AUTOTRACE_"))}
        if app_base_url:
            env.update(OPENAI_BASE_URL=app_base_url, OPENAI_API_KEY="local")
        started = time.perf_counter()
        result = subprocess.run([str(AUTOTRACE), "optimize", *example.args, "--model", "local", "--no-cache"],
                                cwd=folder, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        run_id = next((line.split("run: ")[1].split()[0] for line in result.stderr.splitlines() if "run: " in line), None)
        if run_id is None:
            raise SystemExit(f"example {example.key}: no run (exit {result.returncode}):\n{result.stderr[-2000:]}")
        shown = subprocess.run([str(AUTOTRACE), "show", run_id, "--json"], cwd=folder, env=env, capture_output=True,
                               text=True, check=True)
        steps = json.loads(shown.stdout)["steps"]
        return {"example": example.key, "folder": example.folder, "exit": result.returncode, "wall": wall,
                "steps": [{k: s.get(k) for k in ("step", "describe", "prompt_tokens", "completion_tokens", "seconds",
                                                 "note")} for s in steps],
                "progress": [line for line in result.stderr.splitlines() if line.startswith("step ")],
                "patch": result.stdout}


def summary_row(run: dict[str, Any]) -> str:
    steps = [s for s in run["steps"] if s["step"] > 0]
    asked = [s for s in steps if s["prompt_tokens"]]
    seconds = [s["seconds"] for s in steps]
    prompt = [s["prompt_tokens"] for s in asked]
    completion = [s["completion_tokens"] for s in asked]
    first = run["steps"][0]["describe"]
    scores = [s["describe"] for s in run["steps"]]
    return (f"| ({run['example']}) {run['folder']} | {first} → best {_best(scores)} | "
            f"{'yes' if run['exit'] == 0 else 'no'} | {len(steps)} | "
            f"{_med(seconds)} ({_range(seconds)}) | {_med(prompt, 0)} ({_range(prompt)}) | {_med(completion, 0)} | "
            f"{run['wall']:.0f} s |")


def _best(scores: list[str]) -> str:
    numeric = []
    for text in scores:
        try:
            numeric.append(float(text.split()[0]))
        except ValueError:
            pass
    return f"{max(numeric):g}" if numeric else scores[-1]


def _med(values: list[float], digits: int = 1) -> str:
    return f"{statistics.median(values):,.{digits}f}" if values else "–"


def _range(values: list[float]) -> str:
    return f"{min(values):,.0f}–{max(values):,.0f}" if values else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=[e.key for e in EXAMPLES], action="append")
    parser.add_argument("--runs", type=int, default=1, help="runs per example (the model is deterministic at "
                                                            "temperature 0, up to server scheduling)")
    parser.add_argument("--out", type=Path, default=ROOT / ".bench" / "examples.md")
    args = parser.parse_args()
    chosen = [e for e in EXAMPLES if not args.only or e.key in args.only]
    runs = []
    with ExitStack() as stack:
        app_url = None
        if any(e.app_llm for e in chosen):
            from autotrace.llm.server import LocalServer

            app_url = stack.enter_context(LocalServer(auto_install=True)).base_url
        for example in chosen:
            for i in range(args.runs):
                print(f"example {example.key} run {i + 1}/{args.runs} ...", file=sys.stderr, flush=True)
                run = run_example(example, app_url if example.app_llm else None)
                print("\n".join(run["progress"]), file=sys.stderr, flush=True)
                runs.append(run)
    load = os.getloadavg()
    lines = [
        "# The examples on the embedded local model",
        "",
        f"Command: `python benchmarks/examples_local.py{' --runs ' + str(args.runs) if args.runs > 1 else ''}"
        f"{''.join(' --only ' + k for k in args.only or ())}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"Qwen2.5-Coder-1.5B-Instruct Q4_K_M on xllamacpp, 2 CPU cores; load average at the end "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min). Response cache off.",
        "",
        "A step = sensitivity probes + the model's answer "
        "+ evaluating the candidate. Tokens are the server's counts per step, over the steps that asked the "
        "model. Median (min–max).",
        "",
        "| example | score | reached target | steps | seconds per step | prompt tokens per step | "
        "completion tokens | wall |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *(summary_row(run) for run in runs),
        "",
        "## Progress lines",
        "",
    ]
    for run in runs:
        lines += [f"({run['example']}) {run['folder']}, exit {run['exit']}:", "", "```", *run["progress"], "```", ""]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    raw = ROOT / ".bench" / f"examples-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    raw.parent.mkdir(exist_ok=True)
    raw.write_text(json.dumps(runs, indent=1), encoding="utf-8")
    print(f"wrote {args.out} (raw figures: {raw})", file=sys.stderr)


if __name__ == "__main__":
    main()
