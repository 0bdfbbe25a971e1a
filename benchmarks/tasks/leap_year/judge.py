"""Score = fraction of test years judged right; feedback lists the failures."""

from checks import judge_cases


def reference(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def feedback(output):
    return judge_cases(output, reference, "is_leap_year")
