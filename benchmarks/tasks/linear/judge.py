"""The output must equal the target (20, 35 or 11 by seed); score 1 - relative error."""

from scoring import closeness, seed

TARGET = (20.0, 35.0, 11.0)[seed() % 3]


def feedback(output):
    score = closeness([output], [TARGET])
    if output == TARGET:
        return score, f"The output {output} equals the target {TARGET}."
    direction = "too high" if output > TARGET else "too low"
    return score, f"The output {output} should be {TARGET}: it is {direction} by {abs(output - TARGET):g}."
