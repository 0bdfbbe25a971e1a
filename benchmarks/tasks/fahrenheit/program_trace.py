"""Two constants convert Celsius readings to Fahrenheit; both must be found from the feedback."""

from opto.trace import bundle, node

SCALE = node(1.0, name="SCALE", trainable=True, constraint="multiplier applied to a Celsius reading")
OFFSET = node(0.0, name="OFFSET", trainable=True, constraint="amount added after scaling")

READINGS = ((0.0, 100.0, 37.0), (10.0, 20.0, 30.0), (-40.0, 0.0, 50.0))


@bundle()
def scale(celsius, factor):
    """Multiply the reading by the factor."""
    return celsius * factor


@bundle()
def shift(value, offset):
    """Add the offset to the value."""
    return value + offset


@bundle()
def table(readings, *converted):
    """Pair each Celsius reading with its converted value, rounded to 0.1."""
    return {c: round(f, 1) for c, f in zip(readings, converted)}


def main():
    import os

    readings = READINGS[int(os.environ.get("BENCH_SEED", "0")) % 3]
    converted = [shift(scale(c, SCALE), OFFSET) for c in readings]
    return table(readings, *converted)


def parameters():
    return [SCALE, OFFSET]
