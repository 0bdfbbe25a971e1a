"""Do the prompts show the source that ran? A check over every stored prompt of autotrace's runs.

Issue 23: a traceback shown to the model named the candidate's line 8 but quoted line 8 of the file on
disk, and the model "fixed" a line that was not there. Each frame of a traceback in a prompt's
#Feedback is checked: in a (code) variable's function, the quoted line must be a line of the
candidate that ran (its source is the prompt's #Variables value); anywhere else, it must be the line
of that number in the file on disk. The same pass counts the answers rejected for a syntax error.

    python -m benchmarks.traceback_check .bench/results/<stamp> [...]

prints the figures per run folder and in all; :func:`check_run` is what the harness calls after each
autotrace run (``traceback_check`` in results.json, a line in the report).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from .harness import stored_steps

_FRAME = re.compile(r'^  File "([^"]+)", line (\d+), in (\S+)\n(?:    (?!File ")([^\n]*))?', re.MULTILINE)
_CODE_VARIABLE = re.compile(r"^\(code\) (\S+) =\n", re.MULTILINE)
_VARIABLE = re.compile(r"^\(\w+\) \S+ =", re.MULTILINE)


def frames(feedback: str) -> list[tuple[str, int, str, str | None]]:
    """``(file, line, function, quoted text or None)`` of each traceback frame in ``feedback``."""
    return [(m[1], int(m[2]), m[3], m[4].strip() if m[4] is not None else None) for m in _FRAME.finditer(feedback)]


def section(prompt: str, title: str) -> str:
    """The text of a prompt section (``#Feedback``), "" when the prompt has none."""
    start = prompt.find(f"\n{title}\n")
    if start < 0:
        return ""
    body = prompt[start + len(title) + 2:]
    end = re.search(r"^#[A-Z][A-Za-z ]*", body, re.MULTILINE)
    return body[: end.start()] if end else body


def code_variables(prompt: str) -> dict[str, str]:
    """Function name -> source of each (code) variable in the prompt's #Variables."""
    variables = section(prompt, "#Variables")
    found = {}
    for match in _CODE_VARIABLE.finditer(variables):
        rest = variables[match.end():]
        following = _VARIABLE.search(rest)
        found[match[1].rpartition(".")[2]] = rest[: following.start()] if following else rest
    return found


def check_prompt(prompt: str, run_dir: Path) -> dict[str, Any]:
    """The frames of one prompt's #Feedback, and those whose quoted line is not the one that ran."""
    candidates = code_variables(prompt)
    checked, in_candidates, wrong = 0, 0, []
    for file, line, function, text in frames(section(prompt, "#Feedback")):
        if function in candidates:
            in_candidates += 1
            ran = {row.strip() for row in candidates[function].splitlines() if row.strip()}
        else:
            path = Path(file) if Path(file).is_absolute() else run_dir / file
            if not path.is_file():
                continue
            lines = path.read_text(errors="replace").splitlines()
            if 0 < line <= len(lines):
                ran = {lines[line - 1].strip()}
            else:  # past the file's end: a candidate's appended lines (a function nested in one, a comprehension)
                ran = {row.strip() for source in candidates.values() for row in source.splitlines() if row.strip()}
        checked += 1
        if text not in ran:
            wrong.append(f"{Path(file).name}:{line} in {function}: shows {text!r}")
    return {"frames": checked, "in_candidates": in_candidates, "wrong": wrong}


def check_run(run_dir: Path) -> dict[str, Any]:
    """Every stored prompt of the autotrace run in ``run_dir``: frames checked, frames that quote a line
    that did not run, LLM answers, and answers with a value rejected for a syntax error."""
    totals: dict[str, Any] = {"prompts": 0, "frames": 0, "in_candidates": 0, "wrong": [], "answers": 0,
                              "syntax_rejected": 0}
    for record in stored_steps(run_dir):
        messages = record.prompt
        if not messages:
            continue
        totals["prompts"] += 1
        totals["answers"] += 1 if record.response else 0
        totals["syntax_rejected"] += any(reason.startswith("syntax error") for reason in record.rejected.values())
        result = check_prompt(messages[-1]["content"], run_dir)
        for key in ("frames", "in_candidates"):
            totals[key] += result[key]
        totals["wrong"] += [f"step {record.step}: {text}" for text in result["wrong"]]
    return totals


def main(argv: list[str]) -> int:
    grand: dict[str, Any] = {"prompts": 0, "frames": 0, "in_candidates": 0, "wrong": [], "answers": 0,
                             "syntax_rejected": 0}
    for folder in map(Path, argv):
        for run_dir in sorted(p.parent for p in folder.glob("**/runs/*-autotrace/program.py")):
            result = check_run(run_dir)
            print(f"{run_dir.name}: {json.dumps({k: v for k, v in result.items() if k != 'wrong'})}"
                  + "".join(f"\n  wrong: {w}" for w in result["wrong"]))
            for key, value in result.items():
                grand[key] += value
    print("all: " + json.dumps({**{k: v for k, v in grand.items() if k != "wrong"}, "wrong": len(grand["wrong"])}))
    return 1 if grand["wrong"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
