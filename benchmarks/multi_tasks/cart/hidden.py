"""Scenarios the optimizer never sees, with the totals a correct cart returns."""

CASES = [
    ([("cake", 1, 3.5)], 3.5),
    ([("cake", 1, 3.5), ("cake", 1, 3.5), ("cake", 2, 3.5)], 14.0),
    ([("tv", 1, 50.0)], 45.0),
    ([("chair", 2, 20.0), ("chair", 1, 20.0)], 54.0),
    ([("sock", 5, 1.2), ("shoe", 1, 30.0), ("sock", 5, 1.2)], 42.0),
    ([("desk", 1, 120.0), ("pad", 3, 2.5), ("pad", 1, 2.5)], 117.0),
    ([("nut", 49, 1.0)], 49.0),
    ([("nut", 25, 1.0), ("nut", 25, 1.0)], 45.0),
]


def passes(output, expected):
    return isinstance(output, (int, float)) and abs(output - expected) < 1e-6
