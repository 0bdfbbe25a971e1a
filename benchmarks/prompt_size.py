"""Prompt size against graph size: a chain of N calls, each side's own OptoPrime prompt, no LLM call.

autotrace: the chain program is evaluated by the worker (recorded, judged), then ``OptoPrime`` builds
the messages of one step for the model's window (``LLMConfig.context_tokens``, 8,192 for the local
model). trace-opt: ``trace_side/prompt_size.py`` in its venv builds the same chain with ``@bundle`` and
asks its ``OptoPrime`` for the prompt its ``step()`` would send.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from autotrace.llm.client import LLM, LLMConfig
from autotrace.optimizers import OptoPrime, estimate_tokens
from autotrace.optimizers.base import prompt_tokens
from autotrace.optimizers.validate import answer_schema
from autotrace.project import Project
from autotrace.runners.program_runs import make_job, run_evaluation
from autotrace.runners.sandbox import Limits

from . import tokens

CHAIN = '''"""A chain of {n} calls: the parameter flows through every one of them."""

RATE = 1.001  # autotrace: param growth factor applied at each step

STEPS = {n}


def grow(x, rate):
    """Multiply x by rate."""
    return x * rate


def main():
    x = 1.0
    for _ in range(STEPS):
        x = grow(x, RATE)
    return x
'''

JUDGE = '''def feedback(output):
    return 0.0, f"The output is {output:g} but should be 2.0."
'''

TRACE_SCRIPT = Path(__file__).resolve().parent / "trace_side" / "prompt_size.py"


def autotrace_prompt(n: int, context_tokens: int = 8192) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="autotrace-chain-") as tmp:
        folder = Path(tmp)
        (folder / "pyproject.toml").write_text("[tool.autotrace]\n")
        (folder / "chain.py").write_text(CHAIN.format(n=n))
        (folder / "judge.py").write_text(JUDGE)
        started = time.perf_counter()
        project = Project.load(folder / "chain.py")
        job = make_job(project, folder / "chain.py", "main", folder / "judge.py", {})
        evaluation = run_evaluation(job, Limits(timeout=600))
        run_seconds = time.perf_counter() - started
        if evaluation.problem:
            raise RuntimeError(evaluation.problem)
        optimizer = OptoPrime(project.params, LLM(LLMConfig(model="local", base_url=None, api_key="unused",
                                                            context_tokens=context_tokens)))
        started = time.perf_counter()
        optimizer.zero_feedback()
        for feedback in evaluation.feedbacks():
            optimizer.backward(feedback)
        schema = answer_schema(optimizer.params, optimizer.values)
        messages = optimizer.build_messages(optimizer.budget_tokens - prompt_tokens([], schema))
        prompt_seconds = time.perf_counter() - started
        graph = evaluation.examples[0].graph
        graph_calls = len(graph["nodes"]) if graph and "nodes" in graph else None
    return {"n": n, "messages": messages, "run_seconds": run_seconds, "prompt_seconds": prompt_seconds,
            "budget_tokens": optimizer.budget_tokens, "graph_nodes": graph_calls}


def trace_prompt(trace_python: Path, n: int, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="trace-chain-") as tmp:
        out = Path(tmp) / "prompt.json"
        started = time.perf_counter()
        try:
            proc = subprocess.run([str(trace_python), str(TRACE_SCRIPT), str(n), str(out)], capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"n": n, "error": f"did not finish within {timeout:.0f} s"}
        if proc.returncode != 0 or not out.is_file():
            tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
            return {"n": n, "error": tail}
        data = json.loads(out.read_text())
        data["process_seconds"] = time.perf_counter() - started
        return data


def measure(trace_python: Path | None, sizes: tuple[int, ...], base_url: str | None,
            trace_sizes: tuple[int, ...] | None = None, trace_timeout: float = 1200.0) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        row: dict[str, Any] = {"n": n}
        for side in ("autotrace", "trace"):
            if side == "trace" and (trace_python is None or n not in (trace_sizes or sizes)):
                row[side] = {"error": "not measured in this run"}
                continue
            try:
                data = autotrace_prompt(n) if side == "autotrace" else trace_prompt(trace_python, n, trace_timeout)
            except Exception as exc:  # reported, not hidden
                data = {"error": f"{type(exc).__name__}: {exc}"}
            if "messages" in data:
                text = tokens.messages_text(data["messages"])
                data["chars"] = len(text)
                data["tokens"] = tokens.count(text, base_url)
                data["estimate"] = estimate_tokens(text)
                data["sample"] = text[:400]
                del data["messages"]
            row[side] = data
        rows.append(row)
    return rows


if __name__ == "__main__":
    import sys

    trace = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    print(json.dumps(measure(trace, (100, 1000), sys.argv[2] if len(sys.argv) > 2 else None), indent=1))
