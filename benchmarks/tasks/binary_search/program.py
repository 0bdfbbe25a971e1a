"""A buggy binary search, run on test inputs; the judge checks each result against a reference."""

import random

POOL = (([1, 3, 5, 7, 9], 9), ([1, 3, 5, 7, 9], 1), ([2, 4, 6, 8], 8), ([5], 5), ([1, 3, 5, 7], 4),
        ([10, 20, 30, 40, 50, 60], 50), ([10, 20, 30], 30), ([], 3), ([1, 2, 3, 4, 5, 6, 7], 6))


def binary_search(xs, target):  # autotrace: param
    """The index of `target` in the sorted list `xs`, or -1 when it is not there."""
    lo, hi = 0, len(xs) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if xs[mid] == target:
            return mid
        if xs[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1


def run_case(args):
    """The function's result on one input, or the error it raised as "(ErrorType) message"."""
    try:
        return binary_search(*args)
    except Exception as exc:
        return f"({type(exc).__name__}) {exc}"


def results(cases, *outputs):
    """Each input paired with its result."""
    return list(zip(cases, outputs))


def main():
    import os

    cases = random.Random(int(os.environ.get("BENCH_SEED", "0"))).sample(POOL, 6)
    return results(cases, *[run_case(args) for args in cases])
