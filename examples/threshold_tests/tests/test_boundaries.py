"""Readings next to the thresholds, held out with ``--holdout-tests boundaries`` (pytest's -k matches
this module's name): a fix is also checked on readings the optimizer never saw. One that moves the
threshold instead of fixing the comparison (``celsius > 37.5``) passes test_readings.py and fails here."""

import pytest

from thermometer.readings import classify


@pytest.mark.parametrize("celsius, expected", [
    (37.9, "normal"),  # just below the fever threshold
    (38.1, "fever"),  # just above it
    (35.0, "normal"),  # exactly at the hypothermia threshold
], ids=["just_below_the_fever_threshold", "just_above_the_fever_threshold", "at_the_hypothermia_threshold"])
def test_a_reading_next_to_a_threshold(celsius: float, expected: str) -> None:
    assert classify(celsius) == expected
