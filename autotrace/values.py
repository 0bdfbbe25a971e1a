"""The text of a value the program made, taken without running the program's code.

Recording must not change what the program does: a ``__repr__`` runs the program's code (boltons'
``DeferredValue`` computes and counts in it), and so can ``__str__``, ``__eq__``, ``__len__``, ``__iter__``,
a property or ``__getattr__``. So a value is shown from what the interpreter holds, read only through C
code that calls nothing of the program's:

* plain values (numbers, strings, bytes, None) and the builtin containers, exactly of their builtin
  types, by value, as ``repr`` shows them (bounded: a few levels, the first items);
* functions, classes (of the plain metaclass ``type``) and a few leaf types of the standard library by
  their own C ``repr``; an exception as its type and arguments;
* any other object by its type and identity (``<mod.Point object at 0x...>``), followed by its fields: the
  instance ``__dict__`` and the ``__slots__`` read through the type's own C descriptors (found by walking
  the type's MRO dicts, never by ``getattr``), a namedtuple's fields, and the content of a builtin
  container or number it subclasses, read with the builtin's own C methods (``list.__iter__(value)``).

How a type is shown is decided once per type and cached (:class:`ValueTexts`, as coverage.py caches its
per-file decisions); the cache holds a type weakly and none of its descriptors (a descriptor refers to
its class), since a cache that kept the user's classes alive would show in ``__subclasses__()``, which
attrs' suite checks. When the user asks for the value's own text (``user_repr``: the pytest plugin's
``--autotrace-user-repr``, ``[tool.autotrace] user_repr``), ``repr`` is called instead.
"""

from __future__ import annotations

import bisect
import datetime
import decimal
import itertools
import operator
import traceback
import weakref
from collections import deque
from types import BuiltinFunctionType, CodeType, FunctionType, GetSetDescriptorType, MemberDescriptorType, MethodType
from typing import Any

from .graph import REPR_LIMIT
from .text import truncate

#: plain values: they hold no other object, and their repr is the interpreter's own
ATOMS = frozenset({int, float, complex, str, bytes, bool, type(None)})
#: types whose C repr shows the value and calls no Python code
_LEAVES = frozenset({FunctionType, BuiltinFunctionType, CodeType, range, bytearray, type(Ellipsis),
                     type(NotImplemented), decimal.Decimal, datetime.date, datetime.time, datetime.datetime,
                     datetime.timedelta, datetime.timezone})
#: builtin types whose content a subclass's instance shows, read with the builtin's own methods
_CONTENT = (dict, list, tuple, set, frozenset, deque, str, bytes, int, float, complex)
_CONTAINERS = frozenset({list, tuple, dict, set, frozenset})
#: plain values whose text is never cut inside a container (only strings are)
_SHORT_ATOMS = ATOMS - {str}
_LEVELS = 3  # containers shown inside containers
_ITEMS = 64  # items shown of one container (as many fields of one object)
_STRING = 200  # characters shown of a string inside a container

_mro = type.__dict__["__mro__"].__get__
_class_dict = type.__dict__["__dict__"].__get__
_qualname = type.__dict__["__qualname__"].__get__
_module = type.__dict__["__module__"].__get__
_args = BaseException.__dict__["args"].__get__
_get = object.__getattribute__


def _type_name(kind: type) -> str:
    module = _module(kind)
    qualname = _qualname(kind)
    return qualname if module == "builtins" or type(module) is not str else f"{module}.{qualname}"


class _Plan:
    """How instances of one type are shown; names only, so it refers to nothing of the type's."""

    __slots__ = ("ref", "name", "leaf", "is_class", "exception", "fields", "content", "dict", "slots")

    def __init__(self, kind: type, leaves: frozenset[type]) -> None:
        self.ref = weakref.ref(kind)
        self.name = _type_name(kind)
        mro = _mro(kind)
        dicts = [_class_dict(k) for k in mro]
        self.leaf = kind in leaves or kind is type
        self.is_class = type in mro  # a class of another metaclass
        self.exception = BaseException in mro
        found = _lookup(dicts, "_fields")
        #: a namedtuple's field names
        self.fields = found if tuple in mro and type(found) is tuple and all(type(f) is str for f in found) else ()
        self.content = next((k for k in mro if k in _CONTENT), None)
        self.dict = type(_lookup(dicts, "__dict__")) is GetSetDescriptorType
        #: names of the slots whose C member descriptor is what attribute lookup finds
        self.slots = tuple(name for name in _slot_names(mro, dicts)
                           if type(_lookup(dicts, name)) is MemberDescriptorType)


