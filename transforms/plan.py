"""What the analysis and the instrumenting pass are told about a module (kept free of LibCST so that
a cached import never loads it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

#: The runtime's name in an instrumented module's globals: no Python source can spell it, so the pass
#: puts it in the syntax tree directly.
RUNTIME_NAME = "@autotrace"


@dataclass(frozen=True)
class ModulePlan:
    """What instrumenting needs to know about one module and the project's parameters."""

    module: str
    #: qualname -> parameter name, for literal parameters defined in this module
    literals: Mapping[str, str] = field(default_factory=dict)
    #: qualname -> parameter name, for code parameters defined in this module
    functions: Mapping[str, str] = field(default_factory=dict)
    #: every parameter name in the project, for resolving reads across modules
    param_names: frozenset[str] = frozenset()
    #: module-level constants computed from parameters anywhere in the project (``rates.DOUBLE`` ->
    #: ``("rates.BASE",)``), so ``from rates import DOUBLE`` elsewhere counts as reading ``rates.BASE``
    derived: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def package(self) -> str:
        return self.module.rpartition(".")[0]

    def fingerprint(self) -> str:
        """A canonical text of the plan, stable across processes (part of the bytecode cache key)."""
        return json.dumps([self.module, sorted(self.literals.items()), sorted(self.functions.items()),
                           sorted(self.param_names), sorted(self.derived.items())])
