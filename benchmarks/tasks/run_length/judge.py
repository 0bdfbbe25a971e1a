"""Score = fraction of strings given the right run-length code; feedback lists the failures."""

from itertools import groupby

from checks import judge_cases


def reference(text):
    return "".join(f"{ch}{len(list(run))}" for ch, run in groupby(text))


def feedback(output):
    return judge_cases(output, reference, "run_length")
