"""Random computation graphs of + - * / with one input and hidden constants (the paper's Fig. 5a set-up).

Graph number ``index`` is drawn from its own seeded generator, so the program, the judge and the
baselines all rebuild the same graph from its number. A graph is a list of steps ``(op, a, b)``: each
step applies ``op`` to two earlier values (the input ``x``, a constant, or an earlier step's result),
and the last step is the output. Graphs whose output is not finite, does not depend on ``x``, or
exceeds ``LIMIT`` in size somewhere on [-10, 10] are drawn again, so the targets are reachable and the
errors stay comparable across graphs.
"""

import math
import random

OPS = ("add", "sub", "mul", "div")
LIMIT = 50.0
START_X = 0.0


def add(a, b):
    return a + b


def sub(a, b):
    return a - b


def mul(a, b):
    return a * b


def div(a, b):
    return a / b


FUNCTIONS = {"add": add, "sub": sub, "mul": mul, "div": div}


def make_graph(index):
    """(constants, steps, target input) of graph ``index``; each draw is seeded by the index alone."""
    rng = random.Random(f"numeric-graph-{index}")
    while True:
        constants = [round(rng.uniform(-5, 5), 2)]
        names = ["x", "c0"]
        steps = []
        for k in range(rng.randint(2, 5)):
            # the newest value always takes part, so every step reaches the output; the other operand
            # is a fresh hidden constant or any earlier value
            newest = names[-1]
            if rng.random() < 0.4:
                constants.append(round(rng.uniform(-5, 5), 2))
                other = f"c{len(constants) - 1}"
            else:
                other = rng.choice(names[:-1])
            a, b = (newest, other) if rng.random() < 0.5 else (other, newest)
            steps.append((rng.choice(OPS), a, b))
            names.append(f"v{k}")
        x_star = round(rng.uniform(-5, 5), 2)
        if _well_behaved(constants, steps):
            return constants, steps, x_star


def evaluate(constants, steps, x, apply=None):
    """The graph's output at ``x``; ``apply(op, a, b)`` computes one step (default: the functions above)."""
    apply = apply or (lambda op, a, b: FUNCTIONS[op](a, b))
    values = {"x": x, **{f"c{i}": c for i, c in enumerate(constants)}}
    result = x
    for k, (op, a, b) in enumerate(steps):
        result = apply(op, values[a], values[b])
        values[f"v{k}"] = result
    return result


def _well_behaved(constants, steps):
    outputs = []
    for i in range(-100, 101):
        try:
            y = evaluate(constants, steps, i / 10)
        except ZeroDivisionError:
            return False
        if not math.isfinite(y) or abs(y) > LIMIT:
            return False
        outputs.append(y)
    return max(outputs) - min(outputs) > 1.0


def target(index):
    """The output graph ``index`` should give: its value at the hidden input x*."""
    constants, steps, x_star = make_graph(index)
    return evaluate(constants, steps, x_star)


def describe(index):
    """The graph as one line of arithmetic, for reading (``x`` is the input)."""
    constants, steps, _ = make_graph(index)
    text = {"x": "x", **{f"c{i}": repr(c) for i, c in enumerate(constants)}}
    symbols = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
    for k, (op, a, b) in enumerate(steps):
        text[f"v{k}"] = f"({text[a]} {symbols[op]} {text[b]})"
    return text[f"v{len(steps) - 1}"]
