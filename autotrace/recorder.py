"""The execution recorder: what rewritten functions call, and the DAG built from it afterwards.

The hot path (one recorded call) does as little as possible: it appends a small list to the
recorder and *holds* the arguments and the result. A plain function calls :meth:`Recorder.enter` from
its own frame with its parameters' values in the order the instrumenting pass knew statically, so they are
named without binding a signature; only wrapped calls (generators, coroutines) are bound afterwards.
Everything else that costs — finding producers of values, formatting values' texts and tracebacks —
happens once, after the run, in :func:`build_graph`. A value's text is read without running the
program's code (:mod:`autotrace.values`): recording must not change what the program does.

Holding a value must not change the program: tests about garbage collection and weak caches
(``weakref``, ``__subclasses__()`` after ``gc.collect()``) must see objects die when the program drops
them, and code that inspects an object (``dir(obj)``, ``obj.__weakref__``, ``weakref.getweakrefcount``)
must find nothing of autotrace's on it. So a builtin object that supports weak references (a function,
a class, a set: none shows a ``__weakref__`` attribute) is held by its plain ``weakref.ref``; an
instance of a user's class (which does show one) is held, like a container, only until its call ends
(below); plain values are kept as they are. Data-flow
edges match values by identity, and identity must survive an object's death without being confused
by a later object at the same address: CPython hands out one
shared callback-less ``weakref.ref`` per live object, and the recorder keeps each ref object alive, so
two records hold the *same ref object* exactly when they held the same object; once the object dies
its ref is dead, a new object at that address gets a new ref, and no edge joins them. A collected
value is shown as ``<collected TypeName>``. What cannot be weakly referenced but may hold other
objects — builtin containers (lists, dicts, and tuples or frozensets holding more than plain numbers
and strings) and instances of a user's class, with or without ``__weakref__`` — is held strongly only
while the call that received or returned it runs: when the
call ends it is *detached* (:class:`Detached`): its text at that moment, its id, and for a container
its first items as held values, for data-flow edges into and out of it. Its identity then rests on
its address, which a later object may take once the program drops it: what a call *returned or
yielded* (what an edge can start from) is therefore kept alive for the recording when that is invisible
to the program, a list, dict or tuple holding only plain values and such containers (a dict's keys
plain, at most :data:`_SCAN_LIMIT` items in all: none can be weakly referenced or has a finalizer; its
snapshot is then a copy to the bottom, its text made when the DAG is built), so a new list is never
linked to a freed result at its address. A result that may hold the program's objects
(or a bigger one) is not kept: a later object at its address could still join a false edge, the price
of letting the program see its objects die. Plain values (numbers, strings, bytes, None) hold nothing
and are kept as they are. (Whether a type supports weak references is read from the type each time,
``__weakrefoffset__``, not cached: a cache keyed by type would keep the user's classes alive, which
attrs' suite checks with ``__subclasses__()``.) Objects Python shares between unrelated computations
(small ints, ``None``, interned strings, code constants) never produce an edge. What stays strong: the
exception a call raised (its message and traceback are formatted after the run; its traceback keeps
its frames' locals), and the values of a call that has not ended when the DAG is built.
"""

from __future__ import annotations

import gc
import inspect
import itertools
import operator
import os
import sys
import threading
import traceback
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import CodeType, FunctionType
from typing import TYPE_CHECKING, Any

from . import graph as g
from .params import ParamKind
from .values import ATOMS, TEXTS, plain_items

if TYPE_CHECKING:
    import networkx as nx

# Layout of one recorded call (a list, because it is built on the hot path):
#   META      the FunctionMeta of the definition
#   CODE      the code object that ran (the user's function's, also for wrapped calls)
#   FUNC      the function, for calls recorded by a wrapper (generators, coroutines, a pytest test
#             function); None for a call recorded inside its own frame
#   ARGS      held values: the parameter values in ``META.params`` order (own-frame calls), the
#             positional arguments (wrapped calls)
#   KWARGS    wrapped calls: the held keyword arguments; own-frame calls: the names of the parameters
#             whose value *is* the function's default object (so the caller did not pass them)
#   PARENT    the enclosing call's record, START/END clock ticks, RESULT (held, or PENDING), ERROR,
#   YIELDS    [(clock, held value)] for generators, THREAD ident, TOKEN the ContextVar token while an
#             own-frame call runs, KINDS the recorder's ``kinds`` (for holding the result), PINNED
#             whether it holds a :class:`Pinned` value, detached when the call ends (:func:`detach`)
META, CODE, FUNC, ARGS, KWARGS, PARENT, START, END, RESULT, ERROR, YIELDS, THREAD, TOKEN, KINDS, PINNED = range(15)
PENDING = object()
_SIZE = PINNED + 1
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement, not a builtin type
_ref = weakref.ref

#: The call whose body is running in this thread / task (threads start with an empty context, asyncio
#: tasks copy their creator's), so nesting never mixes threads and follows tasks to their creator.
current_call: ContextVar[list | None] = ContextVar("autotrace_current_call", default=None)
#: the current call while autotrace itself runs the user's code (a repr when detaching): calls made
#: under it are not recorded
_QUIET: list = []
#: the order of every call's start and end and of every item a generator yields, across recorders
clock = itertools.count()


def _hidden_dirs() -> tuple[str, ...]:
    """Folders whose frames are never the user's: autotrace's own packages (in an editable install
    ``autotrace.transforms`` and ``autotrace.runners`` live beside ``autotrace/``, next to the user's
    examples) and the test runner's (pytest, pluggy), located without importing them."""
    import importlib.util

    dirs: list[str] = []
    for name in ("autotrace", "autotrace.transforms", "autotrace.runners", "_pytest", "pluggy"):
        spec = importlib.util.find_spec(name)
        dirs.extend((spec.submodule_search_locations or ()) if spec is not None else ())
    return tuple(os.path.join(os.path.realpath(d), "") for d in dirs)


