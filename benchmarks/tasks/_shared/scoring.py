"""Scores shared by the judges: every task scores in [0, 1] and counts as solved at its target."""


def closeness(outputs, targets):
    """1 minus the summed absolute error relative to the summed target size, floored at 0."""
    error = sum(abs(o - t) for o, t in zip(outputs, targets))
    scale = sum(abs(t) for t in targets) or 1.0
    return max(0.0, 1.0 - error / scale)


def seed():
    import os

    return int(os.environ.get("BENCH_SEED", "0"))
