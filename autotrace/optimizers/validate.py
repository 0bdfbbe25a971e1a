"""Checking the model's suggestions before anything runs them, and the answer schema that shapes them.

A suggestion that would not even load (a string where a number was, code that does not parse, a
function whose callers would break because its signature changed) is rejected here with a short
reason, which the next prompt shows the model. Rejecting is cheaper than evaluating, and a reason
teaches more than a bad score.

The schema and the checks describe the same shapes: every parameter is a required key whose value
may be ``null`` ("keep the current value"), which strict-schema servers (OpenAI) demand and which
lets a small model answer without repeating unchanged code.
"""

from __future__ import annotations

import ast
import difflib
import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from autotrace.optimizers.code_imports import with_imports
from autotrace.params import ParamKind, ParamSpec, literal_to_text, same_kind

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*[ \t]*\n(.*?)\n?```\s*$", re.DOTALL)
_JSON_TYPES: tuple[tuple[type, str], ...] = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))
_SHOW = 60  # characters of a rejected value quoted back to the model


class Invalid(ValueError):
    """A suggestion that cannot be used; the message is the reason shown to the model."""


def validate(
    suggestion: Mapping[str, Any], params: Sequence[ParamSpec], current: Mapping[str, Any],
    inputs: Mapping[str, Sequence[str]] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Split a suggestion into ``(accepted, rejected)``: accepted values by name, reasons by name.

    ``null`` means "unchanged" and is skipped. Accepted values are coerced to the parameter's kind
    (``"3.5"`` → 3.5 for a number, a JSON array → tuple for a tuple); code comes back as clean source.
    ``inputs`` holds, per text parameter, the inputs the run passed together with it
    (:func:`autotrace.optimizers.uses.inputs_beside`): a new text quoting one is rejected. It is
    sent with every input, so one written around the inputs at hand fits them alone (a small model
    does paste them in: docs/decisions/answers-and-questions.md).
    """
    specs = {p.name: p for p in params}
    accepted: dict[str, Any] = {}
    rejected: dict[str, str] = {}
    for name, value in suggestion.items():
        spec = specs.get(name)
        if spec is None:
            rejected[name] = _unknown(name, specs)
            continue
        if value is None:
            continue
        try:
            checked = check_code(spec, value) if spec.kind is ParamKind.CODE else check_literal(current[name], value)
            if spec.domain is not None and (outside := spec.domain.reason(checked)) is not None:
                raise Invalid(outside)  # the marker's bound, as the probes and the search keep it
            if isinstance(checked, str) and spec.kind is not ParamKind.CODE:
                _check_quotes(checked, (inputs or {}).get(name, ()))
            accepted[name] = checked
        except Invalid as exc:
            rejected[name] = str(exc)
    return accepted, rejected


def _check_quotes(text: str, inputs: Sequence[str]) -> None:
    """:class:`Invalid` when ``text`` quotes one of the ``inputs`` it is sent with."""
    for quoted in inputs:
        if quoted in text:
            raise Invalid(f"the text quotes an input the program sends with it ({_quote(quoted)}); it is sent "
                          "with every input, so it must say how to answer any of them, not repeat one")


def _unknown(name: str, specs: Mapping[str, ParamSpec]) -> str:
    close = [n for n in specs if n.endswith("." + name)] or difflib.get_close_matches(name, list(specs), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; the variables are: {', '.join(list(specs)[:10])}"
    return f"unknown variable{hint}"


# -- literals --------------------------------------------------------------------------------------


def check_literal(old: Any, new: Any) -> Any:
    """``new`` as a value that may replace ``old`` (:func:`autotrace.params.same_kind`), or :class:`Invalid`."""
    if isinstance(new, str) and old is not None and not isinstance(old, str):
        try:
            new = ast.literal_eval(new.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise Invalid(f"expected {_kind(old)}, got the text {_quote(new)}") from None
    new = _shape(old, new)
    if not same_kind(old, new):
        raise Invalid(f"expected {_kind(old)}, got {_kind(new)} {_quote(new)}")
    try:
        literal_to_text(new)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise Invalid(f"{_quote(new)} is not a plain Python literal") from None
    return new


def _shape(old: Any, new: Any) -> Any:
    """Give JSON values the container types of the old value: arrays become tuples/sets, floats stay floats.

    Nested sequences follow the old value's first element, so ``((1, 2),)`` stays a tuple of tuples.
    """
    if isinstance(old, float) and type(new) is int:
        return float(new)
    if type(old) is int and isinstance(new, float) and new.is_integer():
        return int(new)
    if isinstance(old, (list, tuple, set)) and isinstance(new, list):
        template = next(iter(old), None)
        items = [_shape(template, item) for item in new] if template is not None else new
        if isinstance(old, set):
            try:
                return set(items)
            except TypeError:
                raise Invalid("a set can only hold hashable values (numbers, strings, tuples)") from None
        return tuple(items) if isinstance(old, tuple) else items
    return new


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string"
    article = "an" if type(value).__name__[0] in "aeiou" else "a"
    return f"{article} {type(value).__name__}"


def _quote(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOW else text[: _SHOW - 3] + "..."


# -- code ------------------------------------------------------------------------------------------


def check_code(spec: ParamSpec, source: Any) -> str:
    """The suggested source for a code parameter, checked to be a drop-in replacement, or :class:`Invalid`.

    Exactly one function, same name, same async-ness, same parameters (names, kinds, default
    texts) and no new decorators: callers and the recorder must not notice the swap. The imports it
    needs are moved into its body first (:mod:`autotrace.optimizers.code_imports`).
    """
    if not isinstance(source, str):
        raise Invalid(f"expected the function's source as a string, got {_kind(source)}")
    source = _unfence(source)
    try:
        tree = ast.parse(source)
        if (repaired := with_imports(source, tree, spec.path)) != source:
            source, tree = repaired, ast.parse(repaired)
        compile(tree, "<suggestion>", "exec")  # symbol-table errors ast.parse lets through
    except SyntaxError as exc:
        line = (exc.text or "").strip()
        raise Invalid(f"syntax error at line {exc.lineno}: {exc.msg}" + (f": {_quote(line)}" if line else "")) from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise Invalid(f"cannot compile: {exc}") from None
    original = _function(ast.parse(spec.initial))
    new = _function(tree)
    if new is None:
        found = ", ".join(type(node).__name__ for node in tree.body[:4]) or "nothing"
        raise Invalid(f"expected exactly one function definition, found: {found}")
    if original is None:  # the original is always one def (see autotrace.markers); be lenient if not
        return source
    if new.name != original.name:
        raise Invalid(f"the function must keep its name {original.name!r}, not {new.name!r}")
    if isinstance(new, ast.AsyncFunctionDef) is not isinstance(original, ast.AsyncFunctionDef):
        kind = "async def" if isinstance(original, ast.AsyncFunctionDef) else "def"
        raise Invalid(f"the function must stay {kind}")
    if _signature(new) != _signature(original):
        raise Invalid(f"the parameters must stay ({ast.unparse(original.args)}), got ({ast.unparse(new.args)})")
    if [ast.unparse(d) for d in new.decorator_list] != [ast.unparse(d) for d in original.decorator_list]:
        raise Invalid("decorators may not be added or changed")
    return source


def _unfence(source: str) -> str:
    """Drop a Markdown fence and common indentation: small models wrap code in both."""
    match = _FENCE.match(source)
    if match:
        source = match.group(1)
    return textwrap.dedent(source).strip("\n") + "\n"


def _function(tree: ast.Module) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    if len(tree.body) == 1 and isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return tree.body[0]
    return None


def _signature(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple:
    """Names, kinds and default texts of the parameters; annotations may change."""
    a = fn.args
    return (
        [p.arg for p in a.posonlyargs],
        [p.arg for p in a.args],
        a.vararg.arg if a.vararg else None,
        [p.arg for p in a.kwonlyargs],
        a.kwarg.arg if a.kwarg else None,
        [ast.unparse(d) for d in a.defaults],
        [ast.unparse(d) if d is not None else None for d in a.kw_defaults],
    )


# -- answer schema ---------------------------------------------------------------------------------


def value_schema(spec: ParamSpec, value: Any) -> dict[str, Any]:
    """JSON schema for one parameter's new value; ``null`` always allowed (= unchanged)."""
    if spec.kind is ParamKind.CODE:
        return {"type": ["string", "null"]}
    json_type = _json_type(value)
    if json_type is not None:
        return {"type": [json_type, "null"]}
    if isinstance(value, (list, tuple, set)):
        item_types = {_json_type(item) for item in value}
        schema: dict[str, Any] = {"type": ["array", "null"]}
        if len(item_types) == 1 and None not in item_types:
            schema["items"] = {"type": item_types.pop()}
        return schema
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"type": ["object", "null"]}
    if value is None:
        return {}
    return {"type": ["string", "null"]}  # bytes, complex, dicts with other keys: written as a Python literal


def _json_type(value: Any) -> str | None:
    for python_type, json_type in _JSON_TYPES:
        if isinstance(value, python_type):
            return json_type
    return None


#: Longest reasoning the answer schema allows. A small model at temperature 0 can repeat a few
#: sentences until max_tokens cuts the answer off before any value; a grammar-enforcing server closes
#: the string here instead, and the values still come. Normal reasoning stays far below (how often and
#: how long: docs/decisions/answers-and-questions.md).
REASONING_CHARS = 1000


def answer_schema(params: Sequence[ParamSpec], values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"reasoning": str, "suggestion": {name: value|null}}``; reasoning first, so the model thinks first."""
    return {
        "type": "object",
        "properties": {
            "reasoning": {"type": "string", "maxLength": REASONING_CHARS},
            "suggestion": {
                "type": "object",
                "properties": {p.name: value_schema(p, values[p.name]) for p in params},
                "required": [p.name for p in params],
                "additionalProperties": False,
            },
        },
        "required": ["reasoning", "suggestion"],
        "additionalProperties": False,
    }
