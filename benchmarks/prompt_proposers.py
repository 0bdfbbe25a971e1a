"""The runner of the prompt tasks (``runner = "prompt"``, :mod:`benchmarks.fresh_prompts`): autotrace's CLI
without and with the instruction-induction proposer, and GEPA (:mod:`benchmarks.gepa_side`), each with its
final prompt judged on the task's hidden cases.

    python -m benchmarks --sections quality --tasks topic_code --sides autotrace gepa --seeds 1
    python -m benchmarks.prompt_proposers --base-url http://127.0.0.1:PORT/v1 --sides autotrace,induce,gepa \
        --tasks topic_code,date_extract,camel_case --steps 3 --out benchmarks/results/prompt_proposers.jsonl
    python -m benchmarks.prompt_proposers --sides autotrace,induce --tasks camel_case --steps 5 --seed 1
    python -m benchmarks.prompt_proposers --base-url http://127.0.0.1:PORT/v1 --app-base-url http://127.0.0.1:PORT2/v1 \
        --sides autotrace --tasks camel_case --steps 1

A task is a registered folder (``program.py`` with one marked prompt constant and an ``OpenAI()``
client, ``judge.py`` with ``examples()``, ``hidden.py`` with ``CASES``). Each autotrace run works on a
copy of the folder without its hidden cases: given a server (``python -m benchmarks`` starts one), the
optimizer and the program's calls go to it (``--base-url``, ``--app-base-url``); given none, nothing is
set and the embedded model serves both, as for a user; ``--app-base-url`` gives the program another model
(the optimizer's stays the embedded one), which then also answers the hidden cases. Through ``python -m
benchmarks`` each run is one typed row (:func:`row`) in benchmarks/results/quality.jsonl; the script's own
``main`` writes its richer lines (the prompts, the hidden cases each failed, which proposer wrote the winner)
to ``--out`` and each run's typed row to ``--record``. Without ``--base-url`` the hidden cases are answered
by the embedded 1.5B, started for them alone.
GEPA is given ``--gepa-calls`` metric calls, or as many program runs as the autotrace run on the
same task made.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import gepa_side, rows, tasks

ROOT = Path(__file__).resolve().parent.parent
#: The model the runs with nothing set use (the optimizer's and, unless ``--app-base-url``, the program's).
MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"
#: The extra options of each autotrace side.
SIDES = {"autotrace": ["--no-induce"], "induce": ["--induce"]}


def task_dir(name: str) -> Path:
    try:
        task = tasks.get(name)
    except KeyError as exc:
        raise SystemExit(exc.args[0]) from None
    if task.runner != tasks.Runner.PROMPT:
        raise SystemExit(f"task {name!r} is not a prompt task (its runner: {task.runner})")
    return task.folder


def _env(base_url: str) -> dict[str, str]:
    """The environment of a child that runs the program against the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AUTOTRACE_"))}
    return {**env, "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "local"}


def hidden_score(folder: Path, prompt: str, base_url: str | None) -> dict[str, Any]:
    """The program with ``prompt`` on the task's hidden cases (in a child process, against the server; with
    no ``base_url``, against the embedded 1.5B started for the scoring alone, the model that served the run)."""
    if base_url is None:
        from autotrace.llm.server import LocalServer

        with LocalServer(size="1.5b", auto_install=True) as server:
            return hidden_score(folder, prompt, server.base_url)
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


def run_autotrace(task: str, side: str, args: argparse.Namespace, server: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    """One ``autotrace optimize`` run on a copy of the task; what it reached. With ``server``, the
    optimizer and the program's own calls go to it; without, nothing is set (the embedded model)."""
    with tempfile.TemporaryDirectory(prefix=f"pp-{task}-") as scratch:
        folder = Path(scratch) / task
        shutil.copytree(task_dir(task), folder,
                        ignore=shutil.ignore_patterns("hidden.py", "task.toml", "__pycache__"))
        (folder / "pyproject.toml").write_text("# one benchmark task: its own autotrace project\n[tool.autotrace]\n")
        command = [str(Path(sys.executable).with_name("autotrace")), "optimize", "program.py", "--feedback",
                   "judge.py", "--steps", str(args.steps), "--target", "1", "--timeout", "900", "--jobs", "1",
                   "--no-cache", "--seed", str(getattr(args, "seed", 0)), *SIDES[side]]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AUTOTRACE_"))}
        if server is not None:
            command += ["--model", server["model"], "--base-url", server["base_url"],
                        "--app-base-url", server["base_url"]]
            env.update(OPENAI_API_KEY="local", AUTOTRACE_APP_API_KEY="local")
        app_url = getattr(args, "app_base_url", None)
        if server is None and app_url:
            command += ["--app-base-url", app_url]
            env.update(AUTOTRACE_APP_API_KEY="local")
        started = time.time()
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=False)
        seconds = time.time() - started
        log = Path(args.logs) / f"{task}-{side}{'-app' if app_url and server is None else ''}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(" ".join(command) + "\n" + done.stdout + "\n--- stderr\n" + done.stderr)
        if getattr(args, "keep", None):
            kept = Path(args.keep) / f"{task}-{side}-steps{args.steps}-seed{getattr(args, 'seed', 0)}"
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(folder, kept, ignore=shutil.ignore_patterns("__pycache__"))
        run_id = _last_run_id(folder)
        if run_id is None:
            return {"task": task, "side": side, "error": (done.stderr or done.stdout).strip()[-400:],
                    "seconds": seconds}
        shown = subprocess.run([str(Path(sys.executable).with_name("autotrace")), "show", "--json", run_id],
                               cwd=folder, env=env, capture_output=True, text=True, check=True)
        data = json.loads(shown.stdout)
    if server is not None:
        hidden_url, app = server["base_url"], {}
    elif app_url:
        hidden_url, app = app_url, {"app_model": served_model(app_url)}
    else:
        hidden_url, app = args.base_url, {}
    return {"task": task, "side": side, **app, "seconds": round(seconds), "exit": done.returncode,
            "step_budget": args.steps, "seed": getattr(args, "seed", 0), **_summary(data, task, hidden_url)}


def served_model(base_url: str) -> str:
    """The model id an OpenAI-compatible server reports first (its ``/models``)."""
    from openai import OpenAI

    return OpenAI(base_url=base_url, api_key="local", max_retries=1, timeout=60).models.list().data[0].id


def _last_run_id(folder: Path) -> str | None:
    """The newest run stored in the project ``folder`` (None: the run stored none)."""
    from autotrace.store import RunStore

    db = folder / ".autotrace" / "autotrace.db"
    if not db.exists():
        return None
    with RunStore(db) as store:
        listed = store.list_runs()
    return listed[0].id if listed else None


def _summary(data: dict[str, Any], task: str, base_url: str | None) -> dict[str, Any]:
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
        "before": steps[0]["describe"], "after": best.get("describe"), "best_score": run.get("best_score"),
        "solved": bool(best.get("reached_target")),
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
    from autotrace.optimizers.induce import FORM_MEANT, FORM_ONLY, FORM_RULE, INDUCED, WITH_FORM

    reasoning = step.get("reasoning") or ""
    for start, name in ((WITH_FORM, "induce+form"), (INDUCED, "induce"), (FORM_MEANT, "form+meanings"),
                        (FORM_RULE, "form+rule"), (FORM_ONLY, "form")):
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
    """GEPA on the task (:mod:`benchmarks.gepa_side`) against ``--base-url``, as one line of ``--out``."""
    result = gepa_side.run(tasks.get(task), 0, calls, {"base_url": args.base_url, "model": "local"})
    return {**result, "seconds": round(result["seconds"]), "writer": "gepa"}


def row(task: tasks.Task, result: dict[str, Any], *, commit: str, model: str, load: float | None, command: str,
        date: str) -> rows.Row:
    """The typed row of one run of either side (:func:`run_autotrace`'s or :func:`gepa_side.run`'s result).
    ``program_runs`` counts the program's runs on one example each (GEPA's metric calls); a run whose program
    had a model of its own (``app_model``) is arm ``app NAME`` (``induce, app NAME``)."""
    hidden = result.get("hidden") or {}
    solved = bool(result.get("solved"))
    if result["side"] == "gepa":
        arm, runs = f"calls{result['metric_calls']}", result.get("metric_calls_made")
        optimizer, program = result.get("optimizer_tokens"), result.get("program_tokens")
        driven = (result.get("before", 0.0) < task.target) if solved else None  # the seed prompt, or a reflection's
    else:
        arm = "default" if result["side"] == "autotrace" else result["side"]
        if result.get("app_model"):
            arm = f"app {result['app_model']}" if arm == "default" else f"{arm}, app {result['app_model']}"
        runs = result.get("app_calls")
        optimizer = (result.get("prompt_tokens") or 0) + (result.get("completion_tokens") or 0) \
            if "prompt_tokens" in result else None
        program = (result.get("app_prompt_tokens") or 0) + (result.get("app_completion_tokens") or 0) \
            if result.get("app_prompt_tokens") is not None else None
        driven = (result.get("writer") not in ("original", "measured")) if solved else None
    note = str(result.get("error") or "")
    if result["side"] == "gepa" and not result.get("accepted"):
        note = note or "GEPA accepted no candidate: the seed prompt stayed the best"
    steps = int(result.get("step_budget") or task.steps)
    return rows.Row(commit=commit, side="gepa" if result["side"] == "gepa" else "autotrace", arm=arm, model=model,
                    seed=int(result.get("seed", 0)), task=task.name, steps=steps, solved=solved,
                    visible_score=result.get("best_score"),
                    hidden_score=hidden["passed"] / hidden["total"] if hidden.get("total") else None,
                    llm_driven=driven, program_runs=runs, optimizer_tokens=optimizer, program_tokens=program,
                    seconds=result.get("seconds"), load=load, command=command, date=date, note=note)


def run_task(task: tasks.Task, side: str, seed: int, server: dict[str, Any], *, steps: int | None = None,
             metric_calls: int | None = None) -> dict[str, Any]:
    """One run of ``side`` ("autotrace", "induce" or "gepa") on a prompt task, against ``server``, with
    the run's ``seed`` (autotrace's ``--seed``)."""
    if side == "gepa":
        return gepa_side.run(task, seed, metric_calls or gepa_side.default_budget(task), server)
    args = argparse.Namespace(steps=steps or task.steps, logs=tempfile.gettempdir() + "/prompt_proposers_logs",
                              base_url=server["base_url"], seed=seed)
    return {**run_autotrace(task.name, side, args, server), "seed": seed}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=None,
                        help="The server GEPA and the hidden cases use (default: the embedded 1.5B, started for "
                             "the hidden cases alone; the autotrace runs set nothing either way)")
    parser.add_argument("--tasks", default="topic_code,date_extract,camel_case")
    parser.add_argument("--sides", default="autotrace,induce")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0, help="autotrace's --seed")
    parser.add_argument("--record", type=Path, default=rows.QUALITY,
                        help="where each run's typed row is appended (default benchmarks/results/quality.jsonl)")
    parser.add_argument("--app-base-url", default="",
                        help="The program's model (autotrace's --app-base-url; it also answers the hidden cases)")
    parser.add_argument("--gepa-calls", type=int, default=0, help="GEPA's metric calls (0: the autotrace run's)")
    parser.add_argument("--out", default="benchmarks/results/prompt_proposers.jsonl")
    parser.add_argument("--rescore", action="store_true",
                        help="Judge each result's final prompt on its task's hidden cases again, in --out")
    parser.add_argument("--logs", default=tempfile.gettempdir() + "/prompt_proposers_logs")
    parser.add_argument("--keep", default=None, metavar="DIR",
                        help="copy each autotrace run's project folder (its run store) to DIR/TASK-SIDE-stepsN-seedS")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.rescore:
        rescore(out, args.base_url)
        return
    for task in args.tasks.split(","):
        for side in args.sides.split(","):
            load, commit = os.getloadavg()[0], rows.head_commit()
            if side == "gepa":
                if args.base_url is None:
                    raise SystemExit("the gepa side needs --base-url")
                calls = args.gepa_calls or _autotrace_runs(out, task)
                result = run_gepa(task, args, calls)
            else:
                result = run_autotrace(task, side, args)
            result["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            result["commit"] = commit
            print(json.dumps(result), flush=True)
            with out.open("a") as handle:
                handle.write(json.dumps(result) + "\n")
            if args.record is not None:
                rows.append([row(tasks.get(task), result, commit=commit, model=MODEL, load=round(load, 2),
                                 command=_command(task, side, args),
                                 date=time.strftime("%Y-%m-%d %H:%M", time.gmtime()))], args.record)


def _command(task: str, side: str, args: argparse.Namespace) -> str:
    """The command line that reruns one task and side of this run."""
    command = ["python", "-m", "benchmarks.prompt_proposers", "--sides", side, "--tasks", task,
               "--steps", str(args.steps), "--seed", str(args.seed)]
    command += ["--base-url", "URL"] if args.base_url else []
    command += ["--app-base-url", "URL2"] if args.app_base_url else []
    return " ".join(command)


def rescore(out: Path, base_url: str | None) -> None:
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
