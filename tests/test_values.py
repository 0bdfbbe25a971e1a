"""Values' texts (:mod:`autotrace.values`): builtins as ``repr`` shows them, everything else without
calling the program's code, and a per-type cache that keeps no class alive."""

from __future__ import annotations

import gc
import traceback
import weakref
from collections import namedtuple

from autotrace.values import ValueTexts


def test_builtin_values_read_as_their_repr():
    texts = ValueTexts()
    for value in (1, -2.5, 1j, "it's", b"\x00", True, None, [1, "a"], (1,), (), {"k": [1, (2, 3)]}, {1, 2},
                  frozenset({"a"}), set(), frozenset(), [[1, [2]], {"x": (None,)}], len, ValueError("bad")):
        assert texts.text(value) == repr(value)


def test_a_big_container_is_bounded_and_an_unprintable_value_says_so():
    texts = ValueTexts()
    shown = texts.text(list(range(10_000)))
    assert shown.startswith("[0, 1, 2, ") and shown.endswith(", ...]") and len(shown) < 400
    assert texts.text(10 ** 5000) == "<int (no text: ValueError)>"


def test_namedtuples_subclasses_and_slots_show_their_fields():
    Point = namedtuple("Point", "x y")

    class Tags(list):
        pass

    class Slotted:
        __slots__ = ("a", "__hidden", "unset")

        def __init__(self):
            self.a, self.__hidden = 1, "h"

    texts = ValueTexts()
    point, tags, slotted = Point(1, 2), Tags(["a"]), Slotted()
    assert texts.text(point) == f"<test_values.Point object at {id(point):#x}: x=1, y=2>"
    assert texts.text(tags) == f"<test_values.{Tags.__qualname__} object at {id(tags):#x}: ['a']>"
    assert texts.text(slotted) == f"<test_values.{Slotted.__qualname__} object at {id(slotted):#x}: a=1, _Slotted__hidden='h'>"


def test_a_builtin_exceptions_last_line_is_pythons_own():
    """A SyntaxError's caret display, OSError's errno: what ``traceback`` prints, when the exception is
    builtin and its arguments plain (its ``__str__`` then runs nothing of the program's)."""
    texts = ValueTexts()
    try:
        compile("x = (", "f.py", "exec")
    except SyntaxError as exc:
        assert texts.last_line(exc) == traceback.format_exception_only(type(exc), exc)
    error = FileNotFoundError(2, "No such file")
    assert texts.last_line(error) == ["FileNotFoundError: [Errno 2] No such file\n"]


def test_the_per_type_cache_keeps_no_class_alive():
    """attrs' suite checks ``__subclasses__()`` after ``gc.collect()``: a class shown once must still die."""
    texts = ValueTexts()

    class Short:
        def __init__(self):
            self.value = 1

    assert texts.text(Short()).endswith(": value=1>")
    gone = weakref.ref(Short)
    del Short
    gc.collect()
    assert gone() is None


class _ItemByItem(ValueTexts):
    """The reference: every item rendered through ``_text`` one at a time, as the rules say (an item is
    shown while characters are still wanted, at most 64 of them, "..." when some are left out)."""

    def _named(self, fields, level, left):
        parts = []
        for i, (name, item) in enumerate(fields):
            if i == 64 or left[0] <= 0:
                parts.append("...")
                break
            parts.append(f"{name}={self._text(item, level - 1, left)}")
        return ", ".join(parts)

    def _items(self, start, items, end, level, left):
        if level <= 0:
            return f"{start}...{end}"
        parts = []
        for i, item in enumerate(items):
            if i == 64 or left[0] <= 0:
                parts.append("...")
                break
            parts.append(self._text(item, level - 1, left))
        return f"{start}{', '.join(parts)}{end}"

    def _mapping(self, value, level, left):
        if level <= 0:
            return "{...}"
        parts = []
        for i, (key, item) in enumerate(dict.items(value)):
            if i == 64 or left[0] <= 0:
                parts.append("...")
                break
            parts.append(f"{self._text(key, level - 1, left)}: {self._text(item, level - 1, left)}")
        return "{" + ", ".join(parts) + "}"


class _Fields:
    def __init__(self, **fields):
        self.__dict__.update(fields)


def _random_value(rng, depth):
    choice = rng.randrange(10 if depth else 5)
    if choice == 0:
        return rng.randrange(-10**rng.randrange(1, 30), 10**rng.randrange(1, 30))
    if choice == 1:
        return "x" * rng.choice((0, 1, 5, 199, 200, 201, 900))
    if choice == 2:
        return rng.choice((None, True, 1.5, b"ab", 2j))
    if choice in (3, 4):
        return rng.random()
    size = rng.choice((0, 1, 2, 10, 63, 64, 65, 100))
    items = [_random_value(rng, depth - 1) for _ in range(size)]
    if choice == 5:
        return items
    if choice == 6:
        return tuple(items)
    if choice == 7:
        return {i if rng.random() < 0.5 else f"k{i}": item for i, item in enumerate(items)}
    if choice == 8:
        return {x for x in items if type(x) in (int, str, float, bytes)}
    return _Fields(**{f"f{i}": item for i, item in enumerate(items[:70])})


def test_items_rendered_together_read_as_item_by_item():
    import random

    rng = random.Random(7)
    fast, reference = ValueTexts(), _ItemByItem()
    edges = [[7] * 70, (7,) * 64, [[7, 8]] * 70, ["ab"] * 65, {i: i for i in range(70)}, _Fields(a=7, b=[7] * 70),
             {f"k{i}": "x" * 150 for i in range(66)}, {i: "x" * (200 + i % 2) for i in range(66)}, {i: None for i in range(64)},
             _Fields(m={i: [i] for i in range(70)})]
    for value in edges:  # every limit, so that some item ends exactly where the characters run out
        for limit in range(1, 200):
            assert fast.text(value, limit) == reference.text(value, limit), (value, limit)
    for _ in range(150):
        value = _random_value(rng, 3)
        for limit in (5, 40, 300, 1000):
            assert fast.text(value, limit) == reference.text(value, limit)
