"""A buggy title-caser, run on test titles; the judge checks each result against a reference."""

import random

POOL = ("the lord of the rings", "war and peace", "a tale of two cities", "of mice and men", "gone with the wind",
        "the old man and the sea", "to kill a mockingbird", "pride and prejudice", "the world we live in")

SMALL = ("a", "an", "and", "the", "of", "in", "on", "to", "with")


def title_case(title):  # autotrace: param
    """`title` (lower-case words and single spaces) in title case: every word capitalised, except the
    words in SMALL, which stay lower-case unless they are the first or the last word."""
    return title.title()


def run_case(title):
    """The function's result on one input, or the error it raised as "(ErrorType) message"."""
    try:
        return title_case(title)
    except Exception as exc:
        return f"({type(exc).__name__}) {exc}"


def results(cases, *outputs):
    """Each input paired with its result."""
    return list(zip(cases, outputs))


def main():
    import os

    cases = random.Random(int(os.environ.get("BENCH_SEED", "0"))).sample(POOL, 6)
    return results(cases, *[run_case(title) for title in cases])
