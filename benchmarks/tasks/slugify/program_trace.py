"""A buggy slug maker, run on test titles; the judge checks each result against a reference."""

import random

from opto.trace import ExecutionError, bundle

POOL = ("Hello World", "  Trace is the Next AutoDiff  ", "Python 3.12 released!", "one", "A -- B",
        "Rock & Roll", "already-a-slug", "MiXeD CaSe", "tabs\tand\nnewlines")


@bundle(trainable=True)
def slugify(title):
    """The URL slug of `title`: lower-case letters and digits, words joined by single hyphens,
    no hyphen at either end."""
    return title.lower().replace(" ", "-")


def run_case(title):
    """The function's result on one input, or the error it raised as "(ErrorType) message"."""
    try:
        return slugify(title)
    except ExecutionError as exc:
        return exc.exception_node


@bundle()
def results(cases, *outputs):
    """Each input paired with its result."""
    return list(zip(cases, outputs))


def main():
    import os

    cases = random.Random(int(os.environ.get("BENCH_SEED", "0"))).sample(POOL, 6)
    return results(cases, *[run_case(title) for title in cases])


def parameters():
    return [slugify.parameter]
