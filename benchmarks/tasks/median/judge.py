"""Score = fraction of test inputs whose result equals the true median; feedback lists the failures."""

from checks import judge_cases


def reference(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def feedback(output):
    return judge_cases(output, lambda xs: reference(xs), "median")
