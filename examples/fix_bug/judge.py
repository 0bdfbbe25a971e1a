"""Test cases for stats.median: each example is one input list; the score is the fraction answered right."""

import statistics


def examples():
    return [[3, 1, 2], [7], [4, 1, 3, 2], [10, 20], [5, 3, 1, 4, 2, 6], [2, 2, 9]]


def feedback(output, values):
    expected = statistics.median(values)
    if output == expected:
        return 1.0, f"median({values}) = {output}, correct"
    return 0.0, f"median({values}) returned {output!r}, expected {expected!r}"
