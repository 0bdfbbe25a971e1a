"""Boards the optimizer never sees, with the fewest moves from P to T."""

CASES = [
    (["P..T"], 3),
    (["T", ".", ".", "P"], 3),
    ([".....", "....P", ".....", ".T..."], 5),
    (["...T.", ".....", "P...."], 5),
    (["P.", ".T"], 2),
    ([".P", "T."], 2),
    (["......", "......", "..P...", "......", ".....T"], 5),
    (["T.....", "......", ".....P"], 7),
]


def passes(output, expected):
    return isinstance(output, dict) and output.get("reached") is True and len(output.get("moves", [])) == expected
