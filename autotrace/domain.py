"""The values a literal parameter may take, as its marker writes them: bounds, integers, a log scale, choices.

A marker's description may start with a bound (docs/markers.md)::

    RATE = 0.05    # autotrace: param in [0, 1] yearly interest rate
    DECAY = 0.9    # autotrace: param in (0, 1) log  kept strictly inside
    LIMIT = 100    # autotrace: param int in [1, 500]
    SCALE = 2.0    # autotrace: param > 0
    KEY = "name"   # autotrace: param one of ("name", "score") field to sort by

The text after the bound still goes into the prompt. The probes, the measured search and the model's
proposals all stay inside the bounds (a proposal outside is rejected with the reason). A description
that starts like a bound (``in [``, ``in (``, ``>``, ``<``, ``int``, ``float``, ``log``, ``one of``)
and does not parse is an error, so a typo never silently turns a bound into prompt text.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from typing import Any


class DomainError(ValueError):
    """A bound that does not parse or does not fit the parameter's value; the message is one line."""


_STARTS = re.compile(r"^(?:in\s*[\[(]|[<>]|(?:int|float|log)\b|one\s+of\b)")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf"
_RANGE = re.compile(rf"^in\s*([\[(])\s*({_NUMBER})\s*,\s*({_NUMBER})\s*([\])])")
_COMPARE = re.compile(rf"^(>=|<=|>|<)\s*({_NUMBER})")
_CHOICES = re.compile(r"^one\s+of\s*(?=\()")
_WORD = re.compile(r"^(int|float|log)\b")
SYNTAX = ('expected e.g. "in [0, 1]", "in (0, 1]", "> 0", "<= 10", "int in [1, 500]", "log in [1e-6, 1]"'
          ' or \'one of ("a", "b")\'')


@dataclass(frozen=True)
class Domain:
    """Where a parameter's value may lie. Numbers: between ``low`` and ``high`` (each bound closed unless
    its ``*_open`` flag says otherwise), whole when ``integer``, searched on a log scale when ``log``.
    Choices: one of ``choices`` (then the bounds are unused)."""

    text: str  # the bound as written, for messages
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    log: bool = False
    choices: tuple[Any, ...] = ()

    def reason(self, value: Any) -> str | None:
        """Why ``value`` is outside the domain, or None when it is inside."""
        if self.choices:
            return None if any(_same(value, c) for c in self.choices) else \
                f"{value!r} is not one of {', '.join(map(repr, self.choices))}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{value!r} is not a number (the marker says {self.text})"
        if self.integer and type(value) is not int:
            return f"{value!r} is not an integer (the marker says {self.text})"
        if not math.isfinite(value) or not self.contains(value):
            return f"{value!r} is outside {self.text}"
        return None

    def contains(self, x: float) -> bool:
        above = x > self.low if self.low_open else x >= self.low
        below = x < self.high if self.high_open else x <= self.high
        return above and below

    def clip(self, x: float) -> float:
        """The nearest value inside; an open bound is approached to within a millionth of the range
        (of the value itself when the other side is unbounded)."""
        if self.contains(x):
            return x
        span = self.high - self.low if math.isfinite(self.high - self.low) else max(abs(x), 1.0)
        if x <= self.low:
            return self.low + span * 1e-6 if self.low_open else self.low
        return self.high - span * 1e-6 if self.high_open else self.high


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def starts_bound(description: str) -> bool:
    return bool(_STARTS.match(description.strip()))


def parse(description: str) -> tuple[Domain | None, str]:
    """The domain a description starts with (None when it starts with none) and the text after it."""
    text = description.strip()
    if not starts_bound(text):
        return None, description
    words: set[str] = set()
    rest = text
    while (word := _WORD.match(rest)) is not None:
        words.add(word.group(1))
        rest = rest[word.end():].lstrip()
    fields: dict[str, Any] = {}
    if match := _RANGE.match(rest):
        opening, low, high, closing = match.groups()
        fields = {"low": float(low), "high": float(high), "low_open": opening == "(", "high_open": closing == ")"}
        if not fields["low"] < fields["high"]:
            raise DomainError(f"bound {text!r}: the lower end must be below the upper")
    elif match := _COMPARE.match(rest):
        op, number = match.groups()
        side = "low" if op.startswith(">") else "high"
        fields = {side: float(number), f"{side}_open": len(op) == 1}
    elif match := _CHOICES.match(rest):
        choices, end = _literal_tuple(rest, match.end())
        if "int" in words or "float" in words or "log" in words:
            raise DomainError(f"bound {text!r}: 'one of' takes no int, float or log")
        match, rest, fields = None, rest[end:], {"choices": choices}
    elif not words:
        raise DomainError(f"bound {text[:40]!r} does not parse: {SYNTAX}")
    if match is not None:
        rest = rest[match.end():].lstrip()
    if (word := re.match(r"^log\b", rest)) is not None:  # "in [1e-6, 1] log" as well as "log in [...]"
        words.add("log")
        rest = rest[word.end():]
    if "int" in words and "float" in words:
        raise DomainError(f"bound {text!r}: int or float, not both")
    shown = text[: len(text) - len(rest.strip())].strip() if rest.strip() else text
    domain = Domain(text=shown, integer="int" in words, log="log" in words, **fields)
    if domain.log:
        if domain.low == -math.inf:  # "log" alone, or "log < 10": above 0
            domain = Domain(shown, 0.0, domain.high, True, domain.high_open, domain.integer, True)
        if domain.low < 0 or (domain.low == 0 and not domain.low_open):
            raise DomainError(f"bound {shown!r}: a log scale needs values above 0 (e.g. 'log in [1e-6, 1]')")
    return domain, rest.strip()


def _literal_tuple(text: str, start: int) -> tuple[tuple[Any, ...], int]:
    """The parenthesised literal tuple at ``text[start]`` and where it ends."""
    for end in (i + 1 for i, ch in enumerate(text) if ch == ")" and i > start):
        try:
            value = ast.literal_eval(text[start:end])
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        value = value if isinstance(value, tuple) else (value,)
        if len(value) < 2:
            raise DomainError(f"bound {text[:end]!r}: 'one of' needs at least two choices")
        if len(set(map(repr, value))) != len(value):
            raise DomainError(f"bound {text[:end]!r}: a choice is written twice")
        return value, end
    raise DomainError(f"bound {text[:60]!r}: 'one of' needs a tuple of literals, e.g. one of (\"name\", \"score\")")


def fit(domain: Domain, initial: Any) -> Domain:
    """``domain`` checked against the parameter's initial value (which must lie inside and, for a
    numeric bound, be a number); raises :class:`DomainError`."""
    if not domain.choices:
        if isinstance(initial, bool) or not isinstance(initial, (int, float)):
            raise DomainError(f"bound {domain.text!r} is for numbers, and the value is {initial!r}")
        if domain.integer and type(initial) is not int:
            raise DomainError(f"bound {domain.text!r}: the value {initial!r} is not an int")
    reason = domain.reason(initial)
    if reason is not None:
        raise DomainError(f"the value in the source: {reason}")
    return domain
