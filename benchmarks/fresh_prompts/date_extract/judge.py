"""Sentences with one date each; the answer must be that date as YYYY-MM-DD, exactly."""

LABELLED = {
    "The contract was signed on March 3, 2021 in Lisbon.": "2021-03-03",
    "Please submit the report by 14 July 2019 at the latest.": "2019-07-14",
    "Our store reopens on December 1st, 2022 after renovation.": "2022-12-01",
    "She was born on the 9th of February 1990.": "1990-02-09",
    "The last shipment left the port on August 27, 2018.": "2018-08-27",
    "Tickets go on sale 5 May 2024.": "2024-05-05",
}


def examples():
    return list(LABELLED)


def feedback(output, sentence):
    expected = LABELLED[sentence]
    if output == expected:
        return 1.0, "correct"
    return 0.0, f"answered {output!r}, expected {expected!r}"
