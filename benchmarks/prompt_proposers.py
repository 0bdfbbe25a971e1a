"""Prompt tasks on the embedded model: autotrace without and with the instruction-induction proposer, and
GEPA (its default adapter, the same model as task and reflection model), each with its final prompt
judged on the task's hidden cases.

    python -m benchmarks.prompt_proposers --base-url http://127.0.0.1:PORT/v1 --sides autotrace,induce,gepa \
        --tasks topic_code,date_extract,camel_case --steps 3 --out benchmarks/results/prompt_proposers.jsonl

Each autotrace run sets nothing (the embedded model serves the optimizer and the program, as for a
user); ``--base-url`` (``autotrace model serve``) serves the hidden cases and GEPA. A task is a folder of
:mod:`benchmarks.fresh_prompts` (``program.py`` with a marked ``PROMPT`` and an ``OpenAI()`` client,
``judge.py`` with ``examples()``, ``hidden.py`` with ``CASES``). Each run works on a copy of the folder
in a scratch directory; one JSON line per task and side is appended to ``--out``: the score before (the
original prompt) and after on the judge's examples, the hidden pass rate of the final prompt, the
optimizer's and the program's tokens, the program runs, and which proposer wrote the winning prompt.
GEPA is given as many program runs (metric calls) as the autotrace run on the same task made, or
``--gepa-calls``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FRESH = Path(__file__).resolve().parent / "fresh_prompts"
ROOT = Path(__file__).resolve().parent.parent
#: The extra options of each autotrace side.
SIDES = {"autotrace": ["--no-induce"], "induce": ["--induce"]}


def task_dir(name: str) -> Path:
    folder = FRESH / name
    if not (folder / "program.py").is_file():
        raise SystemExit(f"no task {name!r} in {FRESH}")
    return folder


def _env(base_url: str) -> dict[str, str]:
    """The environment of a child that runs the program against the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AUTOTRACE_"))}
    return {**env, "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "local"}


def hidden_score(folder: Path, prompt: str, base_url: str) -> dict[str, Any]:
    """The program with ``prompt`` on the task's hidden cases (in a child process, against the server)."""
    code = (
        "import json, runpy, sys\n"
        "prog = runpy.run_path(sys.argv[1] + '/program.py', run_name='hidden')\n"
        "cases = runpy.run_path(sys.argv[1] + '/hidden.py')['CASES']\n"
        "prog['main'].__globals__['PROMPT'] = sys.argv[2]\n"
        "out = {text: prog['main'](text) for text in cases}\n"
        "print(json.dumps({'passed': sum(out[t] == cases[t] for t in cases), 'total': len(cases),"
        " 'failing': {t: out[t] for t in cases if out[t] != cases[t]}}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(folder), prompt], env=_env(base_url),
                          capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_autotrace(task: str, side: str, args: argparse.Namespace) -> dict[str, Any]:
    """One ``autotrace optimize`` run on a copy of the task; what it reached."""
    with tempfile.TemporaryDirectory(prefix=f"pp-{task}-") as scratch:
        folder = Path(scratch) / task
        shutil.copytree(task_dir(task), folder, ignore=shutil.ignore_patterns("hidden.py", "__pycache__"))
        command = [str(Path(sys.executable).with_name("autotrace")), "optimize", "program.py", "--feedback",
                   "judge.py", "--steps", str(args.steps), "--target", "1", "--timeout", "900", "--jobs", "1",
                   *SIDES[side]]  # nothing else set: the embedded model serves the optimizer and the program
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AUTOTRACE_"))}
        started = time.time()
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=False)
        seconds = time.time() - started
        log = Path(args.logs) / f"{task}-{side}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(" ".join(command) + "\n" + done.stdout + "\n--- stderr\n" + done.stderr)
        run_id = _last_run_id(folder)
        if run_id is None:
            return {"task": task, "side": side, "error": (done.stderr or done.stdout).strip()[-400:],
                    "seconds": seconds}
        shown = subprocess.run([str(Path(sys.executable).with_name("autotrace")), "show", "--json", run_id],
                               cwd=folder, env=env, capture_output=True, text=True, check=True)
        data = json.loads(shown.stdout)
    return {"task": task, "side": side, "seconds": round(seconds), "exit": done.returncode,
            **_summary(data, task, args.base_url)}


def _last_run_id(folder: Path) -> str | None:
    """The newest run stored in the project ``folder`` (None: the run stored none)."""
    from autotrace.store import RunStore

    db = folder / ".autotrace" / "autotrace.db"
    if not db.exists():
        return None
    with RunStore(db) as store:
        listed = store.list_runs()
    return listed[0].id if listed else None


def _summary(data: dict[str, Any], task: str, base_url: str) -> dict[str, Any]:
    """Scores, tokens, program runs, the final prompt, its hidden score and the proposer that wrote it."""
    steps = data["steps"]
    run = data["run"]
    best = run.get("best") or {}
    values = best.get("values") or steps[-1]["values"]
    prompt = prompt_text(next(iter(values.values())))
    writer = "original"
    for step in steps[1:]:
        if step.get("candidate") and prompt in map(prompt_text, step["candidate"].values()):
            writer = proposer_of(step)
            break
    app = (data.get("app") or {}).get("total") or {}
    return {
        "before": steps[0]["describe"], "after": best.get("describe"), "solved": bool(best.get("reached_target")),
        "prompt_tokens": sum(s["prompt_tokens"] for s in steps),
        "completion_tokens": sum(s["completion_tokens"] for s in steps),
        "app_prompt_tokens": app.get("prompt_tokens"), "app_completion_tokens": app.get("completion_tokens"),
        "app_calls": app.get("calls"), "evaluations": best.get("evaluations"), "steps": len(steps) - 1,
        "stopped": best.get("stopped"), "prompt": prompt, "writer": writer,
        "hidden": hidden_score(task_dir(task), prompt, base_url),
    }


def prompt_text(stored: str) -> str:
    """A text parameter's value from its stored form (a Python literal)."""
    try:
        value = ast.literal_eval(stored)
    except (ValueError, SyntaxError):
        return stored
    return value if isinstance(value, str) else stored


def proposer_of(step: dict[str, Any]) -> str:
    """Which question wrote a step's kept candidate: read from its reasoning (this module's proposals say
    so) or the stored prompt's system message."""
    from autotrace.optimizers.base import load_prompt
    from autotrace.optimizers.induce import FORM_ONLY, INDUCED, WITH_FORM

    reasoning = step.get("reasoning") or ""
    for start, name in ((WITH_FORM, "induce+form"), (INDUCED, "induce"), (FORM_ONLY, "form")):
        if reasoning.startswith(start):
            return name
    system = next((m.get("content", "") for m in step.get("prompt") or () if m.get("role") == "system"), "")
    for prompt, name in (("reflect_system_text.txt", "reflect"), ("reflect_system_code.txt", "reflect"),
                         ("merge_system.txt", "merge")):
        if system.startswith(load_prompt(prompt).strip()[:60]):
            return name
    if "merge" in (step.get("note") or "") and not system:
        return "merge"
    return "whole" if system else "measured"


def run_gepa(task: str, args: argparse.Namespace, calls: int) -> dict[str, Any]:
    """GEPA's default adapter on the task: the system prompt as its one component, the program itself
    as the task model (so the same post-processing and judge score its answers), the served model as
    the reflection model."""
    import gepa
    from gepa.adapters.default_adapter.default_adapter import EvaluationResult
    from openai import OpenAI

    folder = task_dir(task)
    os.environ.update(OPENAI_BASE_URL=args.base_url, OPENAI_API_KEY="local")
    program = runpy.run_path(str(folder / "program.py"), run_name="gepa_task")
    judge = runpy.run_path(str(folder / "judge.py"), run_name="gepa_judge")
    client = OpenAI(base_url=args.base_url, api_key="local")
    usage = {"prompt": 0, "completion": 0, "app_calls": 0}

    def task_lm(messages: Any) -> str:
        program["main"].__globals__["PROMPT"] = messages[0]["content"]
        usage["app_calls"] += 1
        return str(program["main"](messages[-1]["content"]))

    def reflection_lm(prompt: str) -> str:
        reply = client.chat.completions.create(model="local", messages=[{"role": "user", "content": prompt}],
                                               temperature=0.8, max_tokens=1024)
        if reply.usage is not None:
            usage["prompt"] += reply.usage.prompt_tokens
            usage["completion"] += reply.usage.completion_tokens
        return reply.choices[0].message.content or ""

    def evaluator(data: dict[str, Any], response: str) -> Any:
        score, message = judge["feedback"](response, data["input"])
        return EvaluationResult(score=float(score), feedback=message)

    items = [{"input": text, "additional_context": {}, "answer": str(judge["LABELLED"][text])}
             for text in judge["examples"]()]
    seed_prompt = program["PROMPT"]
    started = time.time()
    result = gepa.optimize(seed_candidate={"system_prompt": seed_prompt}, trainset=items, valset=items,
                           task_lm=task_lm, evaluator=evaluator, reflection_lm=reflection_lm,
                           max_metric_calls=calls, seed=0, display_progress_bar=False,
                           run_dir=None)
    best = result.best_candidate["system_prompt"]
    scores = result.val_aggregate_scores
    return {"task": task, "side": "gepa", "seconds": round(time.time() - started), "before": f"{scores[0]:.4g}",
            "after": f"{max(scores):.4g}", "solved": max(scores) >= 1.0, "prompt_tokens": usage["prompt"],
            "completion_tokens": usage["completion"], "app_calls": usage["app_calls"], "metric_calls": calls,
            "candidates": len(result.candidates), "prompt": best, "writer": "gepa",
            "hidden": hidden_score(folder, best, args.base_url)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--tasks", default="topic_code,date_extract,camel_case")
    parser.add_argument("--sides", default="autotrace,induce")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--gepa-calls", type=int, default=0, help="GEPA's metric calls (0: the autotrace run's)")
    parser.add_argument("--out", default="benchmarks/results/prompt_proposers.jsonl")
    parser.add_argument("--rescore", action="store_true",
                        help="Judge each result's final prompt on its task's hidden cases again, in --out")
    parser.add_argument("--logs", default=tempfile.gettempdir() + "/prompt_proposers_logs")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.rescore:
        rescore(out, args.base_url)
        return
    for task in args.tasks.split(","):
        for side in args.sides.split(","):
            if side == "gepa":
                calls = args.gepa_calls or _autotrace_runs(out, task)
                result = run_gepa(task, args, calls)
            else:
                result = run_autotrace(task, side, args)
            result["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            print(json.dumps(result), flush=True)
            with out.open("a") as handle:
                handle.write(json.dumps(result) + "\n")


def rescore(out: Path, base_url: str) -> None:
    """Each line's ``hidden`` judged again from its ``prompt`` (the file rewritten atomically)."""
    lines = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    judged: dict[tuple[str, str], dict[str, Any]] = {}
    for result in lines:
        if "prompt" in result:
            result["prompt"] = key = prompt_text(result["prompt"])
            if (result["task"], key) not in judged:
                judged[result["task"], key] = hidden_score(task_dir(result["task"]), key, base_url)
            result["hidden"] = judged[result["task"], key]
    partial = out.with_suffix(".partial")
    partial.write_text("".join(json.dumps(r) + "\n" for r in lines))
    partial.replace(out)


def _autotrace_runs(out: Path, task: str) -> int:
    """The program runs (examples x evaluations) the latest autotrace run on ``task`` made: GEPA's budget."""
    lines = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    runs = [r for r in lines if r.get("task") == task and r.get("side") != "gepa" and r.get("app_calls")]
    if not runs:
        raise SystemExit(f"no autotrace run of {task} in {out} to take GEPA's budget from; give --gepa-calls")
    return max(int(r["app_calls"]) for r in runs)


if __name__ == "__main__":
    main()
