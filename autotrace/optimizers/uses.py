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

#: An input shorter than this is a word or a label, which a good text may well name; longer, and a
#: text quoting it was written for that input. The start of a longer one is enough to tell.
MIN_QUOTE, QUOTE_CHARS = 24, 60


def uses_of(graph: nx.DiGraph, spec: ParamSpec, value: Any) -> list[str]:
    """One line per recorded call that used the parameter, in call order: a function's own calls
    (``calc.half(x=3) returned 1``); the calls a text was passed to, the argument named by the
    parameter (``app.ask(prompt=app.PROMPT, word='yes') returned 'YES'``), else the calls that read it."""
    node = f"param:{spec.name}"
    readers = [n for n in graph.successors(node) if graph.nodes[n].get("kind") == "call"] if node in graph else []
    passed = None
    if spec.kind is ParamKind.CODE:
        chosen = [n for n in readers if graph.nodes[n].get("func") == spec.name]
    else:
        passed = short_repr(value, ARG_REPR_LIMIT)
        chosen = _calls_given(graph, passed) or readers
    chosen.sort(key=lambda n: graph.nodes[n].get("seq", 0))
    return [call_line(graph, n, spec.name, passed) for n in chosen]


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


def call_line(graph: nx.DiGraph, call: Hashable, name: str, passed: str | None) -> str:
    """A recorded call as one line, ``module.f(x=3) returned 1`` or ``... raised ValueError: ...``; an
    argument recorded as ``passed`` (a text parameter's value) is shown as the parameter ``name``."""
    attrs = graph.nodes[call]
    args = ", ".join(f"{arg}={name if text == passed else text}" for arg, text in (attrs.get("args") or {}).items())
    head = f"{attrs.get('func', '?')}({args})"
    errors = [graph.nodes[e] for e, role in graph.succ[call].items() if role.get("role") == "raised"]
    if errors:
        return f"{head} raised {errors[0].get('exc_type', 'an exception')}: {errors[0].get('message', '')}"
    if attrs.get("error"):
        return f"{head} raised an exception"
    return f"{head} returned {attrs.get('value', '?')}"
