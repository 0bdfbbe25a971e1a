"""What a body temperature reading means."""

FEVER_FROM_C = 38.0  # a reading of this many degrees Celsius or more is a fever
HYPOTHERMIA_BELOW_C = 35.0  # a reading below this is hypothermia


def classify(celsius: float) -> str:  # autotrace: param fever from FEVER_FROM_C on, hypothermia below HYPOTHERMIA_BELOW_C
    """"fever", "hypothermia" or "normal" for a body temperature in degrees Celsius."""
    if celsius > FEVER_FROM_C:
        return "fever"
    if celsius < HYPOTHERMIA_BELOW_C:
        return "hypothermia"
    return "normal"
