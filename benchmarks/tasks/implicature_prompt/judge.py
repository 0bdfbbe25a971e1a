"""Score = fraction of dialogues answered right: does Speaker 2's answer mean "yes" or "no"?"""

from bigbench import labelled_items

LABELS = dict(labelled_items("implicatures"))


def feedback(output):
    wrong = [f"{d!r}: answered {a!r}, expected {LABELS[d]!r}" for d, a in output if a != LABELS[d]]
    score = 1 - len(wrong) / len(output)
    if not wrong:
        return 1.0, f"All {len(output)} dialogues are answered right."
    return score, (f"{len(output) - len(wrong)}/{len(output)} right. The answer must be the single word "
                   f"yes or no (what Speaker 2 means). Wrong: " + "; ".join(wrong) + ".")
