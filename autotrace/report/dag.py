"""One recorded run's DAG as a small picture: summarised first, then drawn by Graphviz or by hand.

A program can make 10,000 recorded calls; a page with 10,000 boxes says nothing and weighs megabytes.
As the prompt renderer does (:mod:`autotrace.optimizers.render`), the picture keeps what explains the
output: the parameters, the calls on a path from a parameter to the output or an error (and every call
that reads a parameter), the errors and the output; of each function's many calls the first and last
:data:`KEEP` stay and the rest become one "… N more calls of f" box that takes over their edges.

With ``dot`` on the PATH the summary is laid out by Graphviz (``dot -Tsvg``); without it, by
:func:`layered_layout` (longest-path layers, drawn by the page's template as boxes and lines).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass

import networkx as nx

from autotrace.text import truncate

#: Boxes drawn at most, and the calls of one function kept at each end of its run of calls.
MAX_NODES = 40
KEEP = 2
_LABEL_CHARS = 40  # characters of a value shown in a box
_DOT_TIMEOUT = 20.0
_SVG_START = re.compile(r"<svg\b", re.IGNORECASE)
_XML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def summarise(graph: nx.DiGraph, max_nodes: int = MAX_NODES) -> tuple[nx.DiGraph, int]:
    """The graph to draw (nodes ``n0``, ``n1`` … with ``kind``, ``label``, ``value``) and how many of
    the original's nodes it leaves out or folds into summary boxes. Calls off the parameters' paths
    are folded into one box per function (the largest ones, when there are many functions)."""
    attrs = dict(graph.nodes(data=True))
    calls = sorted((n for n, a in attrs.items() if a.get("kind") == "call"), key=lambda n: _seq(attrs[n]))
    params = [n for n, a in attrs.items() if a.get("kind") == "param"]
    sinks = [n for n, a in attrs.items() if a.get("kind") in ("output", "error")]
    forward = set(params).union(*(nx.descendants(graph, p) for p in params))
    backward = set(sinks).union(*(nx.ancestors(graph, s) for s in sinks))
    readers = {v for u, v in graph.edges() if attrs[u].get("kind") == "param"}
    relevant = [c for c in calls if (c in forward and c in backward) or c in readers]
    if not relevant:  # nothing links a parameter to the output (e.g. the parameter is unused): show the calls
        relevant = calls
    others = [n for n, a in attrs.items() if a.get("kind") == "input"][:5]
    room = max(max_nodes - len(params) - len(sinks) - len(others), 3)
    keep = KEEP
    while True:
        kept, group = _fold(relevant, attrs, keep, readers)
        if len(kept) + len(set(group.values())) <= room or keep == 0:
            break
        keep -= 1
    on_path = set(relevant)
    for call in calls:  # the calls off the parameters' paths: one box per function, edges kept
        if call not in on_path:
            group[call] = _func(attrs[call])
    sizes = Counter(group.values())
    boxes = min(len(sizes), max(room // 3, 1))  # the largest groups, when there are many functions
    shown_groups = {name for name, _ in sizes.most_common(boxes)}
    group = {call: name for call, name in group.items() if name in shown_groups}
    if len(kept) > room - len(shown_groups):  # many distinct functions: head and tail of the calls
        half = max(room - len(shown_groups), 2)
        kept = kept[: half // 2] + kept[-(half - half // 2):]
    shown = [*params, *others, *kept, *sinks]
    ids = {node: f"n{i}" for i, node in enumerate(shown)}
    small: nx.DiGraph = nx.DiGraph()
    for node in shown:
        a = attrs[node]
        small.add_node(ids[node], kind=a.get("kind", "call"), label=str(a.get("label", node)),
                       value=truncate(str(a.get("value", "")), _LABEL_CHARS) if "value" in a else "")
    drawn = {_func(attrs[c]) for c in kept}
    for i, (name, count) in enumerate(Counter(group.values()).items()):
        ids_group = f"g{i}"
        more = "more calls" if name in drawn else ("calls" if count > 1 else "call")
        small.add_node(ids_group, kind="summary", label=f"… {count:,} {more} of {name}", value="")
        for node, func in group.items():
            if func == name:
                ids[node] = ids_group
    for u, v in graph.edges():
        a, b = ids.get(u), ids.get(v)
        if a is not None and b is not None and a != b:
            small.add_edge(a, b)
    return small, graph.number_of_nodes() - len(shown)


def _fold(calls: list[Hashable], attrs: dict, keep: int, must: set[Hashable]) -> tuple[list[Hashable], dict]:
    """The calls kept (first and last ``keep`` of each function, and every reader of a parameter when
    ``keep`` > 0) and the others mapped to their function's summary box."""
    funcs = [_func(attrs[c]) for c in calls]
    totals = Counter(funcs)
    seen: Counter[str] = Counter()
    kept: list[Hashable] = []
    group: dict[Hashable, str] = {}
    for call, func in zip(calls, funcs, strict=True):
        i = seen[func]
        seen[func] += 1
        if totals[func] <= 2 * keep + 1 or i < keep or i >= totals[func] - keep or (keep and call in must):
            kept.append(call)
        else:
            group[call] = func
    return kept, group


