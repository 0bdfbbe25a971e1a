"""A median with a bug: lists of even length get the upper middle value instead of the mean of the two."""


def median(values):  # autotrace: param the median of a non-empty list of numbers
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle]


def main(values):
    return median(values)
