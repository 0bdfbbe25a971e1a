"""What the recorded runs did with one parameter, read from their graphs: the calls a function made
and their results, the calls a text was passed to, and the inputs sent together with a text.

The reflective question shows the first (:mod:`.reflect`); the last are what a new text must not
quote (:func:`autotrace.optimizers.validate.validate`)."""

from __future__ import annotations

import ast
from collections.abc import Hashable, Sequence
from typing import Any

import networkx as nx

from autotrace.evaluation import Feedback
from autotrace.graph import ARG_REPR_LIMIT, short_repr
from autotrace.params import ParamKind, ParamSpec
from autotrace.text import truncate

#: An input shorter than this is a word or a label, which a good text may well name; longer, and a
#: text quoting it was written for that input. The start of a longer one is enough to tell.
MIN_QUOTE, QUOTE_CHARS = 24, 60
#: The fewest characters a shortened argument or result keeps (its cut note takes about 16 of them).
_SHORTEST = 40


def uses_of(graph: nx.DiGraph, spec: ParamSpec, value: Any, limit: int | None = None) -> list[str]:
    """One line per recorded call that used the parameter, in call order: a function's own calls
    (``calc.half(x=3) returned 1``); the calls a text was passed to, the argument named by the
    parameter (``app.ask(prompt=app.PROMPT, word='yes') returned 'YES'``), else the calls that read it.
    ``limit``: the characters of a line at most (:func:`call_line`)."""
    node = f"param:{spec.name}"
    readers = [n for n in graph.successors(node) if graph.nodes[n].get("kind") == "call"] if node in graph else []
    passed = None
    if spec.kind is ParamKind.CODE:
        chosen = [n for n in readers if graph.nodes[n].get("func") == spec.name]
    else:
        passed = short_repr(value, ARG_REPR_LIMIT)
        chosen = _calls_given(graph, passed) or readers
    chosen.sort(key=lambda n: graph.nodes[n].get("seq", 0))
    return [call_line(graph, n, spec.name, passed, limit) for n in chosen]


def inputs_beside(spec: ParamSpec, value: Any, feedback: Sequence[Feedback]) -> list[str]:
    """The text arguments the recorded runs passed together with the text ``value`` of ``spec`` (the
    sentences a system prompt was sent with), each at most its first :data:`QUOTE_CHARS` characters:
    what a new text for it must not quote (:func:`autotrace.optimizers.validate.validate`)."""
    if spec.kind is ParamKind.CODE or not isinstance(value, str):
        return []
    passed = short_repr(value, ARG_REPR_LIMIT)
    found: list[str] = []
    for graph in (f.graph for f in feedback if f.graph is not None):
        for call in _calls_given(graph, passed):
            args = graph.nodes[call]["args"].values()
            found += [text for arg in args if arg != passed and (text := _text_start(arg))]
    return list(dict.fromkeys(found))


def _calls_given(graph: nx.DiGraph, passed: str) -> list[Hashable]:
    """The recorded calls one of whose arguments was recorded as ``passed``."""
    return [n for n, a in graph.nodes(data=True)
            if a.get("kind") == "call" and passed in (a.get("args") or {}).values()]


def _text_start(arg_repr: str) -> str | None:
    """The start of the string an argument's recorded ``repr`` shows, long enough to be a real input."""
    try:
        value = ast.literal_eval(arg_repr)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = arg_repr[1:].split("... (", 1)[0] if arg_repr[:1] in "'\"" else None  # cut off by truncate
    return value[:QUOTE_CHARS] if isinstance(value, str) and len(value) >= MIN_QUOTE else None


def call_line(graph: nx.DiGraph, call: Hashable, name: str, passed: str | None, limit: int | None = None) -> str:
    """A recorded call as one line, ``module.f(x=3) returned 1`` or ``... raised ValueError: ...``; an
    argument recorded as ``passed`` (a text parameter's value) is shown as the parameter ``name``.
    With ``limit``, a longer line is shortened to about that many characters by cutting the result to
    half of it and the arguments to share the rest, never cutting off the end: what a call returned
    matters more than the whole of a long argument (a board, a document) it was given."""
    attrs = graph.nodes[call]
    given = [(arg, name if text == passed else text) for arg, text in (attrs.get("args") or {}).items()]
    errors = [graph.nodes[e] for e, role in graph.succ[call].items() if role.get("role") == "raised"]
    if errors:
        tail = f" raised {errors[0].get('exc_type', 'an exception')}: {errors[0].get('message', '')}"
    elif attrs.get("error"):
        tail = " raised an exception"
    else:
        tail = f" returned {attrs.get('value', '?')}"
    func = str(attrs.get("func", "?"))
    line = f"{func}({', '.join(f'{arg}={text}' for arg, text in given)}){tail}"
    if limit is None or len(line) <= limit:
        return line
    tail = truncate(tail, max(limit // 2, _SHORTEST))
    room = limit - len(func) - len(tail) - 2 - sum(len(arg) + 3 for arg, _ in given)
    each = max(room // max(len(given), 1), _SHORTEST)
    return f"{func}({', '.join(f'{arg}={truncate(text, each)}' for arg, text in given)}){tail}"
