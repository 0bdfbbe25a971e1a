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
