"""What static analysis (:mod:`.analysis`, LibCST) knows about one module, handed to the one ``ast``
pass (:mod:`.instrument`) as typed, frozen data instead of source text.

Kept free of LibCST and of :mod:`ast`: the analysis produces it, the pass reads it, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FunctionFacts:
    """One ``def`` or ``async def`` (nested ones too), as the recorder's :class:`~autotrace.recorder.FunctionMeta`
    needs it."""

    name: str  # the name after ``def``: checked against the node the pass pairs it with
    func: str  # module.qualname, the qualname Python gives it (``m.f.<locals>.inner``)
    reads: tuple[str, ...]  # the parameters its body reads, sorted
    default_reads: tuple[tuple[str, tuple[str, ...]], ...]  # (argument, parameters its default reads), sorted
    param: str | None  # the code parameter this function is, if any


@dataclass(frozen=True)
class ModuleFacts:
    #: every function of the module in the order its ``def`` appears in the source (a nested function
    #: after the one it is nested in): the order the ``ast`` pass meets them in
    functions: tuple[FunctionFacts, ...]
    #: module-level names whose value is computed from parameters (``m.DOUBLE`` -> ``("m.BASE",)``)
    derived: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
