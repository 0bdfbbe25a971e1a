"""A buggy median, run on test inputs; the judge checks each result against a reference."""

import random

POOL = ([3, 1, 2], [4, 1, 3, 2], [7], [5, 9], [1, 2, 3, 4, 5, 6], [10, -2, 4, 8], [2, 2, 3], [6, 1, 5, 2, 9, 4],
        [0.5, 1.5])


def median(xs):  # autotrace: param
    """The median of a non-empty list of numbers."""
    s = sorted(xs)
    return s[len(s) // 2]


def run_case(xs):
    """The function's result on one input, or the error it raised as "(ErrorType) message"."""
    try:
        return median(xs)
    except Exception as exc:
        return f"({type(exc).__name__}) {exc}"


def results(cases, *outputs):
    """Each input paired with its result."""
    return list(zip(cases, outputs))


def main():
    import os

    cases = random.Random(int(os.environ.get("BENCH_SEED", "0"))).sample(POOL, 6)
    return results(cases, *[run_case(xs) for xs in cases])
