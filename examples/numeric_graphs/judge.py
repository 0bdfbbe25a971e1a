"""The output of graph $GRAPH should equal its value at a hidden input; the feedback says only which way.

The score is minus the absolute error (0 is perfect); the message is the paper's: "the output should be
larger" or "smaller" (the magnitude is not said).
"""

import os

from graphs import target

TOLERANCE = 1e-6


def feedback(output):
    wanted = target(int(os.environ.get("GRAPH", "0")))
    error = output - wanted
    if abs(error) <= TOLERANCE:
        return 0.0, "the output is right"
    return -abs(error), "the output should be " + ("smaller" if error > 0 else "larger")
