"""The quote for 200 pages must be 30.00 euros; the score is minus the error in euros (0 is perfect)."""

WANTED = 30.0


def feedback(output):
    error = round(output - WANTED, 2)
    if error == 0:
        return 0.0, f"output {output} is exactly right"
    direction = "too high" if error > 0 else "too low"
    return -abs(error), f"output {output} is {abs(error)} {direction}: the quote for 200 pages must be exactly {WANTED}"
