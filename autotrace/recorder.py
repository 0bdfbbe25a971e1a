"""The execution recorder: what rewritten functions call, and the DAG built from it afterwards.

The hot path (one recorded call) does as little as possible: it appends a small list to the
recorder and keeps references to the arguments and the result. Everything that costs — binding
arguments to names, finding producers of values, formatting tracebacks — happens once, after the
run, in :func:`build_graph`. Keeping references alive for the run means object identities are never
reused, so an identity match between a result and a later argument is a real data flow, except for
objects Python shares between unrelated computations (small ints, ``None``, interned strings, code
constants), which never produce an edge.
"""

from __future__ import annotations

import inspect
import itertools
import os
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import CodeType, FunctionType
from typing import Any

import networkx as nx

from . import graph as g

# Layout of one recorded call (a list, because it is built on the hot path).
META, FUNC, ARGS, KWARGS, PARENT, START, END, RESULT, ERROR, YIELDS, THREAD = range(11)
_PENDING = object()

#: The call whose body is running in this thread / task (threads start with an empty context, asyncio
#: tasks copy their creator's), so nesting never mixes threads and follows tasks to their creator.
current_call: ContextVar[list | None] = ContextVar("autotrace_current_call", default=None)
_clock = itertools.count()


def _hidden_dirs() -> tuple[str, ...]:
    """Folders whose frames are never the user's: autotrace's own packages (in an editable install
    ``autotrace.transforms`` and ``autotrace.runners`` live beside ``autotrace/``, next to the user's
    examples) and the test runner's (pytest, pluggy), located without importing them."""
    import importlib.util

    dirs = []
    for name in ("autotrace", "autotrace.transforms", "autotrace.runners", "_pytest", "pluggy"):
        spec = importlib.util.find_spec(name)
        dirs.extend((spec.submodule_search_locations or ()) if spec is not None else ())
    return tuple(os.path.join(os.path.realpath(d), "") for d in dirs)


_HIDDEN_DIRS = _hidden_dirs()


@dataclass(frozen=True)
class FunctionMeta:
    """What the transformer knew statically about one function definition."""

    func: str  # module.qualname
    reads: tuple[str, ...]  # parameters its body reads
    default_reads: Mapping[str, tuple[str, ...]]  # argument -> parameters its default value read
    param: str | None  # the code parameter this function is, if any


class Recorder:
    """Collects the calls of one run. Activated through :class:`autotrace.runtime.Runtime`.

    With a ``limit``, only the first ``limit`` calls are kept (a loop of millions of calls must not
    hold millions of argument tuples); a later call gets a record that is filled in and dropped, and
    ``dropped`` counts them.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.calls: list[list] = []
        self.limit = limit
        self.dropped = 0

    def new_call(self, meta: FunctionMeta, func: Callable, args: tuple, kwargs: dict) -> list:
        if self.limit is not None and len(self.calls) >= self.limit:
            self.dropped += 1
            return [None] * (THREAD + 1)
        call = [meta, func, args, kwargs, current_call.get(), next(_clock), None, _PENDING, None, None,
                threading.get_ident()]
        self.calls.append(call)
        return call


def _shared_identity(value: Any) -> bool:
    """Objects that CPython hands out to unrelated computations, so ``is`` proves nothing about them."""
    kind = type(value)
    if value is None or kind is bool or value is Ellipsis or value is NotImplemented:
        return True
    if kind is int:
        return -5 <= value <= 256
    if kind is str:
        return len(value) <= 1 or value.isidentifier()
    if kind in (bytes, tuple, frozenset):
        return len(value) <= 1 if kind is bytes else len(value) == 0
    return False


_const_cache: dict[CodeType, frozenset[int]] = {}


def _code_constant_ids(func: Callable) -> frozenset[int]:
    """ids of the constants in a function's code (merged across a module by the compiler)."""
    code = getattr(inspect.unwrap(func), "__code__", None)
    if code is None:
        return frozenset()
    cached = _const_cache.get(code)
    if cached is None:
        ids: set[int] = set()
        pending = [code]
        while pending:
            current = pending.pop()
            for const in current.co_consts:
                ids.add(id(const))
                if isinstance(const, CodeType):
                    pending.append(const)
                elif isinstance(const, (tuple, frozenset)):
                    ids.update(id(c) for c in const)
        cached = _const_cache[code] = frozenset(ids)
    return cached


_signature_cache: dict[Any, inspect.Signature | None] = {}


_positional_names: dict[CodeType, tuple[tuple[str, ...], int] | None] = {}
_SPECIAL_FLAGS = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS


def _bind_positional(target: Any, args: tuple, kwargs: dict) -> tuple[dict[str, Any], set[str]] | None:
    """What :func:`bind_arguments` gives, computed from the code object alone when every parameter is
    positional (no ``*args``, ``**kwargs`` or keyword-only ones): ``Signature.bind`` costs ~10x more
    and was most of the DAG-building time on real suites. None when this shortcut does not apply."""
    if type(target) is not FunctionType or "__signature__" in target.__dict__:
        return None
    code = target.__code__
    shape = _positional_names.get(code, _PENDING)
    if shape is _PENDING:
        shape = None if code.co_flags & _SPECIAL_FLAGS or code.co_kwonlyargcount else (
            code.co_varnames[:code.co_argcount], code.co_posonlyargcount)
        _positional_names[code] = shape
    if shape is None:
        return None
    names, posonly = shape
    if len(args) > len(names) or any(k not in names[max(len(args), posonly):] for k in kwargs):
        return None
    defaults = target.__defaults__ or ()
    first_default = len(names) - len(defaults)
    named: dict[str, Any] = {}
    for i, name in enumerate(names):
        if i < len(args):
            named[name] = args[i]
        elif name in kwargs:
            named[name] = kwargs[name]
        elif i >= first_default:
            named[name] = defaults[i - first_default]
        else:
            return None  # a missing argument: the general path decides
    return named, {*names[:len(args)], *kwargs}


def bind_arguments(func: Callable, args: tuple, kwargs: dict) -> tuple[dict[str, Any], set[str]]:
    """Arguments by parameter name, and the names the caller passed explicitly (defaults excluded)."""
    target = inspect.unwrap(func)
    fast = _bind_positional(target, args, kwargs)
    if fast is not None:
        return fast
    sig = _signature_cache.get(target, _PENDING)
    if sig is _PENDING:
        try:
            sig = inspect.signature(target)
        except (TypeError, ValueError):
            sig = None
        _signature_cache[target] = sig
    if sig is not None:
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError:
            pass
        else:
            explicit = set(bound.arguments)
            bound.apply_defaults()
            named: dict[str, Any] = {}
            for name, value in bound.arguments.items():
                kind = sig.parameters[name].kind
                if kind is inspect.Parameter.VAR_POSITIONAL:
                    named.update({f"{name}[{i}]": v for i, v in enumerate(value)})
                elif kind is inspect.Parameter.VAR_KEYWORD:
                    named.update(value)
                else:
                    named[name] = value
            return named, explicit
    named = {f"arg{i}": v for i, v in enumerate(args)}
    named.update(kwargs)
    return named, set(named)


def _values_in(value: Any) -> Iterable[Any]:
    """The value and, one level down, the items of a list/tuple/dict/set it is (where flows usually hide)."""
    yield value
    kind = type(value)
    if kind in (list, tuple, set, frozenset):
        yield from itertools.islice(value, 64)
    elif kind is dict:
        yield from itertools.islice(value.values(), 64)


