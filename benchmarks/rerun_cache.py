"""Wall time of the same optimization run twice in one project: the second run's model calls (the program's
through the recording proxy, the optimizer's through the response cache) are answered from the run store,
so it should take a small part of the first run's time.

    python -m benchmarks.rerun_cache [--steps 2] [--delay 0.5] [--label TEXT]
        [--out benchmarks/results/rerun_cache.jsonl]
    flock /work/model.lock python -m benchmarks.rerun_cache --embedded --steps 1

The program is examples/prompt_app (an unmodified ``OpenAI()`` app routing customer messages, its system
prompt the parameter), copied to a fresh folder, optimized with ``autotrace optimize triage.py --feedback
judge.py --steps N`` and nothing else set: its calls go to the run's model through the proxy. The model is
a scripted OpenAI-compatible server (tests/llmserver.py, a real socket) answering every request, the
program's and the optimizer's, after ``--delay`` seconds as a model would take that long, and counting
them; or, with ``--embedded``, autotrace's own local model (run it under the model lock), whose start is
part of each run's time. One JSON line is appended to ``--out``: both wall times, their ratio, what each
run reported (best score, the program's calls and how many the cache answered, the optimizer's tokens),
whether the second gave the same patch, and with the scripted model how many requests reached it in each.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .harness import ROOT

EXAMPLE = ROOT / "examples" / "prompt_app"
AUTOTRACE = Path(sys.executable).parent / "autotrace"
#: What the scripted optimizer proposes: a prompt the scripted program model answers with the label alone.
ONE_WORD = "Answer with one word, the team the message is for: billing, bug or question."


#: The judge's messages and their teams: the scripted program model answers them as a good prompt would.
LABELLED: dict[str, str] = runpy.run_path(str(EXAMPLE / "judge.py"))["LABELLED"]


def is_program(body: dict[str, Any]) -> bool:
    """Whether a request is the program's (its system prompt and one of the judge's messages)."""
    messages = body.get("messages") or []
    return len(messages) == 2 and messages[1].get("content") in LABELLED


def scripted_answer(body: dict[str, Any]) -> str | dict[str, Any]:
    """A request's answer, a function of the request alone (as a model at temperature 0): the program's
    call gets the team when its prompt asks for one word, a sentence otherwise; the optimizer's gets the
    one-word prompt."""
    if is_program(body):
        system, text = (str(m.get("content")) for m in body["messages"])
        return LABELLED[text] if "one word" in system else f"This message is about {LABELLED[text]} matters."
    return {"reasoning": "the answers must be one team's name", "suggestion": {"triage.PROMPT": ONE_WORD}}


def lay_out(parent: Path) -> Path:
    """A fresh copy of examples/prompt_app under ``parent`` (no run store): the project the runs share."""
    folder = parent / "prompt_app"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".autotrace", "__pycache__"))
    return folder


def user_env() -> dict[str, str]:
    """This environment without ``OPENAI_*``/``AUTOTRACE_*``: a user who set nothing (zero set-up)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AUTOTRACE_"))}


def scripted(server: Any, delay: float, count: int = 1000) -> list[str]:
    """Script ``server`` (tests/llmserver.py) to answer ``count`` requests after ``delay`` seconds each; the
    options that make a run ask it."""
    from llmserver import Fault

    server.script(*[lambda body: Fault.delay(delay, scripted_answer(body))] * count)
    return ["--base-url", server.base_url, "--model", "scripted"]


def one_run(folder: Path, steps: int, model: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """``autotrace optimize`` once in ``folder``: its wall time, exit code and what it reported."""
    started = time.perf_counter()
    result = subprocess.run([str(AUTOTRACE), "optimize", "triage.py", "--feedback", "judge.py", "--steps", str(steps),
                             *model], cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - started
    run_id = re.search(r"run: (\S+)", result.stderr)
    found: dict[str, Any] = {"seconds": round(seconds, 2), "exit": result.returncode, "patch": result.stdout}
    if run_id is None:
        found["stderr"] = result.stderr[-2000:]
        return found
    shown = json.loads(subprocess.run([str(AUTOTRACE), "show", run_id.group(1), "--json"], cwd=folder, env=env,
                                      capture_output=True, text=True, timeout=120).stdout)
    app = (shown.get("app") or {}).get("total") or {}
    found.update(run=run_id.group(1), best_score=shown["run"]["best_score"],
                 app_calls=app.get("calls"), app_cached=app.get("cached"),
                 optimizer_tokens=[s.get("prompt_tokens", 0) + s.get("completion_tokens", 0) for s in shown["steps"]],
                 progress=[line for line in result.stderr.splitlines() if line.startswith("step ")])
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--delay", type=float, default=0.5, help="seconds the scripted server takes per request")
    parser.add_argument("--embedded", action="store_true", help="the embedded local model instead of a scripted one")
    parser.add_argument("--timeout", type=float, default=7200.0, help="seconds one run may take")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/rerun_cache.jsonl"))
    parser.add_argument("--label", default="", help="what the code measured is (a record's 'label')")
    args = parser.parse_args(argv)
    out = args.out if args.out.is_absolute() else ROOT / args.out
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    env = user_env()
    record: dict[str, Any] = {"benchmark": "rerun_cache", "commit": commit, "label": args.label,
                              "model": "embedded" if args.embedded else "scripted", "steps": args.steps,
                              "delay": None if args.embedded else args.delay, "load": round(os.getloadavg()[0], 1)}
    with tempfile.TemporaryDirectory(prefix="rerun-cache-") as tmp:
        folder = lay_out(Path(tmp))
        if args.embedded:
            runs = []
            for _ in range(2):  # each said as it ends: a run on a busy machine may be cut short
                runs.append(one_run(folder, args.steps, [], env, args.timeout))
                print(json.dumps({k: v for k, v in runs[-1].items() if k != "patch"}), flush=True)
        else:
            sys.path.insert(0, str(ROOT / "tests"))
            from llmserver import ScriptedLLMServer

            with ScriptedLLMServer() as server:
                model = scripted(server, args.delay)
                runs, before = [], 0
                for _ in range(2):
                    runs.append(one_run(folder, args.steps, model, env, args.timeout))
                    asked = server.chat_requests[before:]
                    before = len(server.chat_requests)
                    program = sum(1 for r in asked if is_program(r.json or {}))
                    runs[-1]["requests"] = {"program": program, "optimizer": len(asked) - program}
    first, second = runs
    record.update(first=first, second=second, ratio=round(second["seconds"] / first["seconds"], 3),
                  same_patch=first["patch"] == second["patch"], load_after=round(os.getloadavg()[0], 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8") as lines:
        lines.write(json.dumps(record) + "\n")
    print(f"first run {first['seconds']:.1f} s, second {second['seconds']:.1f} s: ratio {record['ratio']:.3f}"
          f" (same patch: {record['same_patch']}; {args.steps} steps, {record['model']} model)")
    return 0 if first["exit"] == second["exit"] and "run" in second else 1


if __name__ == "__main__":
    sys.exit(main())
