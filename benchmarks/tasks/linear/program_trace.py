"""One constant flows through two functions; the output must equal the judge's target."""

from opto.trace import bundle, node

X = node(1.0, name="X", trainable=True, constraint="a real number")


@bundle()
def triple(v):
    """Multiply v by three."""
    return 3 * v


@bundle()
def add_two(v):
    """Add two to v."""
    return v + 2


def main():
    return add_two(triple(X))


def parameters():
    return [X]
