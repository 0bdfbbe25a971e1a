"""Score = fraction of sentences answered with the right label, "plausible" or "implausible"."""

from bigbench import labelled_items

LABELS = dict(labelled_items("sports_understanding"))


def feedback(output):
    wrong = [f"{s!r}: answered {a!r}, expected {LABELS[s]!r}" for s, a in output if a != LABELS[s]]
    score = 1 - len(wrong) / len(output)
    if not wrong:
        return 1.0, f"All {len(output)} sentences are labelled right."
    return score, (f"{len(output) - len(wrong)}/{len(output)} right. The answer must be the single word "
                   f"plausible or implausible. Wrong: " + "; ".join(wrong) + ".")
