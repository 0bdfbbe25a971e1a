"""What every paper experiment shares: result lines, the autotrace side through its CLI, the trace-opt side.

A result line is one JSON object per run: commit, experiment, side, model, seed, task, score (the
experiment's own metric, see its module), program_runs, tokens, seconds, and ``curve``: after each
step, the program runs and LLM tokens spent so far and the best score so far.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
WORK = ROOT / ".bench" / "paper"
RESULTS = ROOT / "benchmarks" / "results" / "paper.jsonl"
TRACE_SCRIPT_DIR = Path(__file__).resolve().parent / "trace_opt"


def commit() -> str:
    """The checked-out commit (``+dirty`` when the tree has changes), so a result says what it measured."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    measured = ["benchmarks", "examples", "autotrace", "runners", "transforms", ":(exclude)benchmarks/results"]
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *measured], cwd=ROOT, capture_output=True, text=True)
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def append_result(out: Path, record: dict[str, Any]) -> None:
    """Append one result line (the file is only ever appended to, one whole line per write)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a") as handle:
        handle.write(json.dumps(record, default=str) + "\n")


def fresh_copy(example: str, run_dir: Path) -> Path:
    """A fresh copy of ``examples/<example>`` (no earlier .autotrace state) to run in."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    shutil.copytree(EXAMPLES / example, run_dir, ignore=shutil.ignore_patterns(".autotrace", "__pycache__"))
    return run_dir


#: ``autotrace`` itself, with one difference: its LLM requests may wait LLM_TIMEOUT seconds instead of the
#: client's 120 s. On a loaded 2-core machine with one model server shared by both sides, the embedded
#: model's answer to a whole-run prompt takes longer than that (trace-opt's side is given the same wait).
LLM_TIMEOUT = 1800.0
AUTOTRACE = (
    "import dataclasses, sys\n"
    "from autotrace.llm import client\n"
    "from autotrace.runners import cli\n"
    "@dataclasses.dataclass(frozen=True)\n"
    "class PatientConfig(client.LLMConfig):\n"
    f"    timeout: float = {LLM_TIMEOUT}\n"
    "client.LLMConfig = PatientConfig\n"
    "sys.argv[0] = 'autotrace'\n"
    "cli.main()\n"
)


def run_autotrace(run_dir: Path, target: str, steps: int, server: dict[str, Any], extra: list[str],
                  env: dict[str, str] | None = None, timeout: float = 6 * 3600) -> dict[str, Any]:
    """``autotrace optimize TARGET --feedback judge.py`` as a user runs it, then ``autotrace show --json``.

    Returns the run's best score, program runs, tokens, seconds and per-step curve (or ``error``).
    """
    command = [sys.executable, "-c", AUTOTRACE, "optimize", target, "--feedback", "judge.py", "--steps", str(steps),
               "--no-cache",
               "--model", server["model"], "--base-url", server["base_url"], *extra]
    full_env = {**os.environ, "OPENAI_API_KEY": "local", **(env or {})}
    from benchmarks.harness import run_logged

    code, seconds = run_logged(command, run_dir, full_env, run_dir / "run.log", timeout)
    exe = str(Path(sys.executable).parent / "autotrace")
    listing = subprocess.run([exe, "show", "--json", _last_run(run_dir)], cwd=run_dir, capture_output=True,
                             text=True) if (run_dir / ".autotrace").is_dir() else None
    if listing is None or listing.returncode != 0:
        tail = (run_dir / "run.log").read_text(errors="replace").strip().splitlines()[-3:]
        return {"error": f"no run stored (exit {code}): {' | '.join(tail)}", "seconds": seconds,
                "command": "autotrace " + " ".join(command[3:])}
    shown = json.loads(listing.stdout)
    curve, runs, tokens, best = [], 0, 0, None
    for step in shown["steps"]:
        runs += int(step.get("runs") or 0)
        tokens += int(step.get("prompt_tokens") or 0) + int(step.get("completion_tokens") or 0)
        if step.get("score") is not None and (best is None or step["score"] > best):
            best = step["score"]
        curve.append({"step": step["step"], "program_runs": runs, "tokens": tokens, "best": best,
                      "score": step.get("score"), "note": (step.get("note") or "")[:200]})
    best_run = shown["run"].get("best") or {}
    if code not in (0, 1):  # 0: done, 1: the steps ran out before --target; else the run stopped on an error
        tail = (run_dir / "run.log").read_text(errors="replace").strip().splitlines()[-1:]
        return {"error": f"exit {code}: {' | '.join(tail)}", "seconds": seconds, "curve": curve,
                "command": "autotrace " + " ".join(command[3:])}
    return {"best": shown["run"].get("best_score"), "values": best_run.get("values"),
            "program_runs": best_run.get("evaluations") or runs, "tokens": tokens, "seconds": seconds,
            "curve": curve, "exit": code, "run_id": shown["run"]["id"], "command": "autotrace " + " ".join(command[3:])}


def _last_run(run_dir: Path) -> str:
    exe = str(Path(sys.executable).parent / "autotrace")
    listing = subprocess.run([exe, "runs"], cwd=run_dir, capture_output=True, text=True)
    rows = [line.split()[0] for line in listing.stdout.splitlines()[1:] if line.strip()]
    return rows[0] if rows else ""


def run_trace_opt(script: str, args: list[str], server: dict[str, Any], env: dict[str, str] | None = None,
                  timeout: float = 6 * 3600, needs: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run ``trace_opt/<script>`` in trace-opt's venv (``pip install trace-opt``); its last stdout line is JSON.
    ``needs``: packages the script imports besides trace-opt, installed into that venv when missing."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.harness import trace_python

    python = trace_python(create=True, say=lambda text: print(text, file=sys.stderr))
    if python is None:
        return {"error": "trace-opt venv unavailable"}
    for package in needs:
        if subprocess.run([str(python), "-c", f"import {package}"], capture_output=True).returncode != 0:
            subprocess.run([str(python), "-m", "pip", "install", "-q", package], check=True)
    command = [str(python), str(TRACE_SCRIPT_DIR / script), "--model", server["model"], "--base-url",
               server["base_url"], *args]
    full_env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", **(env or {})}
    started = time.perf_counter()
    try:
        proc = subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"killed after {timeout:.0f} s", "seconds": time.perf_counter() - started}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-3:]}",
                "seconds": time.perf_counter() - started}
    result = json.loads(lines[-1])
    result["seconds"] = time.perf_counter() - started
    return result
