"""Pull one JSON object out of a model's answer, forgiving the usual ways models garble it.

Even with ``response_format`` many servers (or the fallback without one) give back JSON wrapped in
``` fences, surrounded by prose, with trailing commas, single-quoted keys or Python's
``True``/``False``/``None``. The optimizer needs the object, or else a short reason it can show the
model on the next step, so :func:`extract_json` never raises.

Kept rather than json-repair, which completes a truncated answer as if it were whole (a cut-off code
value would be applied): the comparison is in docs/decisions/answers-and-questions.md.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n(.*?)```", re.DOTALL)
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TRUNCATED = "the JSON object is truncated (the answer ended before it was closed)"


def extract_json(text: str) -> tuple[dict | None, str | None]:
    """Return ``(object, None)`` for the first JSON object in ``text``, else ``(None, reason)``.

    Fenced blocks are tried first, since prose before a fence may hold stray braces. An object that
    is still open when the text ends is reported as truncated rather than replaced by an inner one.
    """
    if not text or not text.strip():
        return None, "the answer is empty"
    for block in _FENCE.findall(text):
        data, _ = _first_object(block)
        if data is not None:
            return data, None
    return _first_object(text)


def _first_object(text: str) -> tuple[dict | None, str | None]:
    """Try each top-level ``{...}`` span in order; the first that parses to an object wins."""
    error: str | None = None
    start = text.find("{")
    while start != -1:
        end = _closing_brace(text, start)
        if end is None:
            return None, TRUNCATED
        data, reason = _parse(text[start : end + 1])
        if data is not None:
            return data, None
        error = error or reason
        start = text.find("{", end + 1)
    return None, error or "no JSON object found in the answer"


def _closing_brace(text: str, start: int) -> int | None:
    """Index of the brace closing the one at ``start``, skipping quoted strings; None if never closed."""
    depth = 0
    quote: str | None = None
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _parse(candidate: str) -> tuple[dict | None, str | None]:
    """JSON first, then JSON after :func:`_normalize`, then a Python dict literal.

    Raw newlines inside strings are accepted (``strict=False``): models often write code values that way.
    """
    try:
        data = json.loads(candidate, strict=False)
    except ValueError:
        try:
            data = json.loads(_normalize(candidate), strict=False)
        except ValueError as exc:
            data = _python_literal(candidate)
            if data is None:
                return None, f"invalid JSON: {exc}"
    return data, None


def _normalize(candidate: str) -> str:
    """Rewrite lenient JSON to strict JSON outside strings.

    Single-quoted strings become double-quoted, ``True``/``False``/``None`` become JSON literals and
    commas directly before ``}`` or ``]`` are dropped. Text inside double-quoted strings is copied
    unchanged, so apostrophes and Python words in values survive.
    """
    out: list[str] = []
    i, n = 0, len(candidate)
    while i < n:
        ch = candidate[i]
        if ch == '"':
            end = _string_end(candidate, i, '"')
            out.append(candidate[i:end])
            i = end
        elif ch == "'":
            end = _string_end(candidate, i, "'")
            out.append(json.dumps(_python_string(candidate[i:end])))
            i = end
        elif ch == ",":
            j = i + 1
            while j < n and candidate[j].isspace():
                j += 1
            if j >= n or candidate[j] not in "}]":
                out.append(ch)
            i += 1
        elif match := _WORD.match(candidate, i):
            word = match.group()
            out.append(_PY_LITERALS.get(word, word))
            i = match.end()
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _string_end(text: str, start: int, quote: str) -> int:
    """Index just past the string opened at ``start`` (or the text's end if it never closes)."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return len(text)


def _python_string(literal: str) -> str:
    """Decode a single-quoted string with Python's rules; ValueError if it is not one (e.g. unclosed)."""
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError) as exc:
        raise ValueError(f"bad single-quoted string {literal[:40]!r}") from exc
    if not isinstance(value, str):
        raise ValueError(f"bad single-quoted string {literal[:40]!r}")
    return value


def _python_literal(candidate: str) -> dict | None:
    """Read a Python dict literal, keeping it only if it round-trips through JSON."""
    try:
        value: Any = ast.literal_eval(candidate)
        return json.loads(json.dumps(value)) if isinstance(value, dict) else None
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
