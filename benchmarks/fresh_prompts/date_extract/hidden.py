"""Sentences no optimizer sees, with their dates as YYYY-MM-DD."""

CASES = {
    "The bridge opened to traffic on June 30, 2015.": "2015-06-30",
    "We moved into the new office on 2 January 2020.": "2020-01-02",
    "His flight lands on October 11th, 2023 in the evening.": "2023-10-11",
    "The museum was founded on the 17th of April 1962.": "1962-04-17",
    "Payment is due September 5, 2025.": "2025-09-05",
    "The treaty took effect on 28 November 1999.": "1999-11-28",
    "Registration closes on January 15th, 2026.": "2026-01-15",
    "The festival began on the 3rd of August 2011.": "2011-08-03",
}
