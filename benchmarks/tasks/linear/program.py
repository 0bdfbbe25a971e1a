"""One constant flows through two functions; the output must equal the judge's target."""

X = 1.0  # autotrace: param a real number


def triple(v):
    """Multiply v by three."""
    return 3 * v


def add_two(v):
    """Add two to v."""
    return v + 2


def main():
    return add_two(triple(X))
