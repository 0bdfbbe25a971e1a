"""What a hand-written system prompt gets on the prompt tasks: the ceiling an optimizer works under.

The prompt tasks (``sports_prompt``, ``implicature_prompt``) count as solved only with all 8 labels
right, and the labels come from the embedded 1.5B model the app calls. Whether that is reachable at
all is a property of the app's model, not of the optimizer; this script measures it. Each prompt
below is run by the task's own program (its ``ask``: an ``OpenAI()`` call for gpt-4o-mini, temperature 0,
12 tokens, answered by the served model through a recording proxy as in the harness; then its
``first_word``) on the 8 items each seed draws:

* the task's initial prompt;
* BIG-bench's own task prefix for the task, with the answer words spelt out;
* a rule written by hand from the task's description;
* that rule with six labelled examples drawn (seed 99) from the task's other items, never the 8
  being judged: few-shot demonstrations, as DSPy's bootstrapping would add.

::

    python -m experiments.prompt_ceiling [--seeds 0 1 2] [--base-url URL --model M] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import random
import runpy
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from autotrace.llm.proxy import RecordingProxy, Upstream
from autotrace.runners.app_model import environment

from benchmarks.harness import model_server
from benchmarks.tasks import HERE, get

RULES = {
    "sports_understanding": (
        "You judge sentences about sports. A sentence is plausible if the athlete it names plays the sport "
        "that the action belongs to, and implausible if the action belongs to another sport. "
        "Answer with exactly one word: plausible or implausible."
    ),
    "implicatures": (
        "Speaker 1 asks a question and Speaker 2 answers it indirectly. Decide whether Speaker 2's "
        "answer means yes or no. Answer with exactly one word: yes or no."
    ),
}
INITIAL = {"sports_understanding": "Here is a sentence about sports.", "implicatures": "Read the dialogue."}
WORDS = {"sports_understanding": "plausible or implausible", "implicatures": "yes or no"}
TASKS = {"sports_understanding": "sports_prompt", "implicatures": "implicature_prompt"}


def prompts(data_name: str, judged: set[str]) -> dict[str, str]:
    """The prompts measured for one task, the few-shot one without any of the ``judged`` items."""
    data = json.loads((HERE / "data" / f"{data_name}.task.json").read_text())
    prefix = data["task_prefix"].strip() if "task_prefix" in data else data["examples"][0]["input"]
    others = [e for e in data["examples"] if e["input"] not in judged]
    shots = random.Random(99).sample(others, 6)
    demos = "\n".join(f"{e['input']} -> {max(e['target_scores'], key=e['target_scores'].get)}" for e in shots)
    return {
        "initial": INITIAL[data_name],
        "BIG-bench prefix": f"{prefix} Answer with exactly one word: {WORDS[data_name]}.",
        "hand-written rule": RULES[data_name],
        "rule + 6 examples": f"{RULES[data_name]}\n\nExamples:\n{demos}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS.values()), default=list(TASKS.values()))
    parser.add_argument("--base-url")
    parser.add_argument("--model")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="prompt-ceiling-"))
    for task in TASKS.values():  # the prompt tasks' shared modules and data, laid out as a run sees them
        get(task).lay_out("autotrace", folder)
    sys.path.insert(0, str(folder))
    from bigbench import labelled_items  # noqa: PLC0415 - the tasks' own module, found on their path

    started = time.perf_counter()
    rows = []
    with model_server(args.base_url, args.model, args.threads) as server, \
            RecordingProxy(lambda: Upstream(server["base_url"], "local", server["model"])) as proxy, \
            environment({"OPENAI_BASE_URL": proxy.base_url, "OPENAI_API_KEY": "local"}):
        for data_name, task in TASKS.items():
            if task not in args.tasks:
                continue
            program = runpy.run_path(str(get(task).folder / "program.py"), run_name="prompt_ceiling")
            scores: dict[str, list[int]] = {}
            for seed in args.seeds:
                items = labelled_items(data_name, seed=seed)
                for name, prompt in prompts(data_name, {text for text, _ in items}).items():
                    said = [program["first_word"](program["ask"](prompt, text)) for text, _ in items]
                    right = sum(word == label for word, (_, label) in zip(said, items))
                    scores.setdefault(name, []).append(right)
                    words = ", ".join(f"{w!r} x{n}" for w, n in Counter(said).most_common())
                    print(f"  {task} seed {seed} {name}: {right}/{len(items)} (answers: {words})", flush=True)
            for name, found in scores.items():
                rows.append(f"| {task} | {name} | {', '.join(f'{r}/8' for r in found)} | "
                            f"{sum(r == 8 for r in found)} of {len(found)} |")
    print("\n| task | system prompt | labels right, per seed | seeds with all 8 right |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    print(f"\n{time.perf_counter() - started:.0f} s, seeds {args.seeds}")
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
