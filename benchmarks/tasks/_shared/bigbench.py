"""A small labelled set from a BIG-bench ``task.json`` (kept in ``data/``), picked by the seed."""

import json
import os
import random
from pathlib import Path


def labelled_items(task, size=8):
    """``size`` (input, label) pairs, half of each of the two labels, the same for a given seed."""
    data = json.loads((Path(__file__).resolve().parent / "data" / f"{task}.task.json").read_text())
    by_label = {}
    for example in data["examples"]:
        label = max(example["target_scores"], key=example["target_scores"].get)
        by_label.setdefault(label, []).append(example["input"])
    rng = random.Random(int(os.environ.get("BENCH_SEED", "0")))
    items = []
    for label in sorted(by_label):
        items += [(text, label) for text in rng.sample(by_label[label], size // len(by_label))]
    rng.shuffle(items)
    return items