def user_traceback(exc: BaseException, limit: int = 12) -> str:
    """The exception's traceback without autotrace's own frames (wrappers, the worker) or pytest's."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_HIDDEN_DIRS)]
    lines = traceback.StackSummary.from_list(frames[-limit:]).format()
    lines += traceback.format_exception_only(type(exc), exc)
    return "Traceback (most recent call last):\n" + "".join(lines)


@dataclass
class ParamNode:
    name: str
    value: Any  # the literal's value, or the function's source for code
    kind: str
    description: str = ""


@dataclass
class RunOutcome:
    """How the entry call ended: ``entry`` is its index in ``Recorder.calls`` (None if not recorded)."""

    entry: int | None
    output: Any = None
    error: BaseException | None = None
    inputs: Sequence[Any] = field(default_factory=tuple)


def build_graph(recorder: Recorder, params: Sequence[ParamNode], outcome: RunOutcome) -> nx.DiGraph:
    """The DAG of one run (schema in :mod:`autotrace.graph`)."""
    G = g.new_graph()
    calls = recorder.calls
    index = {id(call): i for i, call in enumerate(calls)}
    known_params = {p.name for p in params}
    for p in params:
        G.add_node(f"param:{p.name}", kind="param", label=p.name, param=p.name, param_kind=p.kind,
                   description=p.description, value=p.value if p.kind == "code" else g.short_repr(p.value, 400))

    producers: dict[int, list[tuple[int, int]]] = {}  # id(value) -> [(end clock, call index)]
    children_errors: set[tuple[int, int]] = set()  # (parent index, id(exc)) seen in a child
    functions: dict[str, dict[str, Any]] = G.graph["functions"]
    inputs = 0
    for i, call in enumerate(calls):
        meta: FunctionMeta = call[META]
        node = f"call:{i}"
        named, explicit = bind_arguments(call[FUNC], call[ARGS], call[KWARGS])
        parent = index.get(id(call[PARENT])) if call[PARENT] is not None else None
        result = call[RESULT]
        G.add_node(node, kind="call", label=meta.func, func=meta.func, seq=i, thread=call[THREAD],
                   depth=_depth(call), error=call[ERROR] is not None,
                   args={k: g.short_repr(v, 120) for k, v in named.items()},
                   value=g.short_repr(result) if result is not _PENDING else "<no result>")
        if meta.func not in functions:
            functions[meta.func] = _function_info(call[FUNC])
        reads = set(meta.reads)
        for arg, names in meta.default_reads.items():
            if arg not in explicit:
                reads.update(names)
        if meta.param:
            reads.add(meta.param)
        for name in sorted(reads & known_params):
            G.add_edge(f"param:{name}", node, role="reads")
        if parent is not None:
            G.add_edge(node, f"call:{parent}", role="nested")
        for arg, value in named.items():
            producer = _producer(producers, value, call[START])
            if producer is not None:
                G.add_edge(f"call:{producer}", node, role=f"arg:{arg}")
            elif parent is None and arg in explicit:
                G.add_node(f"input:{inputs}", kind="input", label=f"input{inputs}", value=g.short_repr(value))
                G.add_edge(f"input:{inputs}", node, role=f"arg:{arg}")
                inputs += 1
        produced = list(call[YIELDS] or ())  # (clock, value) for each item a generator yielded
        if result is not _PENDING and call[END] is not None:
            produced.append((call[END], result))
        if produced:
            constants = _code_constant_ids(call[FUNC])
            for clock, value in produced:
                for item in _values_in(value):
                    if not _shared_identity(item) and id(item) not in constants:
                        producers.setdefault(id(item), []).append((clock, i))
        exc = call[ERROR]
        if exc is not None and parent is not None:
            children_errors.add((parent, id(exc)))

    for i, call in enumerate(calls):
        exc = call[ERROR]
        if exc is not None and (i, id(exc)) not in children_errors:
            G.add_node(f"error:{i}", kind="error", label=type(exc).__name__, exc_type=type(exc).__name__,
                       message=str(exc)[:500], traceback=user_traceback(exc), value=g.short_repr(exc))
            G.add_edge(f"call:{i}", f"error:{i}", role="raised")

    G.add_node(g.OUTPUT, kind="output", label="output",
               value=g.short_repr(outcome.output) if outcome.error is None else f"raised {g.short_repr(outcome.error)}")
    G.graph["output"] = g.OUTPUT
    if outcome.entry is not None:
        origin = _error_origin(G, calls, outcome) if outcome.error is not None else None
        G.add_edge(origin or f"call:{outcome.entry}", g.OUTPUT, role="output")
    return G


def _error_origin(G: nx.DiGraph, calls: list[list], outcome: RunOutcome) -> str | None:
    for i, call in enumerate(calls):
        if call[ERROR] is outcome.error and G.has_node(f"error:{i}"):
            return f"error:{i}"
    return None


def _producer(producers: dict[int, list[tuple[int, int]]], value: Any, start: int) -> int | None:
    """The latest call that returned ``value`` (by identity) and finished before ``start``."""
    best = None
    for item in _values_in(value):
        for end, i in producers.get(id(item), ()):
            if end < start and (best is None or end > best[0]):
                best = (end, i)
        if best is not None:
            break
    return best[1] if best else None


def _depth(call: list) -> int:
    depth = 0
    while call[PARENT] is not None:
        depth += 1
        call = call[PARENT]
    return depth


_info_cache: dict[CodeType, dict[str, Any]] = {}


def _function_info(func: Callable) -> dict[str, Any]:
    """Source, docstring and location of a function (per code object: ``inspect.getsource`` for every
    function of every test's DAG was a sizeable share of the DAG-building time on real suites)."""
    target = inspect.unwrap(func)
    code = getattr(target, "__code__", None)
    cached = _info_cache.get(code) if isinstance(code, CodeType) else None
    if cached is None:
        cached = _function_info_uncached(target)
        if isinstance(code, CodeType):
            _info_cache[code] = cached
    return dict(cached)


def _function_info_uncached(target: Any) -> dict[str, Any]:
    try:
        source = inspect.getsource(target)
    except (OSError, TypeError):
        source = ""
    code = getattr(target, "__code__", None)
    return {"source": source, "doc": inspect.getdoc(target) or "",
            "file": code.co_filename if code else "", "line": code.co_firstlineno if code else 0}