def _lookup(dicts: list, name: str) -> Any:
    """What attribute lookup on an instance finds for ``name`` among its type's MRO dicts (None if nothing)."""
    for namespace in dicts:
        if name in namespace:
            return namespace[name]
    return None


def _slot_names(mro: tuple, dicts: list) -> list[str]:
    names = []
    for kind, namespace in zip(mro, dicts, strict=False):
        declared = namespace.get("__slots__", ())
        if type(declared) is str:
            declared = (declared,)
        if type(declared) not in (tuple, list):
            continue
        for name in declared:
            if type(name) is str and name not in ("__dict__", "__weakref__"):
                private = name.startswith("__") and not name.endswith("__")
                names.append(f"_{_qualname(kind).rpartition('.')[2].lstrip('_')}{name}" if private else name)
    return names


class ValueTexts:
    """Texts of values (:meth:`text`), and of exceptions (:meth:`message`, :meth:`last_line`), with the
    per-type decisions they take cached; :meth:`reset` forgets them."""

    def __init__(self, *, user_repr: bool = False) -> None:
        #: call the value's own ``__repr__`` / ``__str__`` (runs the program's code) instead
        self.user_repr = user_repr
        self._plans: dict[int, _Plan] = {}
        self._leaves = _LEAVES

    def trust(self, *kinds: type) -> None:
        """Show instances of ``kinds`` by their own ``repr`` (autotrace's own types, which stand for a
        value the recorder no longer holds)."""
        self._leaves = self._leaves | frozenset(kinds)
        self.reset()

    def reset(self) -> None:
        self._plans.clear()

    def text(self, value: Any, limit: int = REPR_LIMIT) -> str:
        """The value's text, cut to ``limit`` characters; never raises. With ``user_repr`` a value that
        is not plain nor a builtin container is shown by its own ``repr``. Items stop being rendered
        once ``limit`` characters are made: what the cut drops is not worth making."""
        try:
            text = self._text(value, _LEVELS, [limit])
        except Exception as exc:  # an int too long for repr, a value changed by another thread meanwhile
            text = f"<{_type_name(type(value))} (no text: {type(exc).__name__})>"
        return truncate(text, limit)

    def brief(self, value: Any, limit: int = REPR_LIMIT) -> str:
        """The value's text without looking inside it: a plain value, or a builtin container of plain
        values, as :meth:`text` gives it; any other container as ``[...]``; an object by its type and
        identity. Cheap whatever the value holds; never raises."""
        try:
            text = self._text(value, 0, [limit]) if not self.user_repr else f"<{_type_name(type(value))} object>"
        except Exception as exc:
            text = f"<{_type_name(type(value))} (no text: {type(exc).__name__})>"
        return truncate(text, limit)

    def brief_token(self, kind: type) -> object | None:
        """When :meth:`brief` shows every instance of ``kind`` by its type and identity alone, an object that
        stands for the type (the same one while the type lives, and while this one is held no other type's);
        None otherwise (a builtin container, an exception, a value shown by its own repr)."""
        if self.user_repr or kind in ATOMS or kind in _CONTAINERS or kind is MethodType:
            return None
        plan = self._plan(kind)
        return None if plan.leaf or plan.is_class or plan.exception else plan

    def message(self, exc: BaseException) -> str:
        """What ``str(exc)`` gives, when that runs none of the program's code (a builtin exception with
        plain arguments); else its arguments' texts."""
        if self.user_repr or self._plain_exception(exc):
            try:
                return str(exc)
            except Exception as error:
                return f"<str() failed: {type(error).__name__}>"
        args = _args(exc)
        return self.text(args[0]) if len(args) == 1 else self.text(args)

    def last_line(self, exc: BaseException) -> list[str]:
        """The ``Type: message`` line(s) ending a traceback (``traceback.format_exception_only`` when
        that runs none of the program's code)."""
        if self.user_repr or self._plain_exception(exc):
            return traceback.format_exception_only(type(exc), exc)
        return [f"{_type_name(type(exc))}: {self.message(exc)}\n"]

    def _plain_exception(self, exc: BaseException) -> bool:
        """A builtin exception whose arguments are plain values or tuples of them (a SyntaxError's
        location): its ``__str__`` is C code that reads nothing of the program's."""
        return not type(exc).__flags__ & _HEAPTYPE and _plain_args(_args(exc))

    def _plan(self, kind: type) -> _Plan:
        plan = self._plans.get(id(kind))
        if plan is None or plan.ref() is not kind:
            plan = self._plans[id(kind)] = _Plan(kind, self._leaves)
        return plan

    def _text(self, value: Any, level: int, left: list[int]) -> str:
        """``value``'s text, ``level`` containers deep at most; ``left[0]``: the characters still wanted."""
        kind = type(value)
        if kind in ATOMS:  # a string is cut only inside a container or an object
            return self._spent(repr(value), left) if level == _LEVELS else _inner_atom(value, kind, left)
        if kind in _CONTAINERS and len(value) <= _ITEMS and plain_items(value, kind):
            return self._spent(repr(value), left)  # the interpreter's repr: the same text, made in C
        if kind is list:
            return self._items("[", value, "]", level, left)
        if kind is tuple:
            return self._items("(", value, ",)" if len(value) == 1 else ")", level, left)
        if kind is dict:
            return self._mapping(value, level, left)
        if kind is set or kind is frozenset:
            if not value:
                return f"{kind.__name__}()"
            text = self._items("{", value, "}", level, left)
            return text if kind is set else f"frozenset({text})"
        if self.user_repr:
            return self._spent(repr(value), left)
        plan = self._plan(kind)
        if plan.leaf:
            return self._spent(repr(value), left)
        if plan.is_class:
            return self._spent(f"<class '{_type_name(value)}'>", left)
        if plan.exception:
            args = _args(value)
            return f"{plan.name}({self._items('', args, '', level, left)})" if len(args) != 1 else \
                f"{plan.name}({self._text(args[0], level, left)})"
        if kind is MethodType:
            func = _get(value, "__func__")
            name = func.__qualname__ if type(func) is FunctionType else "?"
            owner = self._text(_get(value, "__self__"), level - 1, left) if level else "..."
            return f"<bound method {name} of {owner}>"
        return self._object(value, plan, level, left)

    @staticmethod
    def _spent(text: str, left: list[int]) -> str:
        left[0] -= len(text)
        return text

    def _object(self, value: Any, plan: _Plan, level: int, left: list[int]) -> str:
        head = self._spent(f"<{plan.name} object at {id(value):#x}", left)
        if level <= 0:
            return head + ">"
        parts = []
        content = plan.content
        if plan.fields:
            parts.append(self._named(zip(plan.fields, tuple.__iter__(value), strict=False), level, left))
        elif content is dict:
            parts.append(self._mapping(value, level, left))
        elif content in (list, tuple, set, frozenset, deque):
            parts.append(self._items("[", content.__iter__(value), "]", level, left))
        elif content is not None:
            parts.append(self._spent(content.__repr__(value), left))
        fields: list[tuple[str, Any]] = []
        if plan.dict:
            fields += dict.items(_get(value, "__dict__"))
        for name in plan.slots:
            try:
                fields.append((name, _get(value, name)))
            except AttributeError:  # a slot never set
                pass
        if fields:
            parts.append(self._named(fields, level, left))
        return f"{head}: {', '.join(parts)}>" if parts else head + ">"

    def _named(self, fields: Any, level: int, left: list[int]) -> str:
        parts = []
        for i, (name, item) in enumerate(fields):
            if i == _ITEMS or left[0] <= 0:
                parts.append("...")
                break
            kind = type(item)  # most fields are plain values: their text without _text's dispatch
            text = _inner_atom(item, kind, left) if kind in ATOMS else self._text(item, level - 1, left)
            parts.append(f"{name}={text}")
        return ", ".join(parts)

    def _items(self, start: str, items: Any, end: str, level: int, left: list[int]) -> str:
        if level <= 0:
            return f"{start}...{end}"
        head = list(itertools.islice(items, _ITEMS + 1))  # one item past the shown ones says "..." follows
        more = len(head) > _ITEMS
        if more:
            del head[_ITEMS:]
        kinds = set(map(type, head))
        if kinds <= _SHORT_ATOMS or (kinds <= ATOMS and max(map(len, filter(_is_str, head)), default=0) <= _STRING):
            # plain values only: their texts made by the interpreter in one pass, then cut where the
            # item-by-item rendering below stops (an item is shown while characters are still wanted)
            texts = list(map(repr, head))
            ends = list(itertools.accumulate(map(len, texts)))
            shown = min(len(texts), bisect.bisect_left(ends, left[0]) + 1) if left[0] > 0 else 0
            if shown:
                left[0] -= ends[shown - 1]
            dots = ", ..." if shown and (more or shown < len(texts)) else "..." if more or shown < len(texts) else ""
            return f"{start}{', '.join(texts[:shown])}{dots}{end}"
        parts = []
        for item in head:
            if left[0] <= 0:
                parts.append("...")
                break
            kind = type(item)
            parts.append(_inner_atom(item, kind, left) if kind in ATOMS else self._text(item, level - 1, left))
        else:
            if more:
                parts.append("...")
        return f"{start}{', '.join(parts)}{end}"

    def _mapping(self, value: dict, level: int, left: list[int]) -> str:
        if level <= 0:
            return "{...}"
        # one item past the shown ones says "..." follows
        keys, items = list(itertools.islice(dict.__iter__(value), _ITEMS + 1)), \
            list(itertools.islice(dict.values(value), _ITEMS + 1))
        kinds = set(map(type, keys)) | set(map(type, items))
        if kinds <= _SHORT_ATOMS or (kinds <= ATOMS and max(map(len, filter(_is_str, keys + items)), default=0)
                                     <= _STRING):
            # plain keys and values only: their texts made in one pass, cut as the loop below cuts them
            key_texts, item_texts = list(map(repr, keys)), list(map(repr, items))
            ends = list(itertools.accumulate(map(operator.add, map(len, key_texts), map(len, item_texts))))
            shown = min(len(ends), _ITEMS, bisect.bisect_left(ends, left[0]) + 1) if left[0] > 0 else 0
            if shown:
                left[0] -= ends[shown - 1]
            parts = list(map(": ".join, zip(key_texts[:shown], item_texts[:shown], strict=True)))
            return "{" + ", ".join(parts + ["..."] if shown < len(ends) else parts) + "}"
        parts = []
        for i, (key, item) in enumerate(zip(keys, items, strict=True)):
            if i == _ITEMS or left[0] <= 0:
                parts.append("...")
                break
            # _inner_atom written out for the key and the value: two calls an item measurably slow a
            # mapping's text (docs/decisions/pytest-plugin-cost.md)
            kind = type(key)
            if kind in ATOMS:
                key_text = repr(key) if kind is not str or len(key) <= _STRING else repr(key[:_STRING]) + "..."
                left[0] -= len(key_text)
            else:
                key_text = self._text(key, level - 1, left)
            kind = type(item)
            if kind in ATOMS:
                text = repr(item) if kind is not str or len(item) <= _STRING else repr(item[:_STRING]) + "..."
                left[0] -= len(text)
            else:
                text = self._text(item, level - 1, left)
            parts.append(f"{key_text}: {text}")
        return "{" + ", ".join(parts) + "}"


def plain_items(value: Any, kind: type) -> bool:
    """Whether a builtin container (exactly of type ``kind``) holds plain values only (a dict: keys and values)."""
    if kind is dict:
        return set(map(type, value)) <= ATOMS and set(map(type, value.values())) <= ATOMS
    return set(map(type, value)) <= ATOMS


def _inner_atom(value: Any, kind: type, left: list[int]) -> str:
    """The text of a plain value (of type ``kind``, one of :data:`ATOMS`) inside a container or an object: a
    string cut after :data:`_STRING` characters; its length counted off ``left[0]``."""
    text = repr(value) if kind is not str or len(value) <= _STRING else repr(value[:_STRING]) + "..."
    left[0] -= len(text)
    return text


def _is_str(value: Any) -> bool:
    return type(value) is str


def _plain_args(args: tuple) -> bool:
    return all(type(a) in ATOMS or (type(a) is tuple and _plain_args(a)) for a in args)


_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement, not a builtin type

#: the texts the recorder takes (the pytest plugin sets ``user_repr`` when asked to)
TEXTS = ValueTexts()
