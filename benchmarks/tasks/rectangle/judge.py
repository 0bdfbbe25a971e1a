"""Area and perimeter must both match (24/20, 15/16 or 16/20 by seed: 6x4, 5x3, 8x2)."""

from scoring import closeness, seed

TARGET = ({"area": 24.0, "perimeter": 20.0}, {"area": 15.0, "perimeter": 16.0},
          {"area": 16.0, "perimeter": 20.0})[seed() % 3]


def feedback(output):
    score = closeness([output["area"], output["perimeter"]], [TARGET["area"], TARGET["perimeter"]])
    parts = []
    for key in ("area", "perimeter"):
        got, want = output[key], TARGET[key]
        if abs(got - want) > 0.01:
            parts.append(f"the {key} is {got:g} but must be {want:g} ({'too high' if got > want else 'too low'})")
    if not parts:
        return 1.0, "Area and perimeter are both right."
    return score, "; ".join(parts).capitalize() + "."
