"""Where an LLM step's completion tokens go: per stored answer, the prompt it echoed, its reasoning, the
function it was asked for, other code (constants, imports, example calls), the lines of the function it
wrote back unchanged, and the prose after its code.

The step records keep every answer's text (the kept one and the others) and the step's completion tokens
summed; each part's tokens are its share of the step's characters times those tokens (a tokenizer would
need the model). The question an answer was (whole program or reflective) is read from the order the loop
asks in: the whole problem first, then the resampling rotation (reflective, whole) while no answer gave a
new candidate, so the kept answer of a step with a new candidate is its last. Usage::

    python -m benchmarks.answer_parts RUN_DIR [RUN_DIR ...] [--json --arm ARM]

``--json`` prints a row per answer, with the arm and the commit of the worktree that made the run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from autotrace.records import StepRecord
from benchmarks.harness import stored_steps
from benchmarks.rows import head_commit

_FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)(?:^[ \t]*```[ \t]*$|\Z)", re.DOTALL | re.MULTILINE)
_DEF = re.compile(r"^(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)", re.MULTILINE)
#: A line an answer starts with when it repeats the prompt's sections before answering.
_ECHO_HEAD = re.compile(r"^#(Feedback|Variables|Code|Instruction|Outputs|Others|Documentation|Current value"
                        r"|How the run used it|Variable)\b")
_ANSWER_HEAD = re.compile(r"^#\s*Answer\b.*$", re.MULTILINE)

PARTS = ("echo", "reasoning", "function", "unchanged", "other_code", "after")


@dataclass(frozen=True)
class AnswerParts:
    """One answer's characters by part (``function`` counts the changed lines of the asked function,
    ``unchanged`` those it wrote as they were) and its estimated tokens."""

    run: str
    commit: str  # the code that made the run
    arm: str
    step: int
    index: int  # the answer's place in the step's asking order
    kind: str  # "whole" or "reflective" (inferred from the asking order)
    tokens: int  # estimated: the step's completion tokens shared by characters
    chars: dict[str, int]


def split_answer(text: str, current: Sequence[str]) -> dict[str, int]:
    """The characters of ``text`` by part; ``current``: the asked functions' current sources, whose lines
    written back as they were count as ``unchanged``."""
    parts = dict.fromkeys(PARTS, 0)
    head = _ANSWER_HEAD.search(text)
    if text.lstrip().startswith("#") and _ECHO_HEAD.match(text.lstrip()) and head is not None:
        parts["echo"] = head.end()
        text = text[head.end():]
    blocks = list(_FENCE.finditer(text))
    if not blocks:
        parts["reasoning"] = len(text.strip())
        return parts
    parts["reasoning"] = len(text[: blocks[0].start()].strip())
    parts["after"] = len(text[blocks[-1].end():].strip())
    between = sum(len(text[a.end():b.start()].strip()) for a, b in zip(blocks, blocks[1:], strict=False))
    parts["after"] += between
    old = {line.strip() for source in current for line in source.splitlines() if line.strip()}
    names = {m.group(1) for source in current for m in _DEF.finditer(source)}
    for block in blocks:
        body = block.group(1)
        in_function = False
        for line in body.splitlines(keepends=True):
            match = _DEF.match(line)
            if match:
                in_function = match.group(1) in names
            elif line.strip() and not line[0].isspace():
                in_function = False
            if in_function and line.strip() in old:
                parts["unchanged"] += len(line)
            elif in_function:
                parts["function"] += len(line)
            else:
                parts["other_code"] += len(line)
        parts["other_code"] += len(block.group(0)) - len(body)  # the fences
    return parts


def answers_of(record: StepRecord) -> list[str]:
    """The step's answers in the order asked (see the module docstring)."""
    others = [o.response for o in record.other_answers]
    if record.new_answers:
        return [*others, record.response]
    return [record.response, *others]


def parts_of(run: str, steps: Sequence[StepRecord], commit: str = "", arm: str = "") -> list[AnswerParts]:
    rows: list[AnswerParts] = []
    previous: StepRecord | None = None
    for record in steps:
        if record.step == 0 or not record.response:
            previous = record
            continue
        current = [v for v in (previous.values if previous else record.values).values() if "def " in v]
        answers = answers_of(record)
        split = [split_answer(text, current) for text in answers]
        total = sum(len(text) for text in answers) or 1
        for index, (text, chars) in enumerate(zip(answers, split, strict=True)):
            kind = "whole" if index % 2 == 0 else "reflective"
            rows.append(AnswerParts(run, commit, arm, record.step, index, kind,
                                    round(record.completion_tokens * len(text) / total), chars))
        previous = record
    return rows


def summary(rows: Sequence[AnswerParts]) -> str:
    """Per kind: answers, tokens, and each part's share of the characters."""
    lines = []
    for kind in ("whole", "reflective"):
        some = [r for r in rows if r.kind == kind]
        if not some:
            continue
        chars = {p: sum(r.chars[p] for r in some) for p in PARTS}
        total = sum(chars.values()) or 1
        shares = ", ".join(f"{p} {100 * c / total:.0f}%" for p, c in chars.items())
        tokens = sorted(r.tokens for r in some)
        lines.append(f"{kind}: {len(some)} answers, tokens median {tokens[len(tokens) // 2]} "
                     f"(sum {sum(tokens)}); {shares}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON row per answer")
    parser.add_argument("--arm", default="", help="what differs between the runs compared")
    args = parser.parse_args(argv)
    rows: list[AnswerParts] = []
    for run in args.runs:
        steps = stored_steps(run)
        if not steps:
            print(f"answer_parts: no stored steps in {run}", file=sys.stderr)
            return 2
        rows += parts_of(run.name, steps, head_commit(run.resolve().parents[3]), args.arm)
    if args.json:
        for row in rows:
            print(json.dumps(asdict(row)))
    else:
        for row in rows:
            print(f"{row.run} step {row.step} #{row.index} {row.kind}: ~{row.tokens} tokens; "
                  + ", ".join(f"{p} {c}" for p, c in row.chars.items() if c))
        print(summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
