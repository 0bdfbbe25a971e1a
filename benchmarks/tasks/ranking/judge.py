"""The wanted list (by seed): the 3 highest scorers, the 2 youngest, or the 4 oldest players."""

from scoring import seed

WANTED = (["Ben", "Fay", "Dev"], ["Ben", "Eli"], ["Gus", "Dev", "Ana", "Fay"])[seed() % 3]


def feedback(output):
    output = list(output)
    right = sum(1 for got, want in zip(output, WANTED) if got == want)
    score = right / max(len(output), len(WANTED))
    if output == WANTED:
        return 1.0, f"The list {output} is the wanted one."
    return score, f"The program listed {output} but the wanted list is {WANTED} ({right} positions right)."
