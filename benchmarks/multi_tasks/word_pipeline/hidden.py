"""Texts the optimizer never sees, with the correct top three."""

CASES = [
    ("Hello hello world", [("hello", 2), ("world", 1)]),
    ("Why? Why not. Why, indeed.", [("why", 3), ("indeed", 1), ("not", 1)]),
    ("x", [("x", 1)]),
    ("Up up up down down left", [("up", 3), ("down", 2), ("left", 1)]),
    ("'Quoted' quoted QUOTED text text", [("quoted", 3), ("text", 2)]),
    ("Zebra apple zebra apple mango", [("apple", 2), ("zebra", 2), ("mango", 1)]),
    ("To be, or not to be: that is the question.", [("be", 2), ("to", 2), ("is", 1)]),
]


def passes(output, expected):
    return isinstance(output, list) and [tuple(pair) for pair in output] == expected
