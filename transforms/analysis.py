"""Static analysis of one module with LibCST: which parameters each function reads.

LibCST's scope and qualified-name metadata resolve every name a function reads, across imports
(relative ones too) and through module-level constants computed from parameters (``DOUBLE = BASE * 2``
elsewhere counts as reading ``BASE``); ``self.X`` / ``cls.X`` in a method counts as reading the class
attribute. The result is a frozen :class:`~.facts.ModuleFacts`, which the one ``ast`` pass
(:mod:`.instrument`) puts in the code it compiles. LibCST only reads here; the source it was given is
never regenerated from its tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, QualifiedNameProvider, QualifiedNameSource

from .facts import FunctionFacts, ModuleFacts
from .plan import ModulePlan


@dataclass
class _Reads:
    """What one function reads, collected while walking it."""

    name: str
    qualname: str
    param: str | None
    reads: set[str] = field(default_factory=set)
    default_reads: dict[str, set[str]] = field(default_factory=dict)


class _Analysis(cst.CSTVisitor):
    """Which parameters (or module-level constants derived from them) each function reads."""

    METADATA_DEPENDENCIES = (QualifiedNameProvider,)

    def __init__(self, plan: ModulePlan) -> None:
        self.plan = plan
        self.functions: list[_Reads] = []  # in the order the defs appear
        self.derived: dict[str, set[str]] = {}  # module-level NAME -> raw names read by its value
        self._stack: list[_Reads] = []
        self._scope: list[str] = []  # python-style qualname parts
        self._classes: list[str] = []  # enclosing class qualnames, for self.ATTR
        self._default_of: list[str] = []  # argument name while inside a default value
        self._module_assign: list[set[str]] = []
        self._own_names: set[cst.Name] = set()  # a def's own name is no read of anything

    # -- scopes ------------------------------------------------------------------------------------
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._scope.append(node.name.value)
        self._classes.append(".".join(self._scope))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._scope.pop()
        self._classes.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._own_names.add(node.name)
        self._scope.append(node.name.value)
        qualname = ".".join(self._scope)
        param = self.plan.functions.get(qualname) if not self._stack else None  # a nested def is no parameter
        found = _Reads(node.name.value, qualname, param)
        self.functions.append(found)
        self._stack.append(found)
        self._scope.append("<locals>")

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._scope.pop()
        self._scope.pop()
        self._stack.pop()

    def visit_Param(self, node: cst.Param) -> None:
        if node.default is not None:
            self._default_of.append(node.name.value)

    def leave_Param(self, original_node: cst.Param) -> None:
        if original_node.default is not None:
            self._default_of.pop()

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if not self._scope and len(node.body) == 1 and isinstance(node.body[0], (cst.Assign, cst.AnnAssign)):
            self._module_assign.append(set())

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        if self._scope or len(original_node.body) != 1:
            return
        stmt = original_node.body[0]
        if not isinstance(stmt, (cst.Assign, cst.AnnAssign)):
            return
        reads = self._module_assign.pop()
        targets = [t.target for t in stmt.targets] if isinstance(stmt, cst.Assign) else [stmt.target]
        for target in targets:
            if isinstance(target, cst.Name) and reads:
                self.derived[f"{self.plan.module}.{target.value}"] = reads

    # -- reads -------------------------------------------------------------------------------------
    def visit_Name(self, node: cst.Name) -> None:
        self._note(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._note(node)
        value = node.value
        if isinstance(value, cst.Name) and value.value in ("self", "cls") and self._classes:
            for cls in reversed(self._classes):
                self._add(f"{self.plan.module}.{cls}.{node.attr.value}")

    def _note(self, node: cst.Name | cst.Attribute) -> None:
        if not (self._stack or self._module_assign) or node in self._own_names:
            return
        for qname in self.get_metadata(QualifiedNameProvider, node, set()):
            if qname.source is QualifiedNameSource.BUILTIN:
                continue
            name = qname.name
            if qname.source is QualifiedNameSource.LOCAL:
                name = f"{self.plan.module}.{name}"
            elif name.startswith("."):
                name = self._absolute(name)
            self._add(name)

    def _add(self, name: str) -> None:
        target: set[str]
        if self._stack:
            facts = self._stack[-1]
            target = facts.default_reads.setdefault(self._default_of[-1], set()) if self._default_of else facts.reads
        else:
            target = self._module_assign[-1]
        target.add(name)

    def _absolute(self, relative: str) -> str:
        dots = len(relative) - len(relative.lstrip("."))
        package = self.plan.package.split(".") if self.plan.package else []
        base = package[: len(package) - (dots - 1)] if dots > 1 else package
        return ".".join([*base, relative[dots:]])

    # -- results -----------------------------------------------------------------------------------
    def params_in(self, names: set[str]) -> tuple[str, ...]:
        """The parameters among ``names``, following module-level derived constants."""
        found: set[str] = set()
        pending = list(names)
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in self.plan.param_names:
                found.add(name)
            pending.extend(self.derived.get(name, ()))
            pending.extend(self.plan.derived.get(name, ()))
        return tuple(sorted(found))


def analyze(source: str, plan: ModulePlan) -> ModuleFacts:
    """The facts of ``source`` (a module's source as it runs: candidate functions written in)."""
    analysis = _Analysis(plan)
    MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True).visit(analysis)
    functions = tuple(FunctionFacts(
        name=found.name,
        func=f"{plan.module}.{found.qualname}",
        reads=analysis.params_in(found.reads),
        default_reads=tuple((arg, params) for arg, names in sorted(found.default_reads.items())
                            if (params := analysis.params_in(names))),
        param=found.param,
    ) for found in analysis.functions)
    derived = {name: params for name, reads in analysis.derived.items()
               if (params := analysis.params_in(reads)) and name not in plan.param_names}
    return ModuleFacts(functions, derived)
