"""The one ``ast`` pass that turns a user's module into a recorded one.

It walks the syntax tree of the module's real source (so every user node keeps its true location)
with the facts static analysis found (:class:`~.facts.ModuleFacts`, from :mod:`.analysis`) and
changes three things; each node it adds takes the location of the node it replaces or decorates
(``ast.copy_location``, as pytest's assertion rewriter does), so tracebacks point at the user's lines:

* a marked literal ``RATE = 0.2  # autotrace: param`` (a module- or class-level assignment the plan
  names) gets the value ``@autotrace.param("m.RATE", 0.2)``: the module reads the parameter's current
  value from the runtime, so a candidate value is evaluated without touching the file, and
  ``from m import RATE`` elsewhere sees the same value;
* a plain function (``def`` without ``yield``) gets the innermost decorator ``@autotrace.function``
  and, in the recording tree, records inside its own frame (:func:`.frames.record_in_frame`);
* a generator, coroutine or async generator gets the innermost decorator
  ``@autotrace.record(func, reads, default_reads, param)``: the runtime wraps it.

``@autotrace`` is the runtime's name in the module's globals (put there by the import hook): no
Python source can spell it, so it never collides with the user's names. With ``recording=False`` the
pass makes the *quiet twin*: the same decorators and literals, the user's bodies unchanged (see
:mod:`.frames`).
"""

from __future__ import annotations

import ast

from .facts import FunctionFacts, ModuleFacts
from .frames import at_line, constant, is_generator, record_in_frame, runtime_attr
from .plan import ModulePlan


def instrument(tree: ast.Module, plan: ModulePlan, facts: ModuleFacts, *, recording: bool = True) -> ast.Module:
    """Rewrite ``tree`` (the module's source as it runs, parsed) in place and return it."""
    return _Instrument(plan, facts, recording).visit(tree)


class _Instrument(ast.NodeTransformer):
    def __init__(self, plan: ModulePlan, facts: ModuleFacts, recording: bool) -> None:
        self.plan = plan
        self.recording = recording
        self.functions = iter(facts.functions)  # in the order the defs appear, as this walk meets them
        self.classes: list[str] = []  # the enclosing classes' names, outside any function
        self.depth = 0  # function nesting
        self.ordinal = 0  # makes each definition's facts constant its own object (see Recorder.enter)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        self.classes.append(node.name)
        self.generic_visit(node)
        self.classes.pop()
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        facts = next(self.functions, None)
        if facts is None or facts.name != node.name:  # analysis and tree come from the same source
            raise RuntimeError(f"line {node.lineno}: the analysis has no facts for def {node.name}")
        self.depth += 1
        self.generic_visit(node)  # nested functions first: each records in its own frame
        self.depth -= 1
        if isinstance(node, ast.AsyncFunctionDef) or is_generator(node):
            decorator: ast.expr = _record_call(facts)
        else:
            decorator = runtime_attr("function")
            if self.recording:
                self.ordinal += 1
                record_in_frame(node, _constant(facts), self.ordinal)
        node.decorator_list.append(at_line(decorator, node.lineno, node.col_offset))  # the def's line
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Assign(self, node: ast.Assign) -> ast.Assign:
        if len(node.targets) == 1:
            self._literal(node, node.targets[0])
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AnnAssign:
        if node.value is not None:
            self._literal(node, node.target)
        return node

    def _literal(self, node: ast.Assign | ast.AnnAssign, target: ast.expr) -> None:
        """``NAME = value`` -> ``NAME = @autotrace.param("m.NAME", value)`` for a literal parameter."""
        if self.depth or not isinstance(target, ast.Name) or node.value is None:
            return
        name = self.plan.literals.get(".".join([*self.classes, target.id]))
        if name is not None:
            value, func = node.value, runtime_attr("param")
            node.value = call = ast.Call(func, [ast.Constant(name), value], [])
            for child in (call, func, func.value, call.args[0]):
                ast.copy_location(child, value)


def _constant(facts: FunctionFacts) -> tuple:
    return facts.func, facts.reads, facts.default_reads, facts.param


def _record_call(facts: FunctionFacts) -> ast.Call:
    """``@autotrace.record(func, reads, {argument: reads}, param)``: :meth:`Runtime.record`'s arguments."""
    defaults = ast.Dict([ast.Constant(arg) for arg, _ in facts.default_reads],
                        [constant(reads) for _, reads in facts.default_reads])
    return ast.Call(runtime_attr("record"),
                    [ast.Constant(facts.func), constant(facts.reads), defaults, ast.Constant(facts.param)], [])
