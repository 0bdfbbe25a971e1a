"""Running the comparison: trace-opt's venv, one local model server, the task runs of both sides.

Each task run gets a fresh folder under ``.bench/results/<stamp>/runs/`` holding only what that side
runs (its program form, the shared judge and helpers, a pyproject.toml marking the project root) and
is run in a process of its own: ``benchmarks.autotrace_side`` (autotrace's ``optimize``),
``trace_side/run_task.py`` (trace-opt's ``OptoPrime``, in its venv) or, on a prompt task, ``benchmarks.gepa_side``
(GEPA's default adapter, given as many program runs as the autotrace run beside it made). All talk to the same
server.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from autotrace.llm.proxy import RecordingProxy, Upstream
from autotrace.records import StepRecord
from autotrace.store import RunStore

from .rows import Row
from .tasks import Task

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
TRACE_VENV = BENCH / "trace-venv"
TRACE_REQUIREMENT = "trace-opt==0.1.3.8"
TRACE_RUNNER = Path(__file__).resolve().parent / "trace_side" / "run_task.py"
#: A side's name in its result and row, where it differs from the one ``--sides`` takes.
SIDE_NAMES = {"trace": "trace-opt"}


def stored_steps(run_dir: Path) -> list[StepRecord]:
    """Every step the autotrace run in ``run_dir`` stored, run after run (none when it stored nothing)."""
    db = run_dir / ".autotrace" / "autotrace.db"
    if not db.is_file():
        return []
    with RunStore(db) as store:
        return [record for run in store.list_runs() for record in store.steps(run.id)]


def trace_python(create: bool = True, say=print) -> Path | None:
    """The trace-opt venv's python, creating the venv (``pip install trace-opt``) when missing."""
    python = TRACE_VENV / "bin" / "python"
    probe = [str(python), "-c", "import opto.optimizers, litellm"]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    if python.exists() and subprocess.run(probe, capture_output=True, env=env).returncode == 0:
        return python
    if not create:
        return None
    say(f"creating {TRACE_VENV} with {TRACE_REQUIREMENT} ...")
    subprocess.run([sys.executable, "-m", "venv", str(TRACE_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", TRACE_REQUIREMENT], check=True)
    return python if subprocess.run(probe, capture_output=True, env=env).returncode == 0 else None


def package_version(python: Path, name: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({name!r}))"
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return proc.stdout.strip() or "?"


@contextlib.contextmanager
def model_server(base_url: str | None, model: str | None, threads: int | None,
                 say=print, speculative: str | None = None) -> Iterator[dict[str, Any]]:
    """One server for the whole benchmark: the given endpoint, or autotrace's LocalServer (1.5B)."""
    if base_url:
        yield {"base_url": base_url, "model": model or "local", "started_by": "given (--base-url)"}
        return
    from autotrace.llm.server import SPECULATIVE, LocalServer

    started = time.perf_counter()
    with LocalServer(size="1.5b", threads=threads, auto_install=True,
                     speculative=SPECULATIVE if speculative is None else speculative) as server:
        say(f"model server: {server.model_name} at {server.base_url} ({server.threads} threads, "
            f"ready in {time.perf_counter() - started:.1f} s)")
        yield {"base_url": server.base_url, "model": server.model_name, "threads": server.threads,
               "n_ctx": server.n_ctx, "gguf": str(server.gguf), "started_by": "autotrace.llm.server.LocalServer"}


def run_logged(command: list[str], cwd: Path, env: dict[str, str], log_path: Path,
               timeout: float) -> tuple[int | str, float]:
    """Run ``command`` with its output in ``log_path``: its exit code (or ``killed after N s``) and the
    wall seconds it took."""
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        try:
            code: int | str = subprocess.run(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                             timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            code = f"killed after {timeout:.0f} s"
    return code, time.perf_counter() - started


def side_env(program_base_url: str, seed: int) -> dict[str, str]:
    """The environment of one side's run. The program's own model calls reach ``program_base_url`` (the
    harness's recording proxy, which gives every request the served model's name and counts the calls alike
    on both sides; it forwards each request unchanged and caches nothing) through the standard variables,
    as for a user who set them: an ``OpenAI()`` program needs nothing else. autotrace sends the program's calls
    on to that endpoint through its own recording proxy (``--app-calls proxied``, its default), so they are
    nodes of its graph and cached by its run store, as a user's would be. Neither optimizer reads them: each side is given the server by
    ``--base-url``, so its own calls go there directly and only the program's are counted as the program's.
    ``BENCH_SEED`` picks a numeric or code task's instance (a prompt task's program reads no such variable).
    This machine sets PYTHONDONTWRITEBYTECODE, which a user's shell rarely does; it would also turn off
    autotrace's rewritten-bytecode cache, so both sides run without it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("OPENAI_")}
    return {**env, "OPENAI_BASE_URL": program_base_url, "OPENAI_API_KEY": "local", "BENCH_SEED": str(seed),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def run_task(task: Task, side: str, seed: int, steps: int, server: dict[str, Any], out_dir: Path,
             trace_py: Path | None, run_timeout: float, max_tokens: int, code_format: str | None = None,
             candidates: int = 1, holdout: float = 0.0, resample: int = 0,
             metric_calls: int | None = None) -> dict[str, Any]:
    """One optimization run of one side; the result dict of the side's script (or why there is none).
    ``code_format`` ("fenced" or "json"), ``candidates`` (answers per step), ``resample`` (sampled answers
    after one that gave nothing new) and ``holdout`` (the fraction of the judge's examples held out) are
    autotrace's alone: trace-opt's OptoPrime asks one answer per
    step and sees every example. ``metric_calls`` is GEPA's budget (program runs; default
    :func:`benchmarks.gepa_side.default_budget` of ``steps``). A task with hidden cases gets ``hidden``: its
    final function judged on them after the run."""
    parts = [side, *([code_format] if code_format else [])]
    if side == "autotrace":
        parts += [*([f"n{candidates}"] if candidates != 1 else []), *([f"r{resample}"] if resample else []),
                  *([f"holdout{holdout:g}"] if holdout else [])]
    if side == "gepa":
        from . import gepa_side

        metric_calls = metric_calls or gepa_side.default_budget(task, steps)
        parts.append(f"calls{metric_calls}")
    label = "-".join(parts)
    run_dir = out_dir / "runs" / f"{task.name}-seed{seed}-{label}"
    task.lay_out(side, run_dir)
    result_path = run_dir / "result.json"
    common = ["--steps", str(steps), "--target", str(task.target), "--model", server["model"],
              "--base-url", server["base_url"], "--seed", str(seed), "--max-tokens", str(max_tokens),
              "--out", str(result_path)]
    if side == "autotrace":
        command = [sys.executable, "-m", "benchmarks.autotrace_side", str(run_dir), *common,
                   "--program", task.program, "--judge", task.judge]
        command += ["--code-format", code_format] if code_format else []
        command += ["--candidates", str(candidates), "--holdout", str(holdout), "--resample", str(resample)]
    elif side == "gepa":
        command = [sys.executable, "-m", "benchmarks.gepa_side", str(run_dir), "--task", task.name,
                   "--metric-calls", str(metric_calls), "--model", server["model"], "--base-url", server["base_url"],
                   "--seed", str(seed), "--out", str(result_path)]
    else:
        if trace_py is None:
            return {"side": "trace-opt", "error": "trace-opt venv unavailable", "solved": False}
        command = [str(trace_py), str(TRACE_RUNNER), str(run_dir), *common]
    load = os.getloadavg()[0]  # the machine's load when the run starts: what its seconds were measured under
    with RecordingProxy(lambda: Upstream(server["base_url"], "local", server["model"])) as app_proxy:
        env = side_env(app_proxy.base_url, seed)
        code, wall = run_logged(command, ROOT, env, run_dir / "run.log", run_timeout)
        app = app_proxy.usage()
    if result_path.is_file():
        result = json.loads(result_path.read_text())
    else:
        tail = (run_dir / "run.log").read_text(errors="replace").strip().splitlines()[-3:]
        result = {"side": SIDE_NAMES.get(side, side), "solved": False,
                  "error": f"no result (exit {code}): {' | '.join(tail)}"}
    result.update(task=task.name, seed=seed, steps_budget=steps, process_seconds=wall, run_dir=str(run_dir),
                  load=load, program_tokens=app.prompt_tokens + app.completion_tokens, program_calls=app.calls)
    if code_format:
        result["code_format"] = code_format
    if side == "gepa":  # also when the run left no result
        result.setdefault("metric_calls", metric_calls)
    if side == "autotrace":  # also when the run left no result
        result.setdefault("candidates", candidates)
        result.setdefault("resample", resample)
        result.setdefault("holdout", holdout)
    if task.hidden is not None and result_path.is_file():
        from .hidden_cases import check

        result["hidden"] = check(task, run_dir)
    if side == "autotrace":
        from .traceback_check import check_run

        result["traceback_check"] = check_run(run_dir)
    return result


def run_quality(tasks: Sequence[Task], seeds: Sequence[int], steps: int | None, server: dict[str, Any],
                out_dir: Path, trace_py: Path | None, run_timeout: float, max_tokens: int,
                say=print, sides: Sequence[str] = ("autotrace", "trace"), candidates: int = 1,
                holdout: float = 0.0, resample: int = 0, metric_calls: int | None = None,
                earlier: Sequence[Row] = ()) -> list[dict[str, Any]]:
    """Every task x seed x side; the side that goes first of autotrace and trace alternates by seed (the
    server's prompt cache then favours neither), GEPA goes last. ``candidates``, ``holdout`` and ``resample``:
    autotrace's (see :func:`run_task`). GEPA's budget: ``metric_calls``, else the program runs of the autotrace
    run of the same task and seed (this one's, else the latest of ``earlier`` on this model), else the default."""
    from .gepa_side import autotrace_runs

    results = []
    for task in tasks:
        for seed in seeds:
            order = ("autotrace", "trace", "gepa") if seed % 2 == 0 else ("trace", "autotrace", "gepa")
            for side in (side for side in order if side in sides):
                budget = steps if steps is not None else task.steps
                calls = None
                if side == "gepa":
                    done = [r.get("evaluations") for r in results if (r.get("task"), r.get("seed"), r.get("side"))
                            == (task.name, seed, "autotrace") and r.get("evaluations")]
                    calls = metric_calls or (done[-1] if done else None) or autotrace_runs(
                        earlier, task.name, seed, server["model"])
                say(f"  {task.name} seed {seed} {side} ({budget} steps"
                    + (f", {calls} metric calls" if calls else "") + ") ...")
                result = run_task(task, side, seed, budget, server, out_dir, trace_py, run_timeout, max_tokens,
                                  candidates=candidates, holdout=holdout, resample=resample, metric_calls=calls)
                say(f"    solved={result.get('solved')} step={result.get('solved_step')} "
                    f"best={result.get('best_score')} hidden={_hidden_text(result)} tokens={result.get('prompt_tokens')}+"
                    f"{result.get('completion_tokens')} {result.get('wall_seconds', 0) or 0:.0f}s"
                    + (f" error: {result['error']}" if result.get("error") else ""))
                results.append(result)
    return results


def _hidden_text(result: dict[str, Any]) -> str:
    """The hidden cases passed, as the progress line shows them ("—" for a task without hidden cases)."""
    hidden = result.get("hidden")
    if not hidden:
        return "—"
    return f"{hidden['passed']}/{hidden['total']}" if "passed" in hidden else f"error ({hidden.get('error')})"
