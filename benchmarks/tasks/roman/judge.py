"""Score = fraction of numerals parsed to the right integer; feedback lists the failures."""

from checks import judge_cases

VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def reference(numeral):
    total = 0
    for i, ch in enumerate(numeral):
        value = VALUES[ch]
        total += -value if i + 1 < len(numeral) and VALUES[numeral[i + 1]] > value else value
    return total


def feedback(output):
    return judge_cases(output, reference, "roman_to_int")
