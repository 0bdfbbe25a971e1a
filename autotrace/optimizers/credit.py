"""Credit from the recorded graphs: which parameters the wrong outputs came from (the backward pass).

For each example that scored below the best (or raised), its recorded DAG is walked back from the
output, which is the exception's node when the run raised. A parameter is implicated *directly* in
that example when a call of it (a function's own call; a call reading a text or number) returned a
value that flowed into the output: along an argument (``arg:``), into the exception its call raised,
returned into its caller and returned on (:func:`carries`), or returned into the frame that raised
the exception (``assert total() == 11`` in a test: a result, not None, the raising code had in hand).
It is implicated *indirectly* when
the walk reaches it only further up: a call the output depends on in the graph (``nx.ancestors``:
it ran inside a call on the path, or fed one) whose result is not seen in what reached the output,
such as a method that changed an object's state (returning None) which a later method read; with
an exception, the calls it passed through count as on the path too. The parameters are ordered by the
failing examples implicating them directly, then indirectly: the asks of a step go down this list
(:mod:`.focus`), and the whole-problem prompt names it (:mod:`.render`).

Nothing is run again: everything is read from graphs the loop recorded already. The recorder draws
an argument edge only between values of the same identity, and never for small ints, interned
strings, None or booleans (:mod:`autotrace.recorder`), which are what most functions of a small
program return; so a result is also taken to flow into a later call made by the same caller when
its ``repr`` is exactly one of that call's arguments.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx

from autotrace.evaluation import Feedback
from autotrace.graph import OUTPUT
from autotrace.optimizers.uses import call_line
from autotrace.params import ParamKind

#: Recorded values that carry nothing onward: a call that returned None changed state, if anything.
_NOTHING = frozenset({"None", "<no result>"})
#: Around an item of a container's or a call's repr: what may come right before it and right after it.
_BEFORE, _AFTER = "[({ ", ",)]}:"


@dataclass(frozen=True)
class Reached:
    """One call of a parameter whose result reached a wrong output: in which example (numbered from 1
    in the feedback's order), the call as :func:`autotrace.optimizers.uses.call_line` writes it, and
    the output (its recorded repr, or ``raised ...``)."""

    example: int
    call: str
    output: str


@dataclass(frozen=True)
class Implicated:
    """A parameter the failing examples point at: in how many of them a call of it returned a value
    that reached the output (``direct``), in how many it was reached only through state or further up
    (``indirect``), and its calls whose results reached a wrong output, in example and call order."""

    name: str
    direct: int
    indirect: int
    reached: tuple[Reached, ...]

    @property
    def weight(self) -> tuple[int, int]:
        """The sort key, higher first: direct credit outranks any amount of indirect credit, because
        a value seen reaching the output is evidence, a call upstream only a possibility."""
        return (self.direct, self.indirect)


def implicated(feedback: Sequence[Feedback]) -> tuple[Implicated, ...]:
    """The parameters the failing examples of ``feedback`` implicate, most implicated first (ties in
    the order the graphs list the parameters); none when no failing example was recorded."""
    direct: dict[str, int] = {}
    indirect: dict[str, int] = {}
    reached: dict[str, list[Reached]] = {}
    order: dict[str, int] = {}
    for number in failing(feedback):
        graph = feedback[number - 1].graph
        assert graph is not None  # failing() keeps recorded examples only
        first, later, calls = _walk(graph)
        output = str(graph.nodes[OUTPUT].get("value", "?"))
        for name in _params(graph):
            order.setdefault(name, len(order))
        for name in first:
            direct[name] = direct.get(name, 0) + 1
            reached.setdefault(name, []).extend(Reached(number, line, output) for line in calls[name])
        for name in later:
            indirect[name] = indirect.get(name, 0) + 1
    credit = [Implicated(name, direct.get(name, 0), indirect.get(name, 0), tuple(reached.get(name, ())))
              for name in order if name in direct or name in indirect]
    return tuple(sorted(credit, key=lambda c: (-c.direct, -c.indirect, order[c.name])))


def failing(feedback: Sequence[Feedback]) -> list[int]:
    """The numbers (from 1) of the recorded examples that raised, were not scored, or scored below the
    best example; all recorded ones when they scored alike (the loop asks only while the values fall
    short, so equal scores are equally wrong)."""
    recorded = [(i, f.score, f.graph) for i, f in enumerate(feedback, 1) if f.graph is not None and OUTPUT in f.graph]
    scores = [score for _, score, _ in recorded if score is not None]
    best = max(scores, default=None)
    below = [i for i, score, graph in recorded
             if score is None or (best is not None and score < best) or _raised(graph)]
    return below or [i for i, _, _ in recorded]


def carries(inner: str, outer: str) -> bool:
    """Whether a caller that returned ``outer`` (a recorded repr) returned on what its call returned
    as ``inner``: the same repr, or an item of it (``4`` in ``[13, 4]``, not in ``[14]``)."""
    if inner in _NOTHING:
        return False
    if inner == outer:
        return True
    start = outer.find(inner)
    while start >= 0:
        end = start + len(inner)
        if (start == 0 or outer[start - 1] in _BEFORE) and (end == len(outer) or outer[end] in _AFTER):
            return True
        start = outer.find(inner, start + 1)
    return False


def _params(graph: nx.DiGraph) -> list[str]:
    return [str(data.get("param") or node) for node, data in graph.nodes(data=True) if data.get("kind") == "param"]


def _raised(graph: nx.DiGraph) -> bool:
    return any(graph.nodes[n].get("kind") == "error" for n in graph.predecessors(OUTPUT))


def _walk(graph: nx.DiGraph) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """One failing run: the parameters implicated directly, those implicated only indirectly, and
    per direct one the lines of its calls whose results reached the output (in call order)."""
    attrs: Mapping[Hashable, Mapping] = graph.nodes
    parent: dict[Hashable, Hashable] = {}
    children: dict[Hashable, list[Hashable]] = {}
    for source, target, role in graph.edges(data="role", default=""):
        if role == "nested":
            parent[source] = target
            children.setdefault(target, []).append(source)
    flowed = _flowed(graph, parent, children)
    path = set(flowed)
    for node in list(flowed):  # an exception passed through its raiser's callers on its way out
        if attrs[node].get("kind") == "error":
            path.update(_callers(graph, node, parent))
    upstream = _reach(graph, path)
    first: list[str] = []
    later: list[str] = []
    calls: dict[str, list[str]] = {}
    for node, data in graph.nodes(data=True):
        if data.get("kind") != "param":
            continue
        name = str(data.get("param") or node)
        own = sorted(_calls_of(graph, node, name, data), key=lambda c: attrs[c].get("seq", 0))
        mine = [c for c in own if c in flowed]
        if mine:
            first.append(name)
            calls[name] = [call_line(graph, c, name, None) for c in mine]
        elif any(c in upstream for c in own):
            later.append(name)
    return first, later, calls


def _flowed(graph: nx.DiGraph, parent: Mapping[Hashable, Hashable],
            children: Mapping[Hashable, list[Hashable]]) -> set[Hashable]:
    """The nodes whose value flowed into the output: back from it along argument, ``raised`` and
    ``output`` edges, nested calls whose caller returned their result on or raised the exception
    (a result other than None), and earlier calls of the same caller whose result is, by its repr,
    an argument of a call that flowed."""
    attrs = graph.nodes
    raisers = {source for source, _, role in graph.edges(data="role", default="") if role == "raised"}
    by_value: dict[Hashable, dict[str, list[Hashable]]] = {}  # caller -> its calls' results by repr, built once
    seen: set[Hashable] = {OUTPUT}
    queue = deque(seen)
    while queue:
        node = queue.popleft()
        found: list[Hashable] = []
        for source, edge in graph.pred[node].items():
            role = str(edge.get("role", ""))
            if role.startswith("arg:") or role in ("raised", "output"):
                found.append(source)
            elif role == "nested":
                value = str(attrs[source].get("value", ""))
                if carries(value, str(attrs[node].get("value", ""))) or (node in raisers and value not in _NOTHING):
                    found.append(source)
        args = set((attrs[node].get("args") or {}).values()) - _NOTHING
        if args and node in parent:
            if parent[node] not in by_value:
                results: dict[str, list[Hashable]] = {}
                for call in children[parent[node]]:
                    results.setdefault(str(attrs[call].get("value")), []).append(call)
                by_value[parent[node]] = results
            seq = attrs[node].get("seq", 0)
            found += [c for arg in args for c in by_value[parent[node]].get(arg, ())
                      if attrs[c].get("seq", 0) < seq]
        for source in found:
            if source not in seen:
                seen.add(source)
                queue.append(source)
    return seen


def _reach(graph: nx.DiGraph, starts: Iterable[Hashable]) -> set[Hashable]:
    """``starts`` and everything they depend on (their ancestors), in one walk."""
    seen = set(starts)
    queue = deque(seen)
    while queue:
        for source in graph.predecessors(queue.popleft()):
            if source not in seen:
                seen.add(source)
                queue.append(source)
    return seen


def _callers(graph: nx.DiGraph, error: Hashable, parent: Mapping[Hashable, Hashable]) -> Iterable[Hashable]:
    """The calls an exception passed through: its raiser's callers that raised too, innermost first."""
    call = next((s for s, e in graph.pred[error].items() if e.get("role") == "raised"), None)
    while call is not None and call in parent and graph.nodes[parent[call]].get("error"):
        call = parent[call]
        yield call


def _calls_of(graph: nx.DiGraph, node: Hashable, name: str, data: Mapping) -> list[Hashable]:
    """A parameter's calls: a function's own calls (its callers read its name too, but their results
    are theirs), or the calls that read a text or number."""
    readers = [c for c, e in graph.succ[node].items() if e.get("role") == "reads"]
    if data.get("param_kind") == ParamKind.CODE.value:
        return [c for c in readers if graph.nodes[c].get("func") == name]
    return readers
