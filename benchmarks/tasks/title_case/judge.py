"""Score = fraction of titles put in the right title case; feedback lists the failures."""

from checks import judge_cases

SMALL = ("a", "an", "and", "the", "of", "in", "on", "to", "with")


def reference(title):
    words = title.split(" ")
    last = len(words) - 1
    return " ".join(word if word in SMALL and 0 < i < last else word.capitalize() for i, word in enumerate(words))


def feedback(output):
    return judge_cases(output, reference, "title_case")
