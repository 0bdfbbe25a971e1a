"""A buggy leap-year test, run on test years; the judge checks each result against a reference."""

import random

from opto.trace import ExecutionError, bundle

POOL = (2024, 1900, 2000, 2023, 2100, 1996, 1800, 2200, 2019)


@bundle(trainable=True)
def is_leap_year(year):
    """True when `year` is a leap year of the Gregorian calendar."""
    return year % 4 == 0


def run_case(year):
    """The function's result on one input, or the error it raised as "(ErrorType) message"."""
    try:
        return is_leap_year(year)
    except ExecutionError as exc:
        return exc.exception_node


@bundle()
def results(cases, *outputs):
    """Each input paired with its result."""
    return list(zip(cases, outputs))


def main():
    import os

    cases = random.Random(int(os.environ.get("BENCH_SEED", "0"))).sample(POOL, 6)
    return results(cases, *[run_case(year) for year in cases])


def parameters():
    return [is_leap_year.parameter]
