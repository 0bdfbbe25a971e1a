"""Answers that hold code as code: each changed (code) variable in a fenced block, or as SEARCH/REPLACE
edits of its current source, outside any JSON; the other variables' values in one JSON object.

Code inside a JSON string is where small models fail most (quotes and newlines escaped wrongly:
docs/decisions/answers-and-questions.md). A fenced block needs no escaping (OpenEvolve and Aider ask for
code this way), so a problem with a (code) variable is asked for a free-form answer and
:func:`parse_code_answer` turns it into the ``{"reasoning": ..., "suggestion": {...}}`` object a JSON
answer gives, for the same validation. Code the model still writes inside the JSON is accepted too; when
it does not parse, the reason says so (:data:`ESCAPING_HINT`) and the loop does not count that answer as
one that changed nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autotrace.llm.jsonfix import extract_json
from autotrace.params import ParamKind, ParamSpec

#: Fenced blocks; an unclosed last block (the answer hit max_tokens) runs to the end of the text.
_FENCE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:^[ \t]*```[ \t]*$|\Z)", re.DOTALL | re.MULTILINE)
_EDIT = re.compile(r"^[ \t]*<{5,9} ?SEARCH[ \t]*\n(.*?)^[ \t]*={5,9}[ \t]*\n(.*?)^[ \t]*>{5,9} ?REPLACE[ \t]*$",
                   re.DOTALL | re.MULTILINE)
_EDIT_MARK = re.compile(r"^[ \t]*(<{5,9} ?SEARCH|>{5,9} ?REPLACE)", re.MULTILINE)
_DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*\(", re.MULTILINE)
_HEADER = re.compile(r"#\s*(?:\(code\)\s*)?([A-Za-z_][\w.]*)\s*=?\s*$")
#: Added to the reason for code from a JSON string that does not parse: almost always its escaping.
ESCAPING_HINT = "(the code was inside a JSON string: write the function in a ```python block instead)"
#: Said when an answer stopped at max_tokens before its code was complete (``{limit}``: the limit).
CUT_OFF = ("the answer stopped at the max_tokens limit ({limit} tokens) before its code block was complete, so "
           "its code was not used: write at most three short sentences, then the whole function at once")
_FENCE_LINE = re.compile(r"^[ \t]*```", re.MULTILINE)
#: Where an answer that holds one function and nothing after it is complete: the line closing its code
#: block. A small model goes on to explain the function again and to show calls of it, which costs as
#: many tokens as the function (docs/decisions/answers-and-questions.md); the server stops there
#: instead. The stop text is left out of the answer, whose last block is then read as unclosed. An
#: opening fence is ```python, which this does not match.
ONE_FUNCTION_STOP = ("\n```\n",)
_MALFORMED_EDIT = ("a SEARCH/REPLACE edit must be: a line <<<<<<< SEARCH, the exact current lines, a line "
                   "=======, the new lines, a line >>>>>>> REPLACE")


@dataclass
class CodeAnswer:
    """What :func:`parse_code_answer` read: the answer as a JSON answer's object (``data``), the
    problems found per variable ("" for the whole answer), and the variables whose code came from a
    JSON string (a syntax error there is an escaping error)."""

    data: dict[str, Any]
    problems: dict[str, str] = field(default_factory=dict)
    from_json: set[str] = field(default_factory=set)


def parse_code_answer(text: str, params: Sequence[ParamSpec], values: Mapping[str, Any]) -> CodeAnswer:
    """Read a free-form answer: SEARCH/REPLACE edits and fenced functions for the (code) variables,
    one JSON object (flat, or ``{"reasoning", "suggestion"}``) for the others; ``null`` (unchanged)
    for every variable the answer does not give. Never raises."""
    code = {p.name: p for p in params if p.kind is ParamKind.CODE}
    suggestion: dict[str, Any] = {p.name: None for p in params}
    problems: dict[str, str] = {}
    rest = text

    for match in _EDIT.finditer(text):
        search, replace = match.group(1), match.group(2)
        target = _edit_target(search, code, suggestion, values)
        if target is None:
            first = next((line.strip() for line in search.splitlines() if line.strip()), "")
            problems[""] = f"the SEARCH text is not in the current source of any (code) variable: {first[:80]!r}"
            continue
        name, where, length = target
        source = suggestion[name] or str(values[name])
        suggestion[name] = source[:where] + replace + source[where + length:]
    rest = _EDIT.sub("", rest)
    if _EDIT_MARK.search(rest):
        problems.setdefault("", _MALFORMED_EDIT)
        rest = rest[: _EDIT_MARK.search(rest).start()]  # type: ignore[union-attr]

    blocks: list[tuple[str, str, str]] = []  # (language, body, the line before the fence)
    for match in _FENCE.finditer(rest):
        before = rest[: match.start()].rstrip("\n").rpartition("\n")[2]
        blocks.append((match.group(1).lower(), match.group(2), before))
    prose = _FENCE.sub("", rest)
    json_text = "\n".join(body for language, body, _ in blocks if language == "json" or body.lstrip().startswith("{"))
    if code and not any(language != "json" and not body.lstrip().startswith("{") for language, body, _ in blocks):
        blocks += [("", body, "") for body in _unfenced_functions(prose, code)]
    stray = False  # a code block without a function: an illustration (an expected output), unless it is all
    for language, body, before in blocks:
        if language == "json" or body.lstrip().startswith("{"):
            continue
        if not _DEF.search(body):
            stray = True
            continue
        owners = _block_targets(body, code)
        if len(owners) < 2:
            owner = _block_target(body, before, code)
            owners = [owner] if owner is not None else []
        if not owners:
            problems.setdefault("", "a code block must hold one whole function of a (code) variable"
                                    f" ({', '.join(code)})")
            continue
        for name in owners:
            # a block that also holds other functions or stray lines: the variable's function out of it
            found = _unfenced_functions(body, {name: code[name]})
            suggestion[name] = found[-1].rstrip("\n") + "\n" if found else body
    if stray and not any(suggestion[name] is not None for name in code):
        problems.setdefault("", f"a code block must hold one whole function of a (code) variable ({', '.join(code)})")

    reasoning = _without_json(prose).strip()
    from_json: set[str] = set()
    data, _ = extract_json(json_text or prose)
    if isinstance(data, dict):
        inner = data["suggestion"] if isinstance(data.get("suggestion"), dict) else data
        if isinstance(data.get("reasoning"), str) and data["reasoning"].strip():
            reasoning = data["reasoning"]
        for name, value in inner.items():
            if name in ("reasoning", "suggestion") and name not in suggestion:
                continue
            if suggestion.get(name) is None and value is not None:
                suggestion[name] = value  # an unknown name is named by validation
                if name in code:
                    from_json.add(name)
    return CodeAnswer({"reasoning": reasoning, "suggestion": suggestion}, problems, from_json)


def code_cut_off(text: str) -> bool:
    """Whether an answer cut off at max_tokens lost its code: its last fenced block is not closed, or
    it has no fenced block at all (the reasoning ran to the limit)."""
    fences = len(_FENCE_LINE.findall(text))
    return fences == 0 or fences % 2 == 1


def _edit_target(search: str, code: Mapping[str, ParamSpec], suggestion: Mapping[str, Any],
                 values: Mapping[str, Any]) -> tuple[str, int, int] | None:
    """``(variable, offset, length)`` of the SEARCH text in a (code) variable's source (as edited so
    far): exactly, else with trailing spaces ignored; None when no variable holds it."""
    for name in code:
        source = suggestion[name] or str(values[name])
        where = source.find(search)
        if search and where >= 0:
            return name, where, len(search)
        wanted = [line.rstrip() for line in search.splitlines()]
        lines = source.splitlines(keepends=True)
        for start in range(len(lines) - len(wanted) + 1):
            if wanted and [line.rstrip() for line in lines[start:start + len(wanted)]] == wanted:
                offset = sum(len(line) for line in lines[:start])
                return name, offset, sum(len(line) for line in lines[start:start + len(wanted)])
    return None


def _block_target(body: str, before: str, code: Mapping[str, ParamSpec]) -> str | None:
    """The (code) variable a fenced block is for: named in a ``# name`` comment on the line before it or
    its first line, else the one whose function the block defines, else the only one there is."""
    first = body.lstrip("\n").partition("\n")[0]
    for line in (first, before):
        header = _HEADER.search(line.strip()) if line.strip().startswith("#") else None
        if header and header.group(1) in code:
            return header.group(1)
    defined = [m.group(1) for m in _DEF.finditer(body)]
    if not defined:
        return None
    matches = [name for name, spec in code.items() if spec.qualname.rpartition(".")[2] in defined]
    if len(matches) == 1:
        return matches[0]
    return next(iter(code)) if len(code) == 1 and len(defined) == 1 else None  # one def, renamed: validation says so


def _block_targets(body: str, code: Mapping[str, ParamSpec]) -> list[str]:
    """The (code) variables a block holding several functions is for: each whose function name the block
    defines at its top level, when that name is no other variable's (a small model often writes every
    changed function in one block)."""
    defined = {m.group(1) for m in _DEF.finditer(body) if not m.group(0)[0].isspace()}
    tails = [spec.qualname.rpartition(".")[2] for spec in code.values()]
    return [name for name, tail in zip(code, tails, strict=True) if tail in defined and tails.count(tail) == 1]


def _unfenced_functions(prose: str, code: Mapping[str, ParamSpec]) -> list[str]:
    """Functions written without a fence: from a ``def`` of a (code) variable's function name at the
    start of a line, through the indented or blank lines that follow it."""
    names = {spec.qualname.rpartition(".")[2] for spec in code.values()}
    lines = prose.splitlines(keepends=True)
    found = []
    i = 0
    while i < len(lines):
        match = _DEF.match(lines[i])
        if match and match.group(1) in names and not lines[i][0].isspace():
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or lines[j][0].isspace()):
                j += 1
            found.append("".join(lines[i:j]))
            i = j
        else:
            i += 1
    return found


def _without_json(prose: str) -> str:
    start = prose.find("{")
    return prose[:start] if start >= 0 else prose