def _func(attrs: dict) -> str:
    return str(attrs.get("func", attrs.get("label", "?")))


def _seq(attrs: dict) -> float:
    seq = attrs.get("seq")
    return float(seq) if isinstance(seq, int) else float("inf")


def box_text(attrs: dict) -> str:
    """What a box says: the node's label, and its value on a second line."""
    value = attrs.get("value", "")
    return f"{attrs.get('label', '')}\n{value}" if value else str(attrs.get("label", ""))


def graphviz_svg(small: nx.DiGraph) -> str | None:
    """The summary laid out by ``dot -Tsvg`` (its ``<svg>`` element alone, comments removed), or None
    when Graphviz is not installed or fails. Graphviz escapes the labels it writes into the SVG."""
    dot = shutil.which("dot")
    if dot is None:
        return None
    try:
        done = subprocess.run([dot, "-Tsvg"], input=to_dot(small), capture_output=True, text=True,
                              timeout=_DOT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    start = _SVG_START.search(done.stdout)
    if done.returncode != 0 or start is None:
        return None
    return _XML_COMMENT.sub("", done.stdout[start.start():]).strip()


_SHAPES = {"param": "box", "input": "ellipse", "call": "box", "error": "octagon", "output": "doubleoctagon",
           "summary": "note"}
_FILLS = {"param": "#dbeafe", "input": "#ffffff", "call": "#ffffff", "error": "#fecaca", "output": "#dcfce7",
          "summary": "#f3f4f6"}


def to_dot(small: nx.DiGraph) -> str:
    """DOT text of a summary (its node ids are ours, ``n0``/``g0``: only labels carry the program's text)."""
    lines = ["digraph dag {", "  rankdir=LR;", '  bgcolor="transparent";',
             '  node [fontname="monospace", fontsize=10, style="filled,rounded"];', "  edge [color=\"#6b7280\"];"]
    for node, attrs in small.nodes(data=True):
        kind = attrs.get("kind", "call")
        lines.append(f"  {node} [label={_dot_quote(box_text(attrs))}, shape={_SHAPES.get(kind, 'box')}, "
                     f"fillcolor=\"{_FILLS.get(kind, '#ffffff')}\"];")
    lines += [f"  {u} -> {v};" for u, v in small.edges()]
    return "\n".join([*lines, "}"]) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@dataclass(frozen=True)
class Box:
    id: str
    kind: str
    lines: tuple[str, ...]
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Layout:
    """A plain left-to-right drawing of a summary, for when Graphviz is not installed."""

    width: float
    height: float
    boxes: tuple[Box, ...]
    lines: tuple[Line, ...]


_CHAR_W, _LINE_H, _PAD, _GAP_X, _GAP_Y = 6.6, 14.0, 6.0, 50.0, 14.0


def layered_layout(small: nx.DiGraph) -> Layout:
    """Columns by longest path from a source (a DAG's natural layers), boxes stacked in each column."""
    order = list(nx.topological_sort(small)) if nx.is_directed_acyclic_graph(small) else list(small)
    layer: dict[str, int] = {}
    for node in order:
        layer[node] = max((layer.get(p, 0) + 1 for p in small.predecessors(node) if p in layer), default=0)
    columns: dict[int, list[str]] = {}
    for node in order:
        columns.setdefault(layer[node], []).append(node)
    boxes: dict[str, Box] = {}
    x = _PAD
    height = 0.0
    for index in sorted(columns):
        texts = {n: tuple(box_text(small.nodes[n]).split("\n")) for n in columns[index]}
        width = max(len(line) for lines in texts.values() for line in lines) * _CHAR_W + 2 * _PAD
        y = _PAD
        for node in columns[index]:
            h = len(texts[node]) * _LINE_H + 2 * _PAD
            boxes[node] = Box(node, small.nodes[node].get("kind", "call"), texts[node], x, y, width, h)
            y += h + _GAP_Y
        height = max(height, y)
        x += width + _GAP_X
    lines = tuple(Line(boxes[u].x + boxes[u].width, boxes[u].y + boxes[u].height / 2,
                       boxes[v].x, boxes[v].y + boxes[v].height / 2) for u, v in small.edges())
    return Layout(max(x - _GAP_X + _PAD, 1.0), max(height, 1.0), tuple(boxes.values()), lines)


@dataclass(frozen=True)
class Drawing:
    """A DAG ready for the page: Graphviz's SVG (``svg``) or a plain layout, and what was left out."""

    svg: str | None
    layout: Layout | None
    nodes: int  # nodes of the recorded graph
    omitted: int  # of those, not drawn as their own box
    engine: str  # "graphviz" or "plain"


def draw(graph: nx.DiGraph, *, use_graphviz: bool = True) -> Drawing:
    small, omitted = summarise(graph)
    svg = graphviz_svg(small) if use_graphviz else None
    if svg is not None:
        return Drawing(svg, None, graph.number_of_nodes(), omitted, "graphviz")
    return Drawing(None, layered_layout(small), graph.number_of_nodes(), omitted, "plain")
