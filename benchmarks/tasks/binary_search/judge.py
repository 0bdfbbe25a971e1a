"""Score = fraction of searches that return the right index (-1 when absent); feedback lists failures."""

from checks import judge_cases


def reference(args):
    xs, target = args
    return xs.index(target) if target in xs else -1


def feedback(output):
    return judge_cases(output, reference, "binary_search", show=lambda args: ", ".join(map(repr, args)))
