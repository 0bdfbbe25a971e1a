"""Each Celsius reading must be converted to degrees Fahrenheit (within 0.1 degree)."""

from scoring import closeness


def feedback(output):
    wanted = {c: round(c * 1.8 + 32, 1) for c in output}
    score = closeness(list(output.values()), list(wanted.values()))
    wrong = [f"{c:g} C gave {f:g}, expected {wanted[c]:g} F" for c, f in output.items() if abs(f - wanted[c]) > 0.05]
    if not wrong:
        return 1.0, "Every reading is converted correctly to Fahrenheit."
    return score, "Wrong conversions to Fahrenheit: " + "; ".join(wrong) + "."
