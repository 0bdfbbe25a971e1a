"""trace-opt's side of a prompt task: OptoPrime on the app's marked system prompt, the way trace-opt's own
examples optimize a prompt (``trace_side/run_prompt.py``, in trace-opt's venv).

The run works on a folder holding the generated trace-opt form of the app (:func:`benchmarks.tasks.trace_form.
prompt_trace_source`) and the judge, never the hidden cases. The program's own ``OpenAI()`` calls reach the
server through autotrace's recording proxy, given to it by the standard ``OPENAI_BASE_URL``/``OPENAI_API_KEY``
(:func:`benchmarks.harness.side_env`): the proxy answers any model name with the served model and counts
the program's tokens as it does for the other sides; the optimizer is given the server by ``--base-url``,
so its tokens are its own. Its budget is the task's steps, ``(steps + 1) x examples`` program runs: what
an autotrace run of those steps makes at one evaluation a step, and GEPA's default number of metric
calls (:func:`benchmarks.gepa_side.default_budget`). The best prompt is then judged on the task's hidden
cases by the original app (:func:`benchmarks.prompt_proposers.hidden_score`).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from autotrace.llm.proxy import RecordingProxy, Upstream

from . import harness, rows
from .tasks import Task

RUNNER = Path(__file__).resolve().parent / "trace_side" / "run_prompt.py"
#: The optimizer's answer length, as the harness gives both sides (``python -m benchmarks --max-tokens``).
MAX_TOKENS = 1024


def run(task: Task, seed: int, server: dict[str, Any], *, steps: int | None = None, timeout: float = 7200.0,
        trace_py: Path | None = None, max_tokens: int = MAX_TOKENS) -> dict[str, Any]:
    """One trace-opt run on ``task``: scores before and best, the best prompt, program runs, the optimizer's
    and the program's tokens, seconds and the hidden cases passed (or ``error``)."""
    from .prompt_proposers import hidden_score

    steps = steps or task.steps
    base = {"task": task.name, "side": "trace-opt", "seed": seed, "steps": steps, "solved": False}
    python = trace_py or harness.trace_python(create=True, say=lambda text: print(text, file=sys.stderr))
    if python is None:
        return {**base, "error": "trace-opt venv unavailable"}
    with tempfile.TemporaryDirectory(prefix=f"trace-prompt-{task.name}-") as scratch:
        run_dir = Path(scratch)
        task.lay_out("trace", run_dir)
        out = run_dir / "result.json"
        command = [str(python), str(RUNNER), str(run_dir), "--steps", str(steps), "--target", str(task.target),
                   "--model", server["model"], "--base-url", server["base_url"], "--seed", str(seed),
                   "--max-tokens", str(max_tokens), "--out", str(out)]
        with RecordingProxy(lambda: Upstream(server["base_url"], "local", server["model"])) as proxy:
            code, seconds = harness.run_logged(command, run_dir, harness.side_env(proxy.base_url, seed),
                                               run_dir / "run.log", timeout)
            spent = proxy.usage()
        if not out.is_file():
            tail = (run_dir / "run.log").read_text(errors="replace").strip().splitlines()[-3:]
            return {**base, "seconds": seconds, "program_calls": spent.calls,
                    "error": f"no result (exit {code}): {' | '.join(tail)}"}
        result = json.loads(out.read_text())
    ((name, prompt),) = result["best_values"].items()  # the one marked prompt
    return {**base, "solved": result["solved"], "solved_step": result["solved_step"], "before": result["before"],
            "best_score": result["best_score"], "prompt": prompt, "parameter": name,
            "optimizer_tokens": result["prompt_tokens"] + result["completion_tokens"], "llm_calls": result["llm_calls"],
            "program_runs": result["program_runs"], "program_calls": spent.calls,
            "program_tokens": spent.prompt_tokens + spent.completion_tokens, "seconds": seconds,
            "steps_run": [{k: s.get(k) for k in ("step", "score", "note", "prompt_tokens", "completion_tokens",
                                                  "seconds", "values")} for s in result["steps"]],
            "hidden": hidden_score(task.folder, prompt, server["base_url"]) if task.hidden is not None else None}


def row(task: Task, result: dict[str, Any], *, commit: str, model: str, load: float | None, command: str,
        date: str) -> rows.Row:
    """The typed row of one :func:`run` (side ``trace-opt``); ``program_runs`` counts the program's model
    calls the proxy answered (one per example run)."""
    hidden = result.get("hidden") or {}
    solved = bool(result.get("solved"))
    return rows.Row(commit=commit, side="trace-opt", arm="default", model=model, seed=int(result["seed"]),
                    task=task.name, steps=int(result.get("steps") or task.steps), solved=solved,
                    visible_score=result.get("best_score"),
                    hidden_score=hidden["passed"] / hidden["total"] if hidden.get("total") else None,
                    llm_driven=(result.get("solved_step") or 0) > 0 if solved else None,
                    program_runs=result.get("program_calls"), optimizer_tokens=result.get("optimizer_tokens"),
                    program_tokens=result.get("program_tokens"), seconds=result.get("seconds"), load=load,
                    command=command, date=date, note=str(result.get("error") or ""))


def progress(result: dict[str, Any]) -> str:
    """One line: visible before -> best, hidden cases, program runs, tokens."""
    hidden = result.get("hidden") or {}
    return (f"visible {result.get('before')} -> {result.get('best_score')}, hidden "
            f"{hidden.get('passed', '—')}/{hidden.get('total', '—')}, program runs {result.get('program_calls')}, "
            f"tokens: optimizer {result.get('optimizer_tokens')}, program {result.get('program_tokens')}, "
            f"{result.get('seconds', 0) or 0:.0f} s" + (f", error: {result['error']}" if result.get("error") else ""))

