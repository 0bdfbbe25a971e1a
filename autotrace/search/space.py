"""Which parameters the measured search may move, and the values it may give them.

Numbers (int and float literals) move inside their marker's bound (:mod:`autotrace.domain`; anywhere
when it gives none); ints stay ints and floats are kept to six significant digits, values fit to be
patched into a source file. Booleans, and literals whose marker says ``one of (...)``, are categories:
the search tries their choices rather than stepping between them. Everything else (strings without
choices, containers, code) is left to the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autotrace.domain import Domain
from autotrace.params import ParamKind, ParamSpec

_ANY = Domain(text="any number")
_BOOL = Domain(text="True or False", choices=(False, True))


@dataclass(frozen=True)
class Dimension:
    """One searchable parameter: ``domain`` holds its bounds or its choices; ``integer`` when it is an int."""

    name: str
    domain: Domain
    integer: bool = False

    @property
    def categorical(self) -> bool:
        return bool(self.domain.choices)

    @property
    def log(self) -> bool:
        return self.domain.log

    def value(self, x: float) -> int | float:
        """``x`` as a value of this parameter: inside the bounds, an int for an int, six digits for a float."""
        if self.integer:
            whole = int(round(self.domain.clip(x if math.isfinite(x) else math.copysign(1e15, x))))
            if not self.domain.contains(whole):  # rounded onto an open bound
                whole += 1 if whole <= self.domain.low else -1
            return whole
        x = self.domain.clip(x)
        if not math.isfinite(x):
            return x
        return self.domain.clip(float(f"{x:.6g}"))

    def nudged(self, x: float, step: float) -> int | float | None:
        """``x`` moved by ``step`` (at least one unit for an int), turned back when the bound is in the way;
        None when neither way leaves the value where it was."""
        if self.integer and abs(step) < 1:
            step = math.copysign(1, step)
        for moved in (x + step, x - step):
            value = self.value(moved)
            if value != x and self.domain.contains(value):
                return value
        return None


def dimensions(params: Sequence[ParamSpec], values: Mapping[str, Any]) -> list[Dimension]:
    """The searchable parameters among ``params`` at ``values``."""
    found = []
    for spec in params:
        if spec.kind is ParamKind.CODE:
            continue
        value = values[spec.name]
        if spec.domain is not None and spec.domain.choices:
            found.append(Dimension(spec.name, spec.domain))
        elif type(value) is bool:
            found.append(Dimension(spec.name, _BOOL))
        elif type(value) in (int, float):
            found.append(Dimension(spec.name, spec.domain or _ANY, integer=type(value) is int))
    return found
