"""The execution DAG: what one run of the user's program did, as a ``networkx.DiGraph``.

Edges point from a dependency to what depends on it (parameter → call that reads it → caller →
output), so ``nx.ancestors(G, "output")`` is everything the output depends on.

Node attributes (every node has ``kind`` and ``label``; ``value`` is a truncated ``repr``):

======== ====================================================================================
kind     further attributes
======== ====================================================================================
param    ``param`` (parameter name), ``param_kind`` ("literal" | "code", a
         :class:`~autotrace.params.ParamKind` value), ``description``
input    — (a value that entered the run from outside: an argument of a top-level call)
call     ``func`` (``module.qualname``), ``args`` (name → repr), ``seq`` (call order),
         ``depth``, ``thread``, ``error`` (True when the call raised)
error    ``exc_type``, ``message``, ``traceback`` (user frames only)
output   — (the entry's return value; ``value`` is its repr)
======== ====================================================================================

Edge attribute ``role``: ``"reads"`` (param → call whose code reads it), ``"arg:NAME"`` (producer →
call that received its value as argument NAME), ``"nested"`` (callee → caller: the callee's result
was returned into the caller's frame), ``"raised"`` (call → error), ``"output"`` (→ output).

Graph attributes: ``functions`` (func name → {"source", "doc", "file", "line"}) and ``output``
(the output node's id, or None when the run raised).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autotrace.text import truncate

if TYPE_CHECKING:  # networkx is imported where a graph is made: a test suite with no DAG to build never loads it
    import networkx as nx

OUTPUT = "output"
#: Characters kept of a value's repr, and of an argument's. Room for the data a model must read (a
#: table of a few dozen rows, a list of test results); the prompt renderer cuts further when a run is
#: too large for its budget.
REPR_LIMIT = 1000
ARG_REPR_LIMIT = 400


def short_repr(value: Any, limit: int = REPR_LIMIT) -> str:
    """``repr`` cut to ``limit`` characters; never raises (a broken ``__repr__`` is shown as such)."""
    try:
        text = repr(value)
    except Exception as exc:  # a user's __repr__ may fail; the graph must still be built
        text = f"<{type(value).__name__} (repr failed: {type(exc).__name__})>"
    return truncate(text, limit)


def new_graph() -> nx.DiGraph:
    import networkx as nx

    return nx.DiGraph(functions={}, output=None)


def to_json(graph: nx.DiGraph) -> dict[str, Any]:
    """JSON-able form: ``{"graph": {...}, "nodes": [{"id", ...attrs}], "edges": [{"source", "target", "role"}]}``."""
    return {
        "graph": dict(graph.graph),
        "nodes": [{"id": node, **attrs} for node, attrs in graph.nodes(data=True)],
        "edges": [{"source": u, "target": v, **attrs} for u, v, attrs in graph.edges(data=True)],
    }


def from_json(data: dict[str, Any]) -> nx.DiGraph:
    import networkx as nx

    graph: nx.DiGraph = nx.DiGraph(**data.get("graph", {}))
    for node in data["nodes"]:
        attrs = dict(node)
        graph.add_node(attrs.pop("id"), **attrs)
    for edge in data["edges"]:
        attrs = dict(edge)
        graph.add_edge(attrs.pop("source"), attrs.pop("target"), **attrs)
    return graph


_DOT_SHAPES = {"param": "box", "input": "ellipse", "call": "box", "error": "octagon", "output": "doubleoctagon"}
_DOT_COLORS = {"param": "lightblue", "input": "white", "call": "white", "error": "salmon", "output": "palegreen"}


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: nx.DiGraph) -> str:
    """Graphviz DOT text (rendered by ``dot -Tsvg``); written by hand so pydot/pygraphviz are not needed."""
    lines = ["digraph autotrace {", "  rankdir=LR;", '  node [fontname="monospace", fontsize=10];']
    for node, attrs in graph.nodes(data=True):
        kind = attrs.get("kind", "call")
        label = f"{attrs.get('label', node)}\n{attrs.get('value', '')[:60]}"
        lines.append(
            f"  {_dot_quote(node)} [label={_dot_quote(label)}, shape={_DOT_SHAPES.get(kind, 'box')}, "
            f"style=filled, fillcolor={_DOT_COLORS.get(kind, 'white')}];"
        )
    for u, v, attrs in graph.edges(data=True):
        role = attrs.get("role", "")
        lines.append(f"  {_dot_quote(u)} -> {_dot_quote(v)} [label={_dot_quote(role)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def export(graph: nx.DiGraph, path: Path) -> None:
    """Write the graph as DOT (``.dot``/``.gv``) or JSON (``.json``), chosen by the file's suffix."""
    suffix = path.suffix.lower()
    if suffix in (".dot", ".gv"):
        path.write_text(to_dot(graph), encoding="utf-8")
    elif suffix == ".json":
        path.write_text(json.dumps(to_json(graph), indent=1), encoding="utf-8")
    else:
        raise ValueError(f"{path}: graph export needs a .dot, .gv or .json file name")


def summary(graph: nx.DiGraph) -> str:
    """One line per node kind, e.g. ``12 nodes: 2 param, 1 input, 8 call, 1 output; 14 edges``."""
    counts: dict[str, int] = {}
    for _, attrs in graph.nodes(data=True):
        counts[attrs["kind"]] = counts.get(attrs["kind"], 0) + 1  # every node has a kind
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    return f"{graph.number_of_nodes()} nodes: {kinds}; {graph.number_of_edges()} edges"
