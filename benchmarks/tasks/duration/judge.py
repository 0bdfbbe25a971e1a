"""Score = fraction of durations turned into the right number of seconds; feedback lists the failures."""

import re

from checks import judge_cases

UNITS = {"h": 3600, "m": 60, "s": 1}


def reference(text):
    return sum(int(number) * UNITS[unit] for number, unit in re.findall(r"(\d+)([hms])", text))


def feedback(output):
    return judge_cases(output, reference, "to_seconds")
