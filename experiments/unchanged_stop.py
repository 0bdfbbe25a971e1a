"""What would stopping after answers that change nothing have cost and saved? Counted from stored runs.

    python -m experiments.unchanged_stop .bench/results/*/

For every autotrace run in each ``results.json`` this replays the rule of ``Settings.max_unchanged``
over the run's recorded steps: a step that asked the model and got nothing to evaluate (a note that
is not "changed ...") while the best score did not move (no higher score, no probe "best so far")
adds one; any other step resets the count. It reports the LLM calls and tokens spent after the
count first reached ``--after``, and the runs that were solved only after that point (what the stop
would have lost). It is the measurement behind the default of 2; runs made with the stop on end at
that point, so only runs made without it (before it existed, or ``--max-unchanged 0``) tell anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def replay(run: dict[str, Any], after: int) -> tuple[int, int, bool]:
    """(LLM calls after the stop point, their tokens, whether the run was solved only after it)."""
    steps = run.get("steps") or []
    best = steps[0].get("score") if steps else None
    unchanged = 0
    for i, step in enumerate(steps[1:], start=1):
        score, note = step.get("score"), step.get("note", "")
        moved = (score is not None and (best is None or score > best)) or "is the best so far" in note
        if score is not None:
            best = score if best is None else max(best, score)
        if not _asked(step):
            unchanged = 0
            continue
        unchanged = 0 if note.startswith("changed") or moved else unchanged + 1
        if unchanged >= after:
            rest = [s for s in steps[i + 1:] if _asked(s)]
            tokens = sum(s.get("prompt_tokens", 0) + s.get("completion_tokens", 0) for s in rest)
            lost = bool(run.get("solved")) and (run.get("solved_step") or 0) > i
            return len(rest), tokens, lost
    return 0, 0, False


def _asked(step: dict[str, Any]) -> bool:
    """Records older than the ``asked`` field ran without a cache: a step that asked has prompt tokens."""
    return bool(step["asked"]) if "asked" in step else bool(step.get("prompt_tokens"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.unchanged_stop", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", type=Path, help="result folders (.bench/results/<stamp>/)")
    parser.add_argument("--after", type=int, default=2, help="answers in a row that change nothing (default 2)")
    args = parser.parse_args(argv)
    print("result set        runs  tokens   calls saved  tokens saved  solves lost")
    totals = [0, 0, 0, 0]
    lost_runs: list[str] = []
    for folder in args.results:
        path = folder / "results.json"
        if not path.is_file():
            continue
        runs = [r for r in json.loads(path.read_text()).get("quality") or [] if r.get("side") == "autotrace"]
        if not runs:
            continue
        tokens = sum(r.get("prompt_tokens", 0) + r.get("completion_tokens", 0) for r in runs)
        calls = saved = 0
        for run in runs:
            c, t, lost = replay(run, args.after)
            calls, saved = calls + c, saved + t
            if lost:
                lost_runs.append(f"{folder.name} {run['task']} seed {run['seed']}")
        lost_here = sum(name.startswith(folder.name) for name in lost_runs)
        print(f"{folder.name:16s} {len(runs):5d} {tokens:8,d} {calls:11d} {saved:13,d} ({saved / max(tokens, 1):4.0%})"
              f" {lost_here:5d}")
        for i, value in enumerate((len(runs), tokens, calls, saved)):
            totals[i] += value
    runs, tokens, calls, saved = totals
    print(f"{'all':16s} {runs:5d} {tokens:8,d} {calls:11d} {saved:13,d} ({saved / max(tokens, 1):4.0%})"
          f" {len(lost_runs):5d}")
    for name in lost_runs:
        print(f"  lost: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
