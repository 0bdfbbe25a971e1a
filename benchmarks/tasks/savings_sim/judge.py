"""After 2,000 days the balance must be the target (10,000, 25,000 or 6,000 by seed) within 1 %."""

from scoring import closeness, seed

TARGET = (10000.0, 25000.0, 6000.0)[seed() % 3]


def feedback(output):
    score = closeness([output], [TARGET])
    if score >= 0.99:
        return 1.0, f"The final balance {output:g} is within 1 % of the target {TARGET:g}."
    direction = "too high" if output > TARGET else "too low"
    return score, f"The final balance after 2000 days is {output:g} but should be {TARGET:g}: {direction}."
