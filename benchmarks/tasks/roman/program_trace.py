"""A buggy Roman-numeral parser, run on test numerals; the judge checks each result against a reference."""

import random

from opto.trace import ExecutionError, bundle

POOL = ("III", "IV", "IX", "LVIII", "MCMXCIV", "XL", "XC", "CDXLIV", "MMXXIV")

VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


@bundle(trainable=True)
def roman_to_int(numeral):
    """The integer value of a Roman numeral such as "XIV" (14) or "MCMXCIV" (1994)."""
    return sum(VALUES[ch] for ch in numeral)


def run_case(numeral):
    """The function's result on one input, or the error it raised as "(ErrorType) message"."""
    try:
        return roman_to_int(numeral)
    except ExecutionError as exc:
        return exc.exception_node


@bundle()
def results(cases, *outputs):
    """Each input paired with its result."""
    return list(zip(cases, outputs))


def main():
    import os

    cases = random.Random(int(os.environ.get("BENCH_SEED", "0"))).sample(POOL, 6)
    return results(cases, *[run_case(numeral) for numeral in cases])


def parameters():
    return [roman_to_int.parameter]
