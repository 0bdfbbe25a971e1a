"""Score = fraction of interval lists merged right; feedback lists the failures."""

from checks import judge_cases


def reference(intervals):
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def feedback(output):
    return judge_cases(output, reference, "merge_intervals")
