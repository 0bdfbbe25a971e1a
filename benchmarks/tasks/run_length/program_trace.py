"""A buggy run-length coder, run on test strings; the judge checks each result against a reference."""

import random

from opto.trace import ExecutionError, bundle

POOL = ("aaabcc", "abc", "zzzz", "aabbaa", "x", "mississippi", "  ab", "1112223", "hello")


@bundle(trainable=True)
def run_length(text):
    """The run-length code of `text`: each run of one repeated character written as the character
    followed by the run's length, e.g. "aaab" -> "a3b1"."""
    out = ""
    count = 1
    for prev, ch in zip(text, text[1:]):
        if ch == prev:
            count += 1
        else:
            out += f"{prev}{count}"
            count = 1
    return out


def run_case(text):
    """The function's result on one input, or the error it raised as "(ErrorType) message"."""
    try:
        return run_length(text)
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
    return [run_length.parameter]
