"""A small labelled set of customer messages; the score is the fraction routed to the right team."""

LABELLED = {
    "I was charged twice for my subscription this month.": "billing",
    "Can I get a refund for the annual plan?": "billing",
    "The app crashes every time I open the settings page.": "bug",
    "Export to PDF produces an empty file.": "bug",
    "Do you have a dark mode?": "question",
    "How many users can share one account?": "question",
}
LABELS = ("billing", "bug", "question")


def examples():
    return list(LABELLED)


def feedback(output, text):
    expected = LABELLED[text]
    if output == expected:
        return 1.0, "correct"
    if output not in LABELS:
        return 0.0, (f"answered {output!r}, which is no label: the answer must be exactly one word, "
                     f"one of {', '.join(LABELS)} (here: {expected})")
    return 0.0, f"answered {output!r}, expected {expected!r}"
