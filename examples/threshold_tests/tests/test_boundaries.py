"""Readings next to the thresholds, held out with ``--holdout-tests boundaries`` (pytest's -k matches
this module's name): a fix is also checked on readings the optimizer never saw. One that moves the
threshold instead of fixing the comparison (``celsius > 37.5``) passes test_readings.py and fails here."""

from thermometer.readings import classify


def test_just_below_the_fever_threshold_is_normal():
    assert classify(37.9) == "normal"


def test_just_above_the_fever_threshold_is_a_fever():
    assert classify(38.1) == "fever"


def test_exactly_at_the_hypothermia_threshold_is_normal():
    assert classify(35.0) == "normal"
