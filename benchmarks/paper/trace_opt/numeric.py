"""trace-opt on the numeric graphs, written as its examples write it: the input a trainable ``node``, each
+ - * / step a ``bundle``, the hidden constants plain nodes; OptoPrime with memory gets the paper's
feedback ("the output should be larger/smaller"). One JSON line per graph, then a summary line.
"""

from __future__ import annotations

import json
import sys

from llm import ROOT, llm, parser, tokens

sys.path.insert(0, str(ROOT / "examples" / "numeric_graphs"))

import graphs  # noqa: E402
from opto.optimizers import OptoPrime  # noqa: E402
from opto.trace import GRAPH, bundle, node  # noqa: E402


@bundle()
def add(a, b):
    """a + b"""
    return a + b


@bundle()
def sub(a, b):
    """a - b"""
    return a - b


@bundle()
def mul(a, b):
    """a * b"""
    return a * b


@bundle()
def div(a, b):
    """a / b"""
    return a / b


OPS = {"add": add, "sub": sub, "mul": mul, "div": div}


def forward(x, constants, steps):
    values = {"x": x, **{f"c{i}": node(c) for i, c in enumerate(constants)}}
    result = x
    for k, (op, a, b) in enumerate(steps):
        result = OPS[op](values[a], values[b])
        values[f"v{k}"] = result
    return result


def run_graph(index: int, args, usage: list) -> dict:
    constants, steps, _ = graphs.make_graph(index)
    wanted = graphs.target(index)
    x = node(graphs.START_X, trainable=True, name="x")
    optimizer = OptoPrime([x], llm=llm(args, usage), memory_size=args.memory_size, max_tokens=args.max_tokens)
    curve, best, runs = [], None, 0
    for step in range(args.steps + 1):
        GRAPH.clear()
        try:
            output = forward(x, constants, steps)
            error = abs(float(output.data) - wanted)
            message = "the output is right" if error <= 1e-6 else (
                "the output should be " + ("smaller" if output.data > wanted else "larger"))
        except Exception as exc:  # e.g. the model set x to a string
            output, error, message = None, None, f"{type(exc).__name__}: {exc}"
        runs += 1
        if error is not None and (best is None or error < best):
            best = error
        curve.append({"step": step, "program_runs": runs, "tokens": tokens(usage), "best": best, "error": error,
                      "x": str(x.data)[:60]})
        if step == args.steps or output is None or error <= 1e-6:
            break
        optimizer.zero_feedback()
        optimizer.backward(output, message)
        try:
            optimizer.step()
        except Exception as exc:  # a reply trace-opt could not read: the step changes nothing
            curve[-1]["note"] = f"step failed: {type(exc).__name__}"
    final = curve[-1]["error"]
    return {"graph": index, "final": final, "best": best, "program_runs": runs, "curve": curve}


def main() -> int:
    p = parser()
    p.add_argument("--graphs", required=True, help="comma-separated graph numbers")
    args = p.parse_args()
    results = []
    for index in (int(g) for g in args.graphs.split(",")):
        usage: list = []
        result = run_graph(index, args, usage)
        result["tokens"] = tokens(usage)
        results.append(result)
        print(json.dumps(result), flush=True)
    print(json.dumps({"graphs": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