_HIDDEN_DIRS = _hidden_dirs()


#: the kinds of parameter in ``FunctionMeta.params``
POSITIONAL, VAR_POSITIONAL, KEYWORD_ONLY, VAR_KEYWORD = range(4)


@dataclass(frozen=True)
class FunctionMeta:
    """What was known statically about one function definition (``transforms/analysis.py``, ``frames.py``)."""

    func: str  # module.qualname
    reads: tuple[str, ...]  # parameters its body reads
    default_reads: Mapping[str, tuple[str, ...]]  # argument -> parameters its default value read
    param: str | None  # the code parameter this function is, if any
    #: for a function recorded inside its own frame: its parameters as (name, kind) in signature
    #: order, kind one of POSITIONAL, VAR_POSITIONAL, KEYWORD_ONLY, VAR_KEYWORD (None: a wrapped one)
    params: tuple[tuple[str, int], ...] | None = None
    has_defaults: bool = False  # some parameter has a default value (own-frame functions)
    #: (index, kind) of the ``*args`` / ``**kwargs`` parameters among ``params``
    var_params: tuple[tuple[int, int], ...] = field(init=False, default=(), compare=False)
    positional: int = field(init=False, default=0, compare=False)  # how many POSITIONAL parameters

    def __post_init__(self) -> None:
        params = self.params or ()
        object.__setattr__(self, "var_params", tuple(
            (i, kind) for i, (_, kind) in enumerate(params) if kind in (VAR_POSITIONAL, VAR_KEYWORD)))
        object.__setattr__(self, "positional", sum(1 for _, kind in params if kind == POSITIONAL))


