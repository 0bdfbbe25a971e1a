"""BIG-Bench-Hard examples of one task (``BBH_TASK``, default boolean_expressions), split as in the paper:
the first 15 of a seeded shuffle to train on, the next 5 to validate on, the rest to test. The optimizer
sees the train and validation examples; ``BBH_SPLIT=test`` makes ``examples()`` the test ones instead,
for ``autotrace run``. The score is the paper's metric: an exact match, or for a multiple-choice target
such as ``(B)`` the last option letter in the answer."""

import json
import os
import random
import re
from pathlib import Path

TASKS = ("boolean_expressions", "sports_understanding", "word_sorting")
TASK = os.environ.get("BBH_TASK", TASKS[0])
if TASK not in TASKS:
    raise ValueError(f"BBH_TASK={TASK!r}: one of {', '.join(TASKS)}")
# a few inputs occur twice in a task: each once, so that no test question is also a train question
DATA = list({e["input"]: e for e in json.loads((Path(__file__).resolve().parent / "data" / f"{TASK}.json")
                                               .read_text())["examples"]}.values())
random.Random(0).shuffle(DATA)
TARGETS = {example["input"]: example["target"] for example in DATA}
SPLITS = {"train": DATA[:15], "val": DATA[15:20], "test": DATA[20:]}


def examples():
    if os.environ.get("BBH_SPLIT") == "test":
        return [example["input"] for example in SPLITS["test"]]
    return {"train": [e["input"] for e in SPLITS["train"]], "val": [e["input"] for e in SPLITS["val"]]}


def eval_metric(true, prediction):
    if re.findall(r"\([A-Z]\)", true):
        options = re.findall(r"\([A-Z]\)", prediction)
        return (options[-1] if options else "") == true
    return prediction == true


def feedback(output, question):
    target = TARGETS[question]
    if eval_metric(target, output):
        return 1.0, "correct"
    return 0.0, f"answered {output!r}, expected {target!r}"
