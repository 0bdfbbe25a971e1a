"""A buggy duration parser, run on test durations; the judge checks each result against a reference."""

import random

from opto.trace import ExecutionError, bundle

POOL = ("90s", "2m", "1h", "1h30m", "2m5s", "1h0m1s", "45m30s", "3h15s", "10h")


@bundle(trainable=True)
def to_seconds(text):
    """The number of seconds in a duration such as "1h30m" or "2m5s": whole numbers, each followed by
    its unit h, m or s, in that order; any of the three may be left out."""
    number = ""
    for ch in text:
        if ch.isdigit():
            number += ch
    return int(number) * {"h": 3600, "m": 60, "s": 1}[text[-1]]


def run_case(text):
    """The function's result on one input, or the error it raised as "(ErrorType) message"."""
    try:
        return to_seconds(text)
    except ExecutionError as exc:
        return exc.exception_node


@bundle()
def results(cases, *outputs):
    """Each input paired with its result."""
    return list(zip(cases, outputs))


def main():
    import os

    cases = random.Random(int(os.environ.get("BENCH_SEED", "0"))).sample(POOL, 6)
    return results(cases, *[run_case(text) for text in cases])


def parameters():
    return [to_seconds.parameter]
