"""A buggy interval merger, run on test lists; the judge checks each result against a reference."""

import random

from opto.trace import ExecutionError, bundle

POOL = ([[1, 3], [2, 6], [8, 10]], [[1, 4], [4, 5]], [[5, 6], [1, 2]], [[1, 10], [2, 3], [4, 5]], [], [[3, 3]],
        [[6, 8], [1, 3], [2, 4]], [[1, 2], [3, 4]], [[0, 5], [5, 10], [10, 15]])


@bundle(trainable=True)
def merge_intervals(intervals):
    """The union of the closed intervals [start, end] in `intervals` (in any order) as a list of
    disjoint intervals sorted by start; intervals that overlap or touch ([1, 2] and [2, 3]) become one."""
    merged = []
    for start, end in intervals:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def run_case(intervals):
    """The function's result on one input, or the error it raised as "(ErrorType) message"."""
    try:
        return merge_intervals(intervals)
    except ExecutionError as exc:
        return exc.exception_node


@bundle()
def results(cases, *outputs):
    """Each input paired with its result."""
    return list(zip(cases, outputs))


def main():
    import os

    cases = random.Random(int(os.environ.get("BENCH_SEED", "0"))).sample(POOL, 6)
    return results(cases, *[run_case(intervals) for intervals in cases])


def parameters():
    return [merge_intervals.parameter]
