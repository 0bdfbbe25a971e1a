"""The LibCST transformer that turns a user's module into a recorded one.

Two rewrites, nothing else:

* a marked literal ``RATE = 0.2  # autotrace: param`` becomes ``RATE = __autotrace_rt__.param("m.RATE",
  0.2)``: the module reads the parameter's current value from the runtime, so a candidate value is
  evaluated without touching the file, and ``from m import RATE`` elsewhere sees the same value;
* every function gets an innermost decorator ``@__autotrace_rt__.record(...)`` carrying what static
  analysis knows about it: its display name, the parameters its body reads (resolved with LibCST's
  scope and qualified-name metadata, across imports and through module-level derived constants),
  the parameters its default arguments read, and the parameter it *is* when it is a code parameter.

That decorator is the whole story for generators, coroutines and async generators (the runtime wraps
them). A plain function is then rewritten on the syntax tree by :mod:`.frames` to record inside its
own frame: the decorator's facts move into its body and the decorator becomes
``@autotrace.function``, which returns the function itself. That stage works on :mod:`ast` after the
line numbers are restored (:mod:`.compile`), because it re-indents the whole body and duplicates each
returned expression, which a text rewrite could not keep on the user's lines.

The placeholder name is renamed to ``@autotrace`` after parsing (see :mod:`.compile`), a name no user
code can spell, so it can never collide with the user's names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, QualifiedNameProvider, QualifiedNameSource

from .plan import PLACEHOLDER, ModulePlan

@dataclass
class _FunctionFacts:
    qualname: str
    reads: set[str] = field(default_factory=set)
    default_reads: dict[str, set[str]] = field(default_factory=dict)


class _Analysis(cst.CSTVisitor):
    """First pass: which parameters (or module-level constants derived from them) each function reads."""

    METADATA_DEPENDENCIES = (QualifiedNameProvider,)

    def __init__(self, plan: ModulePlan) -> None:
        self.plan = plan
        self.functions: dict[cst.FunctionDef, _FunctionFacts] = {}
        self.derived: dict[str, set[str]] = {}  # module-level NAME -> raw names read by its value
        self._stack: list[_FunctionFacts] = []
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
        facts = _FunctionFacts(".".join(self._scope))
        self.functions[node] = facts
        self._stack.append(facts)
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


def _call(func: str, *args: cst.BaseExpression) -> cst.Call:
    return cst.Call(
        func=cst.Attribute(value=cst.Name(PLACEHOLDER), attr=cst.Name(func)),
        args=[cst.Arg(a) for a in args],
    )


def _literal(value: object) -> cst.BaseExpression:
    return cst.parse_expression(repr(value))


class _Rewrite(cst.CSTTransformer):
    """Second pass: wrap literals and decorate functions, using the analysis' facts."""

    def __init__(self, plan: ModulePlan, analysis: _Analysis) -> None:
        self.plan = plan
        self.analysis = analysis
        self._scope: list[str] = []
        self._depth = 0  # function nesting

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._scope.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        self._scope.pop()
        return updated_node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._scope.append(node.name.value)
        self._depth += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        qualname = ".".join(self._scope)
        self._scope.pop()
        self._depth -= 1
        facts = self.analysis.functions[original_node]
        defaults = cst.Dict([
            cst.DictElement(_literal(arg), _literal(self.analysis.params_in(names)))
            for arg, names in sorted(facts.default_reads.items()) if self.analysis.params_in(names)
        ])
        param = self.plan.functions.get(qualname) if self._depth == 0 else None
        decorator = cst.Decorator(_call(
            "record",
            _literal(f"{self.plan.module}.{facts.qualname}"),
            _literal(self.analysis.params_in(facts.reads)),
            defaults,
            _literal(param),
        ))
        return updated_node.with_changes(decorators=[*updated_node.decorators, decorator])

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine:
        if self._depth or len(updated_node.body) != 1:
            return updated_node
        stmt = updated_node.body[0]
        if isinstance(stmt, cst.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0].target
        elif isinstance(stmt, cst.AnnAssign) and stmt.value is not None:
            target = stmt.target
        else:
            return updated_node
        if not isinstance(target, cst.Name):
            return updated_node
        name = self.plan.literals.get(".".join([*self._scope, target.value]))
        if name is None:
            return updated_node
        wrapped = _call("param", _literal(name), stmt.value)  # type: ignore[arg-type]
        return updated_node.with_changes(body=[stmt.with_changes(value=wrapped)])


def instrument(source: str, plan: ModulePlan) -> str:
    """Rewrite ``source``; the result uses :data:`PLACEHOLDER` and keeps every original line's content
    in order (only decorator lines are added), which :mod:`.compile` relies on to restore line numbers."""
    wrapper = MetadataWrapper(cst.parse_module(source))
    analysis = _Analysis(plan)
    wrapper.visit(analysis)
    return wrapper.module.visit(_Rewrite(plan, analysis)).code


def derived_constants(source: str, plan: ModulePlan) -> dict[str, tuple[str, ...]]:
    """Module-level names of this module whose value is computed from parameters (``DOUBLE = BASE * 2``)."""
    wrapper = MetadataWrapper(cst.parse_module(source))
    analysis = _Analysis(plan)
    wrapper.visit(analysis)
    found = {name: analysis.params_in(reads) for name, reads in analysis.derived.items()}
    return {name: params for name, params in found.items() if params and name not in plan.param_names}