class _Strong:
    """A held ``weakref.ref`` of the user's, told apart from the recorder's own weak references."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class Pinned:
    """A held value that may hold other objects and cannot be weakly referenced (a container, an
    instance of a user's class without ``__weakref__``): held until its call ends, then detached."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class _Key:
    """An item of a detached container known by its id alone (a nested container or detached object)."""

    __slots__ = ("key",)

    def __init__(self, key: int) -> None:
        self.key = key


_CONTAINERS = (list, dict, set, tuple, frozenset)
_CONTAINER_TYPES = frozenset(_CONTAINERS)
_ITEMS_KEPT = 64  # items of a container that data-flow edges look into (and a detached one keeps)
_NO_KINDS: dict[int, str] = {}
_SCAN_LIMIT = 256  # items looked at to tell a tuple of plain values from one that holds objects
_NESTED = frozenset({list, tuple, dict})  # the containers a result kept alive may hold (:func:`_inert_copy`)


#: While recording (and while a run's DAG is built), full (generation 2) collections wait this many times
#: longer. Every recorded call leaves a record that lives until the run ends, so the records alone push the
#: collector into full collections, which traverse every object of the process and find nothing to free
#: among them (what that costs: docs/decisions/recording-overhead.md). Young garbage is still collected as
#: usual, and an explicit ``gc.collect()`` is a full collection.
GC_FULL_DELAY = 10


class FullCollectionsDelayed:
    """``with FullCollectionsDelayed():`` full collections wait :data:`GC_FULL_DELAY` times longer; the
    threshold is put back on leaving unless something changed it meanwhile, and left alone when the
    program turned automatic collection off."""

    __slots__ = ("thresholds",)

    def __enter__(self) -> None:
        young, middle, full = self.thresholds = gc.get_threshold()
        if young:  # 0: the program turned automatic collection off
            gc.set_threshold(young, middle, full * GC_FULL_DELAY)

    def __exit__(self, *exc: object) -> None:
        young, middle, full = self.thresholds
        if young and gc.get_threshold() == (young, middle, full * GC_FULL_DELAY):  # not changed meanwhile
            gc.set_threshold(young, middle, full)


class Kinds(dict[int, str]):
    """A recorder's type names of the values it holds weakly (``id(ref)`` -> the type's name, for showing
    a collected value), carrying how many values detached in its run may still be given their full
    text (``texts``). Past that budget a detached value keeps its brief text (type and identity, a
    container's plain items): taking the full text of an object each time one of its methods ends is
    most of the cost of recording a long loop over it, and a run's DAG shows its first calls in full.
    ``briefs`` keeps, past the budget, the one :class:`Detached` of each object shown by its type and
    identity alone (``id(value)`` -> (its type's token, the Detached)): detached again, it is the same."""

    __slots__ = ("texts", "briefs")

    def __init__(self, texts: int) -> None:
        super().__init__()
        self.texts = texts
        self.briefs: dict[int, tuple[object, Detached]] = {}


class Detached:
    """What a record keeps of a value once its call has ended, if holding the value itself could keep
    other objects alive: its id, its text at that moment and, for a container, its first items.

    A small list, dict or set of plain values is kept as a shallow copy (plain values hold nothing, and
    copying is cheaper than a text; the text is made from the copy when the DAG is built), and so is a
    call's result made of plain values and lists, dicts and tuples of them (:func:`_inert_copy`: copied
    to the bottom, and kept alive itself, see :attr:`alive`); anything else gives its text now and its
    first items held as :func:`hold` holds them.
    """

    __slots__ = ("key", "copy", "_text", "items", "alive")
    #: the copy of a container of plain values (shallow; a result's nested ones copied too), its text made later
    copy: list[Any] | dict[Any, Any] | set[Any] | tuple[Any, ...] | None
    _text: str | None
    items: tuple[Any, ...]
    #: a call's result kept alive with its first items, so that no later object takes their addresses while
    #: the recording lasts; None for an argument, or a value whose death the program could see
    alive: Any

    def __init__(self, value: Any, kinds: Kinds, produced: bool = False) -> None:
        self.key = id(value)
        self.alive = None
        kind = type(value)  # the builtin types only: a subclass's own __iter__ or copy() is not run
        if (kind is list or kind is dict or kind is set) and len(value) <= _ITEMS_KEPT and plain_items(value, kind):
            self.copy, self._text, self.items = value.copy(), None, ()
            if produced:
                self.alive = value  # its items are plain values, alive in the copy
            return
        if produced and (kind is list or kind is dict or kind is tuple):
            copied = _inert_copy(value, [_SCAN_LIMIT])
            if copied is not None:  # the items edges look into are the originals (the copy's are new objects)
                first = tuple(itertools.islice(value.values() if kind is dict else value, _ITEMS_KEPT))
                self.copy, self._text, self.items, self.alive = copied, None, first, (value, first)
                return
        self.copy, self._text = None, _snapshot_text(value, kinds)
        self.items = ()
        if kind in _CONTAINER_TYPES:
            values = value.values() if kind is dict else value
            self.items = tuple([_held_item(v, kinds) for v in itertools.islice(values, _ITEMS_KEPT)])

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = TEXTS.text(self.copy)
        return self._text

    def values(self) -> Iterable[Any]:
        """The items data-flow edges look into (as :func:`_values_in` reads a live container)."""
        if self.copy is not None and not self.items:
            return itertools.islice(self.copy.values() if type(self.copy) is dict else self.copy, _ITEMS_KEPT)
        return (_resolve(item, _NO_KINDS) for item in self.items)

    def __repr__(self) -> str:
        return self.text


def _inert_copy(value: list | dict | tuple, budget: list[int]) -> list | dict | tuple | None:
    """A copy, to the bottom, of a list, dict or tuple that holds only plain values and lists, dicts and
    tuples of them (a dict's keys plain values), no more than ``budget[0]`` items in all; None for anything
    else. Keeping such a value alive is invisible to the program (none of it can be weakly referenced or
    has a finalizer), and the copy is its text's snapshot, cheaper than the text itself."""
    budget[0] -= len(value)
    if budget[0] < 0:
        return None
    if type(value) is dict:
        if not ATOMS.issuperset(map(type, value)):
            return None
        if ATOMS.issuperset(map(type, value.values())):
            return value.copy()
        copied: dict[Any, Any] = {}
        for key, item in value.items():
            if type(item) not in ATOMS and (type(item) not in _NESTED or (item := _inert_copy(item, budget)) is None):
                return None
            copied[key] = item
        return copied
    if ATOMS.issuperset(map(type, value)):
        return value.copy() if type(value) is list else value
    items = []
    for item in value:
        if type(item) not in ATOMS and (type(item) not in _NESTED or (item := _inert_copy(item, budget)) is None):
            return None
        items.append(item)
    return items if type(value) is list else tuple(items)


def _held_item(value: Any, kinds: dict[int, str]) -> Any:
    kind = type(value)
    if kind in ATOMS:
        return value
    if kind.__weakrefoffset__ and not kind.__flags__ & _HEAPTYPE:
        return hold(value, kinds)
    return _Key(id(value))


def _snapshot_text(value: Any, kinds: Kinds) -> str:
    """The text of a value being detached (:data:`TEXTS`: bounded, so detaching costs no more than a
    container's first items; brief once the run's budget, ``kinds.texts``, is spent). It runs none of
    the program's code, unless the user asked for its own ``__repr__``: those calls run unrecorded,
    since the program did not make them."""
    if kinds.texts <= 0:
        return TEXTS.brief(value)
    kinds.texts -= 1
    if not TEXTS.user_repr:
        return TEXTS.text(value)
    token = current_call.set(_QUIET)
    try:
        return TEXTS.text(value)
    finally:
        current_call.reset(token)


def hold(value: Any, kinds: dict[int, str]) -> Any:
    """What a record keeps of ``value``: a weak reference if its type allows one; a :class:`Pinned`
    value, detached when its call ends, for what may hold other objects (a container, an instance of a
    user's class without weak-reference support); else the value itself (plain values, and builtin
    objects that cannot refer to others). ``kinds`` remembers the type's name per weak reference, for
    showing a collected value."""
    kind = type(value)
    if kind.__weakrefoffset__ and not kind.__flags__ & _HEAPTYPE:
        ref = _ref(value)
        kinds[id(ref)] = kind.__qualname__
        return ref
    if kind is _ref:
        return _Strong(value)
    if kind in ATOMS:
        return value
    if issubclass(kind, _CONTAINERS) or kind.__flags__ & _HEAPTYPE and not kind.__itemsize__:
        return Pinned(value)
    return value


def hold_all(values: tuple, kinds: dict[int, str]) -> tuple:
    """:func:`hold` for each of ``values`` (the tuple itself when all are plain values)."""
    for value in values:
        if type(value) not in ATOMS:
            return tuple([hold(v, kinds) for v in values])
    return values


def _any_pinned(held: Iterable[Any]) -> bool:
    """Whether some of these held values are :class:`Pinned` (and so need :func:`detach`)."""
    return Pinned in map(type, held)


def _plain_tuple(value: Any, budget: list[int]) -> bool:
    """Whether a tuple or frozenset holds only plain values (nested ones included), looking at no more
    than ``budget[0]`` items in all: such a value can be kept as it is."""
    for item in value:
        budget[0] -= 1
        if budget[0] < 0:
            return False
        kind = type(item)
        if kind not in ATOMS and not ((kind is tuple or kind is frozenset) and _plain_tuple(item, budget)):
            return False
    return True


def _detached(held: Any, kinds: Kinds, produced: bool = False) -> Any:
    """What a record keeps of a held value after its call: a :class:`Pinned` one detached (a tuple
    of plain values, which cannot keep anything alive, is kept as it is); ``produced``: the call returned
    or yielded it (:attr:`Detached.alive`)."""
    if type(held) is not Pinned:
        return held
    value = held.value
    kind = type(value)
    if (kind is tuple or kind is frozenset) and _plain_tuple(value, [_SCAN_LIMIT]):
        return value
    if kinds.texts <= 0 and kind not in _CONTAINER_TYPES:
        return _brief(value, kind, kinds)
    return Detached(value, kinds, produced)


def _brief(value: Any, kind: type, kinds: Kinds) -> Detached:
    """A value detached past the run's text budget: an object shown by its type and identity alone is
    detached once, and the records of its later calls share that :class:`Detached` (same key, same text);
    a loop over one object's methods detaches it at every call."""
    token = TEXTS.brief_token(kind)
    if token is None:
        return Detached(value, kinds)
    key = id(value)
    found = kinds.briefs.get(key)
    if found is not None and found[0] is token:
        return found[1]
    detached = kinds.briefs[key] = (token, Detached(value, kinds))
    return detached[1]


def hold_for(call: list, value: Any) -> Any:
    """:func:`hold` for a result or yielded item of a wrapped call, noting a pinned one in the record."""
    held = hold(value, call[KINDS])
    if type(held) is Pinned:
        call[PINNED] = True
    return held


def end(call: list) -> None:
    """A wrapped call ends (returned, raised, or its generator finished)."""
    call[END] = next(clock)
    if call[PINNED]:
        detach(call)


def detach(call: list) -> None:
    """A call that held :class:`Pinned` values has ended: keep them :class:`Detached` instead (the
    arguments, the items of its ``*args`` / ``**kwargs``, the result and the items it yielded, in that order)."""
    call[PINNED] = False
    meta: FunctionMeta = call[META]
    if meta is None:  # a dropped record (past the limit): nothing to keep
        return
    kinds = call[KINDS]
    if not meta.var_params or meta.params is None:  # each argument is one held value
        call[ARGS] = tuple([held if type(held) is not Pinned else _detached(held, kinds) for held in call[ARGS]])
    else:
        nested = dict(meta.var_params)
        args = list(call[ARGS])
        for i, held in enumerate(args):
            kind = nested.get(i)
            if kind == VAR_POSITIONAL:
                args[i] = tuple([_detached(v, kinds) for v in held])
            elif kind == VAR_KEYWORD:
                args[i] = {k: _detached(v, kinds) for k, v in held.items()}
            else:
                args[i] = _detached(held, kinds)
        call[ARGS] = tuple(args)
    if meta.params is None:
        call[KWARGS] = {k: _detached(v, kinds) for k, v in call[KWARGS].items()}
    if type(call[RESULT]) is Pinned:
        call[RESULT] = _detached(call[RESULT], kinds, True)
    if call[YIELDS]:
        call[YIELDS] = [(clock, _detached(item, kinds, True)) for clock, item in call[YIELDS]]


class Collected:
    """A held value that was garbage-collected before the DAG was built."""

    __slots__ = ("ref", "kind")

    def __init__(self, ref: weakref.ref, kind: str) -> None:
        self.ref, self.kind = ref, kind

    def __repr__(self) -> str:
        return f"<collected {self.kind}>"


TEXTS.trust(Detached, Collected)


def _resolve(held: Any, kinds: Mapping[int, str]) -> Any:
    """The value a record held: the object itself, or :class:`Collected` when it is gone."""
    kind = type(held)
    if kind is _ref:
        value = held()
        return Collected(held, kinds.get(id(held), "object")) if value is None else value
    if kind is _Strong or kind is Pinned:
        return held.value
    return held


def _identity(value: Any, keep: list) -> int:
    """A key equal for two resolved values exactly when a record held the same object (see the
    module docstring); ``keep`` keeps the refs made here alive while the keys are in use."""
    kind = type(value)
    if kind is Collected:
        return id(value.ref)
    if kind is Detached or kind is _Key:
        return value.key
    if kind.__weakrefoffset__ and not kind.__flags__ & _HEAPTYPE:
        ref = _ref(value)
        keep.append(ref)
        return id(ref)
    return id(value)


class CodeFacts:
    """What recording learns about the program's functions and code objects, kept as long as the
    program runs under one :class:`~autotrace.runtime.Runtime`, which owns it and hands it to each
    :class:`Recorder` it records with (:meth:`Recorder.use`): nothing of it is module state, so it is
    dropped with them. Functions are held weakly (the registry's values, the signatures' keys)."""

    def __init__(self) -> None:
        #: id(code) -> (code, the latest function made from it): an own-frame call knows only its code
        #: object, and its default values and docstring live on the function
        self.functions: dict[int, tuple[CodeType, weakref.ref[Callable]]] = {}
        #: id(facts) -> (facts, meta, code, var_params, has_defaults): a rewritten function's facts
        #: constant is one object per definition and code object (``code.replace()`` keeps the constants:
        #: such a copy is recorded as its original); kept here so that its id stays its own
        self.definitions: dict[int, tuple[tuple, FunctionMeta, CodeType, tuple, bool]] = {}
        self._constant_ids: dict[CodeType, frozenset[int]] = {}
        self._positional_names: dict[CodeType, tuple[tuple[str, ...], int] | None] = {}
        self._signatures: weakref.WeakKeyDictionary[Any, inspect.Signature | None] = weakref.WeakKeyDictionary()
        self._info: dict[CodeType, dict[str, Any]] = {}

    def register(self, func: Callable, code: CodeType) -> None:
        """Remember ``func`` as the (latest) function made from ``code``, the code its recorded calls run."""
        self.functions[id(code)] = (code, _ref(func))

    def function_of(self, code: CodeType) -> Callable | None:
        """The latest live function registered for ``code`` (closures share one code object)."""
        found = self.functions.get(id(code))
        return found[1]() if found is not None and found[0] is code else None

    def constant_ids(self, code: CodeType) -> frozenset[int]:
        """ids of the constants in a function's code (merged across a module by the compiler)."""
        cached = self._constant_ids.get(code)
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
            cached = self._constant_ids[code] = frozenset(ids)
        return cached

    def bind_arguments(self, func: Callable, args: tuple, kwargs: dict) -> tuple[dict[str, Any], set[str]]:
        """Arguments by parameter name, and the names the caller passed explicitly (defaults excluded)."""
        target = inspect.unwrap(func)
        fast = _bind_positional(target, args, kwargs, self._positional_names)
        if fast is not None:
            return fast
        sig = self._signature(target)
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

    def _signature(self, target: Any) -> inspect.Signature | None:
        try:
            return self._signatures[target]
        except KeyError:
            pass
        except TypeError:  # no weak reference to it: computed each time
            return _signature_of(target)
        sig = self._signatures[target] = _signature_of(target)
        return sig

    def function_info(self, func: Callable | CodeType) -> dict[str, Any]:
        """Source, docstring and location of a function, or of the function registered for a code object
        (per code object: ``inspect.getsource`` for every function of every test's DAG was a sizeable
        share of the DAG-building time on real suites)."""
        target = inspect.unwrap(func) if not isinstance(func, CodeType) else (self.function_of(func) or func)
        code = getattr(target, "__code__", target)
        cached = self._info.get(code) if isinstance(code, CodeType) else None
        if cached is None:
            cached = _function_info_uncached(target)
            if isinstance(code, CodeType):
                self._info[code] = cached
        return dict(cached)


class Recorder:
    """Collects the calls of one run. Activated through :class:`autotrace.runtime.Runtime`.

    With a ``limit``, only the first ``limit`` calls are kept (a loop of millions of calls must not
    hold millions of argument tuples); a later call gets a record that is filled in and dropped, and
    ``dropped`` counts them. With ``texts``, only that many values detached during the run get their
    full text (:class:`Kinds`); later ones their brief text.
    """

    def __init__(self, limit: int | None = None, texts: int | None = None) -> None:
        self.calls: list[list] = []
        self.limit = limit
        self.dropped = 0
        #: id(weak ref held) -> the type name of its object; and the full texts of detached values left
        self.kinds = Kinds(texts if texts is not None else sys.maxsize)
        self.use(CodeFacts())

    def use(self, facts: CodeFacts) -> None:
        """Record with what ``facts`` (the runtime's) knows of the program's code."""
        self.facts = facts
        self._definitions = facts.definitions
        self._functions = facts.functions

    def is_call_of(self, call: list, func: Any) -> bool:
        """Whether a recorded call is a call of ``func`` (an instrumented function, or its wrapper)."""
        target = inspect.unwrap(func)
        return call[FUNC] is func or call[CODE] is getattr(target, "__code__", False) or (
            call[CODE] is not None and self.facts.function_of(call[CODE]) is target)

    def records(self) -> list[CallRecord]:
        """The kept calls as frozen records, in the order they started."""
        index = {id(call): i for i, call in enumerate(self.calls)}
        depths: list[int] = []
        records = []
        for i, call in enumerate(self.calls):
            parent = index.get(id(call[PARENT])) if call[PARENT] is not None else None
            depth = depths[parent] + 1 if parent is not None else _depth(call)
            depths.append(depth)
            wrapped = call[META].params is None
            records.append(CallRecord(
                index=i, meta=call[META], code=call[CODE], func=call[FUNC], args=call[ARGS],
                kwargs=call[KWARGS] if wrapped else {}, defaulted=() if wrapped else call[KWARGS],
                parent=parent, depth=depth, start=call[START], end=call[END], result=call[RESULT],
                error=call[ERROR], yields=tuple(call[YIELDS] or ()), thread=call[THREAD], kinds=call[KINDS]))
        return records

    def calls_made(self) -> int:
        """How many calls the run made, those past the limit included."""
        return len(self.calls) + self.dropped

    def first_call_of(self, func: Callable) -> int | None:
        """The index of the first kept call that a wrapper recorded for ``func`` (a test function)."""
        return next((i for i, call in enumerate(self.calls) if call[FUNC] is func), None)

    def called(self) -> list[tuple[str, int]]:
        """Each recorded function (``module.qualname``) with its number of kept calls, most called first
        (then by name): what a run called, read without building its DAG."""
        metas = {id(meta): meta for meta in map(_meta_of, self.calls)}  # one per definition: counted by identity
        by_name: Counter[str] = Counter()
        for key, count in Counter(map(id, map(_meta_of, self.calls))).items():
            by_name[metas[key].func] += count
        return sorted(by_name.items(), key=lambda item: (-item[1], item[0]))

    def params_read(self, known: Iterable[str]) -> list[str]:
        """The parameters among ``known`` that the recorded calls read (the DAG's ``reads`` edges), without
        building the DAG. A default value's reads count when the caller left that argument out; for a
        call recorded by a wrapper (not bound here) they always count."""
        wanted = set(known)
        found: set[str] = set()
        for meta in {id(meta): meta for meta in map(_meta_of, self.calls)}.values():
            found.update(wanted.intersection(meta.reads))
            if meta.param in wanted:
                found.add(meta.param)
        for call in self.calls:
            meta = call[META]
            if meta.default_reads:
                left_out = meta.default_reads if meta.params is None else {
                    arg: names for arg, names in meta.default_reads.items() if arg in call[KWARGS]}
                for names in left_out.values():
                    found.update(wanted.intersection(names))
        return sorted(found)

    def new_call(self, meta: FunctionMeta, code: CodeType | None, func: Callable, args: tuple,
                 kwargs: dict) -> list | None:
        """A new record for a wrapped call (see the layout above), arguments held; None when autotrace
        itself is running the call (:data:`_QUIET`), which the wrapper then leaves unrecorded."""
        parent = current_call.get()
        if parent is _QUIET:
            return None
        if self.limit is not None and len(self.calls) >= self.limit:
            return self._dropped()
        kinds = self.kinds
        held_kwargs = {k: hold(v, kinds) for k, v in kwargs.items()} if kwargs else {}
        held = hold_all(args, kinds)
        call = [meta, code, func, held, held_kwargs, parent, next(clock), None, PENDING, None,
                None, _get_ident(), None, kinds, _any_pinned(held) or _any_pinned(held_kwargs.values())]
        self.calls.append(call)
        return call

    def enter(self, facts: tuple, values: tuple) -> list:
        """Called by a rewritten function's prologue, from its own frame, while this recorder is active:
        a new record, made the current call (``Runtime.leave`` resets that). ``facts`` is the constant
        the instrumenting pass put in the body, ``(func, reads, default_reads pairs, param, ((name, kind), ...),
        has_defaults, ordinal)`` (the ordinal makes it one object per definition: the compiler merges
        equal constants); ``values`` the parameters' values in that order, read at the body's start.
        Whether the caller passed a parameter that has a default is decided by identity with the
        function's default object (:func:`_defaulted`)."""
        found = self._definitions.get(id(facts))
        if found is None or found[0] is not facts:  # the first call of this definition: learn its code
            found = self._definitions[id(facts)] = _learn(facts, _getframe(1).f_code)
        _, meta, code, var_params, has_defaults = found
        parent = current_call.get()
        if parent is _QUIET:  # autotrace's own repr of a value: not a call of the program's
            call = _unkept_record()
            call[TOKEN] = current_call.set(_QUIET)
            return call
        if self.limit is not None and len(self.calls) >= self.limit:
            self.dropped += 1
            return PAST_LIMIT  # the current call stays the enclosing one: every later call is past the limit too
        else:
            kinds = self.kinds
            held = values
            pinned = False
            for value in values:  # hold_all, inlined: this is the hot path
                if type(value) not in ATOMS:
                    held = tuple([v if type(v) in ATOMS else hold(v, kinds) for v in values])
                    pinned = Pinned in map(type, held)
                    break
            if var_params:  # its *args tuple and **kwargs dict are held item by item
                listed: list[Any] = list(held)
                for i, kind in var_params:
                    value = values[i]
                    if kind == VAR_POSITIONAL:
                        held_args = listed[i] = hold_all(value, kinds)
                        pinned = pinned or _any_pinned(held_args)
                    else:
                        held_kwargs = listed[i] = {k: hold(v, kinds) for k, v in value.items()}
                        pinned = pinned or _any_pinned(held_kwargs.values())
                held = tuple(listed)
            call = [meta, code, None, held, _defaulted(meta, code, values, self._functions) if has_defaults else (),
                    parent, next(clock), None, PENDING, None, None, _get_ident(), None, kinds, pinned]
            self.calls.append(call)
        call[TOKEN] = current_call.set(call)
        return call

    def _dropped(self) -> list:
        """A record past the limit: filled in like any other, never kept."""
        self.dropped += 1
        return _unkept_record()


def _unkept_record() -> list:
    """A record that is filled in like any other and never kept (past the limit, or a quiet call)."""
    call: list[Any] = [None] * _SIZE
    call[KINDS], call[PINNED] = Kinds(0), False
    return call


class CallCounter(Recorder):
    """A recorder that keeps no call: it counts each function's calls (the first ``limit`` calls, as a
    :class:`Recorder` keeps them) and notes the parameters they read, which is all :meth:`called` and
    :meth:`params_read` give, at a fraction of recording's cost: no record, no held value, no text. For a
    run whose DAG nobody reads (a passing test in the pytest plugin's report)."""

    def __init__(self, limit: int | None = None) -> None:
        super().__init__(limit=limit, texts=0)
        #: id(meta) -> [meta, calls counted]
        self._counts: dict[int, list] = {}
        self._left_out: set[str] = set()  # parameters read by default values the callers left out
        self._counted = 0

    def enter(self, facts: tuple, values: tuple) -> list:
        """Count the call (see :meth:`Recorder.enter`); it runs past the limit's shared record."""
        found = self._definitions.get(id(facts))
        if found is None or found[0] is not facts:
            found = self._definitions[id(facts)] = _learn(facts, _getframe(1).f_code)
        _, meta, code, _, has_defaults = found
        if not self._count(meta):
            return PAST_LIMIT
        if meta.default_reads:  # as params_read reads a record: the defaults the caller left out
            defaulted = _defaulted(meta, code, values, self._functions) if has_defaults else ()
            for arg, names in meta.default_reads.items():
                if arg in defaulted:
                    self._left_out.update(names)
        return PAST_LIMIT

    def new_call(self, meta: FunctionMeta, code: CodeType | None, func: Callable, args: tuple,
                 kwargs: dict) -> list | None:
        """Count a wrapped call; None: the wrapper runs it unrecorded."""
        if self._count(meta):
            for names in meta.default_reads.values():  # a wrapped call's default reads always count
                self._left_out.update(names)
        return None

    def _count(self, meta: FunctionMeta) -> bool:
        """Count a call of ``meta``'s function; False past the limit, where the call is dropped."""
        if self.limit is not None and self._counted >= self.limit:
            self.dropped += 1
            return False
        self._counted += 1
        counted = self._counts.get(id(meta))
        if counted is None:
            self._counts[id(meta)] = [meta, 1]
        else:
            counted[1] += 1
        return True

    def calls_made(self) -> int:
        return self._counted + self.dropped

    def called(self) -> list[tuple[str, int]]:
        by_name: Counter[str] = Counter()
        for meta, count in self._counts.values():
            by_name[meta.func] += count
        return sorted(by_name.items(), key=lambda item: (-item[1], item[0]))

    def params_read(self, known: Iterable[str]) -> list[str]:
        wanted = set(known)
        found = wanted.intersection(self._left_out)
        for meta, _ in self._counts.values():
            found.update(wanted.intersection(meta.reads))
            if meta.param in wanted:
                found.add(meta.param)
        return sorted(found)


#: The one record of every own-frame call past a recorder's limit: it is never made the current call
#: (its TOKEN stays None), and :meth:`~autotrace.runtime.Runtime.leave` empties what the call wrote into it.
PAST_LIMIT = _unkept_record()


_meta_of = operator.itemgetter(META)
_getframe = sys._getframe
_get_ident = threading.get_ident


def _learn(facts: tuple, code: CodeType) -> tuple[tuple, FunctionMeta, CodeType, tuple, bool]:
    func, reads, default_reads, param, params, has_defaults, _ = facts
    meta = FunctionMeta(func, reads, dict(default_reads), param, params, has_defaults)
    return facts, meta, code, meta.var_params, has_defaults


def _defaulted(meta: FunctionMeta, code: CodeType, values: tuple,
               functions: dict[int, tuple[CodeType, weakref.ref[Callable]]]) -> tuple[str, ...]:
    """The parameters whose value *is* the function's default object.

    A frame cannot tell ``f(x)`` from ``f(x, DEFAULT)`` when the caller passes that very object; the
    answer is the same for the DAG's purposes (the value read is the default's, and a default that
    reads a parameter gives a ``reads`` edge). The defaults are those of the latest function made
    from this code (closures share it); a function copied by value (never registered) counts every
    parameter as passed."""
    found = functions.get(id(code))  # CodeFacts.function_of(code), inlined: one frame less near the recursion limit
    fn = found[1]() if found is not None and found[0] is code else None
    params = meta.params  # None only for a wrapped function, recorded outside its frame: never here
    if fn is None or params is None:
        return ()
    names = []
    defaults = fn.__defaults__ or ()
    first = meta.positional - len(defaults)
    for i, default in enumerate(defaults):
        if first + i >= 0 and values[first + i] is default:
            names.append(params[first + i][0])
    kwdefaults = fn.__kwdefaults__
    if kwdefaults:
        for i, (name, kind) in enumerate(params):
            if kind == KEYWORD_ONLY and name in kwdefaults and values[i] is kwdefaults[name]:
                names.append(name)
    return tuple(names)


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


_SPECIAL_FLAGS = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS


def _bind_positional(target: Any, args: tuple, kwargs: dict, shapes: dict[CodeType, tuple[tuple[str, ...], int] | None]
                     ) -> tuple[dict[str, Any], set[str]] | None:
    """What :meth:`CodeFacts.bind_arguments` gives, computed from the code object alone when every parameter is
    positional (no ``*args``, ``**kwargs`` or keyword-only ones), since ``Signature.bind`` is the slow part
    of building a DAG (docs/decisions/pytest-plugin-cost.md). None when this shortcut does not apply."""
    if type(target) is not FunctionType or "__signature__" in target.__dict__:
        return None
    code = target.__code__
    try:
        shape = shapes[code]
    except KeyError:
        shape = None if code.co_flags & _SPECIAL_FLAGS or code.co_kwonlyargcount else (
            code.co_varnames[:code.co_argcount], code.co_posonlyargcount)
        shapes[code] = shape
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


def _signature_of(target: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):
        return None


def _values_in(value: Any) -> Iterable[Any]:
    """The value and, one level down, the items of a list/tuple/dict/set it is (where flows usually hide)."""
    yield value
    kind = type(value)
    if kind in (list, tuple, set, frozenset):
        yield from itertools.islice(value, _ITEMS_KEPT)
    elif kind is dict:
        yield from itertools.islice(value.values(), _ITEMS_KEPT)
    elif kind is Detached:
        yield from value.values()


def user_traceback(exc: BaseException, limit: int = 12) -> str:
    """The exception's traceback without autotrace's own frames (wrappers, the worker) or pytest's; its
    last line as :meth:`ValueTexts.last_line <autotrace.values.ValueTexts.last_line>` gives it."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_HIDDEN_DIRS)]
    lines = traceback.StackSummary.from_list(frames[-limit:]).format()
    lines += TEXTS.last_line(exc)
    return "Traceback (most recent call last):\n" + "".join(lines)


@dataclass(frozen=True)
class ParamNode:
    """A parameter as the graph shows it: its name, current value, kind and description."""

    name: str
    value: Any  # the literal's value, or the function's source for code
    kind: ParamKind
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ParamKind(self.kind))  # accepts the wire word too


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One recorded call as the DAG reads it: made once from the recorder's raw record (a list, built
    on the hot path) by :meth:`Recorder.records`, when a graph is built or a test's calls are read."""

    index: int  # its place in the recorder's calls: the graph's ``call:{index}`` node
    meta: FunctionMeta
    code: CodeType | None  # the code object that ran (the user's function's, also for wrapped calls)
    func: Callable | None  # the function, for a call recorded by a wrapper; None for an own-frame call
    args: tuple[Any, ...]  # held values (see the raw layout's ARGS)
    kwargs: Mapping[str, Any]  # a wrapped call's held keyword arguments (empty for an own-frame call)
    defaulted: tuple[str, ...]  # an own-frame call's parameters whose value is the function's default
    parent: int | None  # the enclosing call's index among the records (None: a top-level call)
    depth: int  # how many recorded calls enclose it
    start: int  # clock ticks of its start and end (None: it had not ended)
    end: int | None
    result: Any  # held, or PENDING
    error: BaseException | None
    yields: tuple[tuple[int, Any], ...]  # (clock, held value) for each item a generator yielded
    thread: int
    kinds: Mapping[int, str]  # the recorder's type names of the weakly held values


@dataclass
class RunOutcome:
    """How the entry call ended: ``entry`` is its index in ``Recorder.calls`` (None if not recorded)."""

    entry: int | None
    output: Any = None
    error: BaseException | None = None
    inputs: Sequence[Any] = field(default_factory=tuple)


def build_graph(recorder: Recorder, params: Sequence[ParamNode], outcome: RunOutcome) -> nx.DiGraph:
    """The DAG of one run (schema in :mod:`autotrace.graph`), built with full collections delayed as during
    the recording: the run's records and the results they keep alive are live, and walking them again at
    each full collection the graph's many new objects trigger frees nothing."""
    with FullCollectionsDelayed():
        return _build_graph(recorder, params, outcome)


def _build_graph(recorder: Recorder, params: Sequence[ParamNode], outcome: RunOutcome) -> nx.DiGraph:
    G = g.new_graph()
    facts = recorder.facts
    records = recorder.records()
    known_params = {p.name for p in params}
    for p in params:
        G.add_node(f"param:{p.name}", kind="param", label=p.name, param=p.name, param_kind=p.kind.value,
                   description=p.description, value=p.value if p.kind is ParamKind.CODE else g.short_repr(p.value, 400))

    producers: dict[int, list[tuple[int, int]]] = {}  # identity of a value -> [(end clock, call index)]
    keep: list[weakref.ref] = []  # the refs behind identities made here stay alive while in use
    children_errors: set[tuple[int, int]] = set()  # (parent index, id(exc)) seen in a child
    functions: dict[str, dict[str, Any]] = G.graph["functions"]
    inputs = 0
    for call in records:
        i, meta, kinds, parent = call.index, call.meta, call.kinds, call.parent
        node = f"call:{i}"
        named, explicit = _arguments(call, facts)
        result = _resolve(call.result, kinds)
        G.add_node(node, kind="call", label=meta.func, func=meta.func, seq=i, thread=call.thread,
                   depth=call.depth, error=call.error is not None,
                   args={k: TEXTS.text(v, g.ARG_REPR_LIMIT) for k, v in named.items()},
                   value=TEXTS.text(result) if result is not PENDING else "<no result>")
        if meta.func not in functions:
            target = call.func if call.func is not None else call.code
            functions[meta.func] = facts.function_info(target) if target is not None else dict(_NO_INFO)
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
            producer = _producer(producers, value, call.start, keep)
            if producer is not None:
                G.add_edge(f"call:{producer}", node, role=f"arg:{arg}")
            elif parent is None and arg in explicit:
                G.add_node(f"input:{inputs}", kind="input", label=f"input{inputs}", value=TEXTS.text(value))
                G.add_edge(f"input:{inputs}", node, role=f"arg:{arg}")
                inputs += 1
        # (clock, value) for each item a generator yielded, then the result
        produced = [(clock, _resolve(item, kinds)) for clock, item in call.yields]
        if result is not PENDING and call.end is not None:
            produced.append((call.end, result))
        if produced and call.code is not None:
            constants = facts.constant_ids(call.code)
            for clock, value in produced:
                for item in _values_in(value):
                    if not _shared_identity(item) and (item.key if type(item) is _Key else id(item)) not in constants:
                        producers.setdefault(_identity(item, keep), []).append((clock, i))
        if call.error is not None and parent is not None:
            children_errors.add((parent, id(call.error)))

    for call in records:
        exc = call.error
        if exc is not None and (call.index, id(exc)) not in children_errors:
            i = call.index
            G.add_node(f"error:{i}", kind="error", label=type(exc).__name__, exc_type=type(exc).__name__,
                       message=TEXTS.message(exc)[:500], traceback=user_traceback(exc), value=TEXTS.text(exc))
            G.add_edge(f"call:{i}", f"error:{i}", role="raised")

    G.add_node(g.OUTPUT, kind="output", label="output",
               value=TEXTS.text(outcome.output) if outcome.error is None else f"raised {TEXTS.text(outcome.error)}")
    G.graph["output"] = g.OUTPUT
    if outcome.entry is not None:
        origin = _error_origin(G, records, outcome) if outcome.error is not None else None
        G.add_edge(origin or f"call:{outcome.entry}", g.OUTPUT, role="output")
    return G


def _arguments(call: CallRecord, facts: CodeFacts) -> tuple[dict[str, Any], set[str]]:
    """A call's arguments by parameter name (held values resolved), and the names the caller passed.

    A call recorded in its own frame captured its parameters by name; a parameter counts as passed
    unless its value *is* the function's default object (see :func:`_defaulted`). A wrapped call kept
    its positional and keyword arguments, bound to the signature here."""
    meta, kinds = call.meta, call.kinds
    if meta.params is None:  # a wrapped call: it kept its function
        if call.func is None:
            raise TypeError(f"{meta.func}: a wrapped call recorded without its function")
        args = tuple([_resolve(v, kinds) for v in call.args])
        kwargs = {k: _resolve(v, kinds) for k, v in call.kwargs.items()}
        return facts.bind_arguments(call.func, args, kwargs)
    named: dict[str, Any] = {}
    explicit: set[str] = set()
    defaulted = call.defaulted
    for (name, kind), held in zip(meta.params, call.args, strict=False):
        if kind == VAR_POSITIONAL:
            named.update({f"{name}[{i}]": _resolve(v, kinds) for i, v in enumerate(held)})
        elif kind == VAR_KEYWORD:
            named.update({k: _resolve(v, kinds) for k, v in held.items()})
        else:
            named[name] = _resolve(held, kinds)
            if name not in defaulted:
                explicit.add(name)
            continue
        if held:
            explicit.add(name)  # as Signature.bind: the name of a non-empty *args / **kwargs
    return named, explicit


def _error_origin(G: nx.DiGraph, records: Sequence[CallRecord], outcome: RunOutcome) -> str | None:
    for call in records:
        if call.error is outcome.error and G.has_node(f"error:{call.index}"):
            return f"error:{call.index}"
    return None


def _producer(producers: dict[int, list[tuple[int, int]]], value: Any, start: int, keep: list) -> int | None:
    """The latest call that returned ``value`` (by identity) and finished before ``start``."""
    best = None
    for item in _values_in(value):
        for end, i in producers.get(_identity(item, keep), ()):
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


_NO_INFO: Mapping[str, Any] = {"source": "", "doc": "", "file": "", "line": 0}


def _function_info_uncached(target: Any) -> dict[str, Any]:
    try:
        source = inspect.getsource(target)
    except (OSError, TypeError):
        source = ""
    code = getattr(target, "__code__", target if isinstance(target, CodeType) else None)
    doc = inspect.getdoc(target) if not isinstance(target, CodeType) else None
    return {"source": source, "doc": doc or "",
            "file": code.co_filename if code else "", "line": code.co_firstlineno if code else 0}
