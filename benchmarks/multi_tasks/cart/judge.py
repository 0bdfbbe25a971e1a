"""Each example is a scenario of adds; the score is 1 when the cart's total is the expected one."""

SCENARIOS = [
    ([("apple", 2, 0.5), ("pear", 1, 1.25)], 2.25),
    ([("apple", 2, 0.5), ("apple", 3, 0.5)], 2.5),
    ([("book", 4, 15.0)], 54.0),
    ([("pen", 10, 2.0), ("pen", 20, 2.0)], 54.0),
    ([("mug", 3, 8.0), ("tea", 2, 4.5), ("mug", 1, 8.0)], 41.0),
    ([("lamp", 1, 80.0), ("bulb", 2, 5.0), ("bulb", 2, 5.0)], 90.0),
]


def examples():
    return [scenario for scenario, _ in SCENARIOS]


def feedback(output, example):
    expected = dict((repr(s), t) for s, t in SCENARIOS)[repr(example)]
    if isinstance(output, (int, float)) and abs(output - expected) < 1e-6:
        return 1.0, "correct"
    return 0.0, f"adds {example}: expected total {expected}, got {output!r}"
