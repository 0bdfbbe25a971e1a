"""Each category must get its wanted amount (within 1 euro); the wanted plan depends on the seed."""

from scoring import closeness, seed

WANTED = (
    {"housing": 1400.0, "food": 600.0, "savings": 800.0, "leisure": 400.0},
    {"housing": 1000.0, "food": 800.0, "savings": 1200.0, "leisure": 600.0},
    {"housing": 1800.0, "food": 500.0, "savings": 400.0, "leisure": 300.0},
)[seed() % 3]


def feedback(output):
    score = closeness([output[k] for k in WANTED], list(WANTED.values()))
    wrong = [f"{k} gets {output[k]:g} but should get {want:g}" for k, want in WANTED.items()
             if abs(output[k] - want) > 1.0]
    if not wrong:
        return 1.0, "Every category gets its wanted amount."
    return score, "Wrong amounts: " + "; ".join(wrong) + "."
