"""The program's model alone: each fresh prompt task's program with three prompts (its original, the best
one a run on the embedded 1.5B kept, one written by hand that states the task and the output form) on its
hidden cases, against one server; one JSON line per task and prompt (cases passed, seconds).

    python -m benchmarks.program_model http://127.0.0.1:PORT/v1 0.5b

docs/decisions/app-model.md reads it for the 0.5B and the 1.5B as the program's model.
"""

from __future__ import annotations

import json
import runpy
import sys
import time

from . import prompt_proposers, tasks

#: Written once for this check, not tuned on the hidden cases.
HAND = {
    "topic_code": "File the headline under one desk code: SPT (sport), TEC (technology), POL (politics) or "
                  "HLT (health). Answer with the code alone.",
    "camel_case": "Turn the described field into one camelCase identifier, for example 'user email address' -> "
                  "userEmailAddress. Answer with the identifier alone.",
    "date_extract": "Give the one date in the sentence as YYYY-MM-DD. Answer with the date alone.",
}
#: The best prompts runs with the 1.5B as the program's model kept (benchmarks/results/prompt_proposers.jsonl).
FOUND = {
    "topic_code": "You are a helpful assistant. Talk about the headline.\nAnswer with exactly one of: SPT, TEC, POL, "
                  "HLT. Write that alone, with nothing before or after it.",
    "camel_case": "For any input that is a specific attribute or setting in a context, answer with the corresponding "
                  "attribute name in the exact format provided.\nAnswer with the output alone, with nothing before "
                  "or after it, written exactly in the form of this example: maximumRetryCount",
    "date_extract": "You are a helpful assistant. Please provide a date in the format 'YYYY-MM-DD'.",
}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        raise SystemExit("usage: python -m benchmarks.program_model BASE_URL LABEL")
    base_url, label = args
    for name in HAND:
        folder = tasks.get(name).folder
        original = runpy.run_path(str(folder / "program.py"), run_name="program_model")["PROMPT"]
        for kind, prompt in (("original", original), ("found", FOUND[name]), ("hand", HAND[name])):
            started = time.time()
            hidden = prompt_proposers.hidden_score(folder, prompt, base_url)
            print(json.dumps({"model": label, "task": name, "prompt_kind": kind, "hidden_passed": hidden.get("passed"),
                              "hidden_total": hidden.get("total"), "seconds": round(time.time() - started, 1),
                              "failing": hidden.get("failing"), "prompt": prompt}), flush=True)


if __name__ == "__main__":
    main()
