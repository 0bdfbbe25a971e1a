from thermometer.readings import classify


def test_a_usual_reading_is_normal():
    assert classify(36.8) == "normal"


def test_a_high_reading_is_a_fever():
    assert classify(39.4) == "fever"


def test_a_cold_reading_is_hypothermia():
    assert classify(34.2) == "hypothermia"


def test_a_reading_of_exactly_38_is_a_fever():
    assert classify(38.0) == "fever"
