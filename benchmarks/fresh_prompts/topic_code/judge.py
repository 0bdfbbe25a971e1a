"""Headlines filed under desk codes; the score is 1 for the exact code."""

LABELLED = {
    "Striker scores twice as the home side wins the cup final": "SPT",
    "Marathon runner breaks the course record in heavy rain": "SPT",
    "Chip maker unveils a faster processor for laptops": "TEC",
    "New phone update fixes battery drain, users report": "TEC",
    "Parliament passes the budget after a late-night vote": "POL",
    "Hospital trial finds a cheaper drug lowers blood pressure": "HLT",
}
CODES = ("SPT", "TEC", "POL", "HLT")


def examples():
    return list(LABELLED)


def feedback(output, headline):
    expected = LABELLED[headline]
    if output == expected:
        return 1.0, "correct"
    return 0.0, f"answered {output!r}, expected {expected!r}"
