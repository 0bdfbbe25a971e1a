"""A small labelled set from a BIG-bench ``task.json`` (kept in ``data/``): the same items on every run.

The prompt tasks' programs read it as a user's program reads its dataset: nothing in the environment
picks the items, so a program run by the benchmark cannot tell it is benchmarked. ``seed`` is for
studies that want other draws (experiments/prompt_ceiling.py).
"""

import json
import random
from pathlib import Path


def labelled_items(task, size=8, seed=0):
    """``size`` (input, label) pairs, half of each of the two labels, the same for a given ``seed``."""
    data = json.loads((Path(__file__).resolve().parent / "data" / f"{task}.task.json").read_text())
    by_label = {}
    for example in data["examples"]:
        label = max(example["target_scores"], key=example["target_scores"].get)
        by_label.setdefault(label, []).append(example["input"])
    rng = random.Random(seed)
    items = []
    for label in sorted(by_label):
        items += [(text, label) for text in rng.sample(by_label[label], size // len(by_label))]
    rng.shuffle(items)
    return items
