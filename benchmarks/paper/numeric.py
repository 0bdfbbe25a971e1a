"""Numeric graphs (paper Fig. 5a): min |h(x) - y*| over random + - * / graphs, from x = 0, feedback "larger/smaller".

Score: the absolute error at the best input found (lower is better; the table gives the mean over
graphs). Sides, each given the same steps:
  autotrace      ``autotrace optimize program.py --feedback judge.py`` (its default: probes and the
                 measured search, which run the program several times a step)
  autotrace-llm  the same with ``--no-probe --no-measured-step``: one program run a step, every value
                 from the model, as trace-opt gets
  trace-opt      trace_opt/numeric.py
  baseline       Adam (lr 0.1) on |h(x) - y*| with autograd: one forward and backward pass a step
"""

from __future__ import annotations

import sys
import time
from typing import Any

from .common import EXAMPLES, WORK, fresh_copy, run_autotrace, run_trace_opt

GRAPHS = 30
STEPS = 10
LR = 0.1


def _graphs_module():
    path = str(EXAMPLES / "numeric_graphs")
    if path not in sys.path:
        sys.path.insert(0, path)
    import graphs

    return graphs


def adam(index: int, steps: int, lr: float = LR) -> dict[str, Any]:
    """Adam on |h(x) - y*| for graph ``index``, x from START_X; autograd differentiates the graph."""
    import autograd.numpy as anp
    from autograd import grad

    graphs = _graphs_module()
    constants, ops, _ = graphs.make_graph(index)
    wanted = graphs.target(index)

    def apply(op, a, b):
        return {"add": anp.add, "sub": anp.subtract, "mul": anp.multiply, "div": anp.divide}[op](a, b)

    def loss(x):
        return anp.abs(graphs.evaluate(constants, ops, x, apply) - wanted)

    gradient = grad(loss)
    x, m, v = float(graphs.START_X), 0.0, 0.0
    b1, b2, eps = 0.9, 0.999, 1e-8
    best = float(loss(x))
    curve = [{"step": 0, "program_runs": 1, "tokens": 0, "best": best, "error": best}]
    for t in range(1, steps + 1):
        g = float(gradient(x))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x -= lr * (m / (1 - b1 ** t)) / (anp.sqrt(v / (1 - b2 ** t)) + eps)
        error = float(loss(x))
        best = min(best, error)
        curve.append({"step": t, "program_runs": t + 1, "tokens": 0, "best": best, "error": error})
    return {"final": curve[-1]["error"], "best": best, "program_runs": steps + 1, "curve": curve}


def run(side: str, seed: int, graphs: list[int], steps: int, server: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One record per graph of this side and seed."""
    records = []
    if side == "trace-opt":
        assert server is not None
        result = run_trace_opt("numeric.py", ["--graphs", ",".join(map(str, graphs)), "--steps", str(steps),
                                              "--seed", str(seed)], server)
        if "error" in result:
            return [{"task": f"graph{g}", "error": result["error"]} for g in graphs]
        share = result["seconds"] / max(1, len(result["graphs"]))
        for item in result["graphs"]:
            records.append({"task": f"graph{item['graph']}", "score": item["best"], "final": item["final"],
                            "program_runs": item["program_runs"], "tokens": item["tokens"], "seconds": share,
                            "curve": item["curve"]})
        return records
    for index in graphs:
        started = time.perf_counter()
        if side == "baseline":
            result = adam(index, steps)
            records.append({"task": f"graph{index}", "score": result["best"], "final": result["final"],
                            "program_runs": result["program_runs"], "tokens": 0,
                            "seconds": time.perf_counter() - started, "curve": result["curve"],
                            "method": f"Adam lr {LR} (autograd)"})
            continue
        assert server is not None
        llm_only = ["--no-probe", "--no-measured-step"] if side == "autotrace-llm" else []
        extra = ["--max-unchanged", "0", "--target", "0", *llm_only]
        run_dir = fresh_copy("numeric_graphs", WORK / "runs" / f"numeric-graph{index}-seed{seed}-{side}")
        result = run_autotrace(run_dir, "program.py", steps, server, [*extra, "--seed", str(seed)],
                               env={"GRAPH": str(index)})
        if "error" in result:
            records.append({"task": f"graph{index}", **result})
            continue
        records.append({"task": f"graph{index}", "score": abs(result["best"]) if result["best"] is not None else None,
                        "program_runs": result["program_runs"], "tokens": result["tokens"],
                        "seconds": result["seconds"], "values": result["values"], "command": result["command"],
                        "curve": [{**c, "best": abs(c["best"]) if c["best"] is not None else None}
                                  for c in result["curve"]]})
    return records


QUICK_STEPS = 3
QUICK_GRAPHS = [0, 1]


def run_side(side: str, seed: int, steps: int, server: dict[str, Any] | None, quick: bool,
             tasks: str | None) -> list[dict[str, Any]]:
    """The run.py entry: ``tasks`` names graphs ("0,3,7"); default all 30 (two with ``quick``)."""
    graphs = [int(t) for t in tasks.split(",")] if tasks else (QUICK_GRAPHS if quick else list(range(GRAPHS)))
    return run(side, seed, graphs, steps, server)
