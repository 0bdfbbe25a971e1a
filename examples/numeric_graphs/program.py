"""Run one random computation graph on the input X and return its output.

The graph (number $GRAPH, default 0) is a chain of + - * / steps over X and constants the optimizer is
not told; graphs.py builds it. The judge wants the output to equal the graph's value at a hidden input.
"""

import os

from graphs import FUNCTIONS, make_graph

X = 0.0  # autotrace: param in [-10, 10] the input fed to the computation graph


def step(op, a, b):
    """One node of the graph: ``a op b``."""
    return FUNCTIONS[op](a, b)


def main():
    constants, steps, _ = make_graph(int(os.environ.get("GRAPH", "0")))
    values = {"x": X, **{f"c{i}": c for i, c in enumerate(constants)}}
    result = X
    for k, (op, a, b) in enumerate(steps):
        result = step(op, values[a], values[b])
        values[f"v{k}"] = result
    return result


if __name__ == "__main__":
    print(main())
