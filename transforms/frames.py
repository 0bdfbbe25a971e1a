"""Recording a plain function inside its own frame: the body the one ``ast`` pass (:mod:`.instrument`)
gives a ``def`` without ``yield`` (``async def`` and generators keep the runtime's wrapper)::

    @autotrace.function                       # registers the function (and gives it the code to run)
    def f(a, b=1, *rest, c, **more):
        '''doc'''                             # the docstring stays first: f.__doc__
        @call = @autotrace.recorder            # None unless a recorder is active
        if @call is not None:
            @call = @call.enter(FACTS, (a, b, rest, c, more))   # the recorder -> this call's record
        try:
            ...                               # the user's body, each `return X` rewritten to
            return X if @call is None else @autotrace.result(@call, X)
            return None if @call is None else @autotrace.result(@call, None)   # falling off the end
        except:                               # every BaseException
            if @call is not None:
                @autotrace.error(@call)
            raise                             # bare: the traceback keeps the user's line
        finally:
            if @call is not None:
                @autotrace.leave(@call)

The quiet tree (the pass with ``recording=False``) gets only the decorator: the *quiet twin* of
every such function, the user's body unchanged. The import hook compiles both trees; a function runs
its quiet code while nothing records and its recording code while a recorder is active (the runtime
swaps ``__code__``, see :mod:`autotrace.runtime`), so code that is instrumented but not being
recorded costs what plain Python costs. The two trees hold their functions' code objects in the same
order, which is how the runtime pairs them.

``FACTS`` is one constant tuple: the analysis' facts (:class:`~.facts.FunctionFacts`) plus the
parameters' names and kinds (known here, so arguments are read from the frame by name and never
bound to a signature later), and an ordinal that makes it one object per definition (the recorder
keys what it learns on it). Why in the frame and not around it: see :mod:`autotrace.runtime`.
Recording code that runs with no recorder (a function copied by value, whose code the runtime cannot
swap) costs the prologue's global load, attribute load, local store and ``is None`` test, and one
local test per return and in the ``finally`` (no tuple is built, nothing is called); recording, the
prologue calls the recorder directly.

Every user statement keeps its line; the generated statements take the ``def`` line (a rewritten
return takes the return's). ``@call`` and ``@autotrace`` cannot be spelled in Python source, so they
never collide with the user's names; each rewritten function assigns its own ``@call``, so a nested
function's is its own local, and the returns of nested functions, lambdas and classes belong to
their own scope (the pass rewrites a nested ``def``, with its own ``@call``, before its parent).
"""

from __future__ import annotations

import ast
import copy
from typing import TypeVar

from autotrace.recorder import KEYWORD_ONLY, POSITIONAL, VAR_KEYWORD, VAR_POSITIONAL

from .plan import RUNTIME_NAME

#: The local that holds the call's record (None when not recording).
CALL_NAME = "@call"

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_Node = TypeVar("_Node", bound=ast.AST)


def record_in_frame(node: ast.FunctionDef, facts: tuple, ordinal: int) -> None:
    """Rewrite the body of the plain function ``node`` (its nested functions already rewritten) to
    record inside its frame; ``facts`` is ``(func, reads, default_reads pairs, param)``."""
    line, col = node.lineno, node.col_offset
    params = _params(node.args)
    has_defaults = bool(node.args.defaults) or any(d is not None for d in node.args.kw_defaults)
    facts_tuple = (*facts, tuple(params), has_defaults, ordinal)
    body = list(node.body)
    doc = [body.pop(0)] if body and _is_docstring(body[0]) else []
    _Returns().visit_body(body)
    if not body or not isinstance(body[-1], (ast.Return, ast.Raise)):
        body.append(at_line(ast.Return(_returned(ast.Constant(None))), line, col))
    values = ast.Tuple([ast.Name(n, ast.Load()) for n, _ in params], ast.Load())
    enter = ast.Call(ast.Attribute(ast.Name(CALL_NAME, ast.Load()), "enter", ast.Load()),
                     [constant(facts_tuple), values], [])
    prologue = [ast.Assign([ast.Name(CALL_NAME, ast.Store())], runtime_attr("recorder")),
                ast.If(ast.Compare(ast.Name(CALL_NAME, ast.Load()), [ast.IsNot()], [ast.Constant(None)]),
                       [ast.Assign([ast.Name(CALL_NAME, ast.Store())], enter)], [])]
    # a bare `except:` (every BaseException) reads no global the user's module could shadow
    handler = ast.ExceptHandler(None, None, [_if_recording(runtime_attr("error")), ast.Raise(None, None)])
    guard = ast.Try([], [handler], [], [_if_recording(runtime_attr("leave"))])
    for stmt in (*prologue, guard):
        at_line(stmt, line, col)
    guard.body = body  # the user's statements keep their own lines
    node.body = [*doc, *prologue, guard]


class _Returns(ast.NodeTransformer):
    """``return X`` -> ``return X if @call is None else @autotrace.result(@call, X)``, in this scope only."""

    def visit_body(self, body: list[ast.stmt]) -> None:
        for i, stmt in enumerate(body):
            body[i] = self.visit(stmt)

    def visit_Return(self, node: ast.Return) -> ast.Return:
        value = node.value if node.value is not None else ast.Constant(None)
        return _fill(ast.copy_location(ast.Return(_returned(value)), node), node)

    def _skip(self, node: ast.AST) -> ast.AST:
        return node  # a nested scope's returns are its own

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _skip


def _returned(value: ast.expr) -> ast.expr:
    """``value if @call is None else @autotrace.result(@call, value)`` (``value`` is evaluated once)."""
    copied = copy.deepcopy(value)
    return ast.IfExp(_is_none(ast.Name(CALL_NAME, ast.Load())), value,
                     ast.Call(runtime_attr("result"), [ast.Name(CALL_NAME, ast.Load()), copied], []))


def _fill(node: _Node, where: ast.AST) -> _Node:
    """Give ``where``'s location to every node under ``node`` that has none yet."""
    for child in ast.walk(node):
        if "lineno" in child._attributes and not hasattr(child, "lineno"):
            ast.copy_location(child, where)
    return node


def at_line(node: _Node, line: int, col: int) -> _Node:
    """Put every node under ``node`` on ``line`` (a zero-width position at ``col``)."""
    position = {"lineno": line, "end_lineno": line, "col_offset": col, "end_col_offset": col}
    for child in ast.walk(node):
        if "lineno" in child._attributes:  # the node kinds with a position (typeshed's ast.AST has none)
            for name, value in position.items():
                setattr(child, name, value)
    return node


def constant(value: object) -> ast.Constant:
    """``ast.Constant(value)`` for any value ``compile`` accepts in one, tuples of constants included
    (typeshed lists only the scalar kinds)."""
    return ast.Constant(value)  # type: ignore[arg-type]


def runtime_attr(attr: str) -> ast.Attribute:
    """``@autotrace.attr``: an attribute of the runtime the import hook binds in the module."""
    return ast.Attribute(ast.Name(RUNTIME_NAME, ast.Load()), attr, ast.Load())


def _is_none(value: ast.expr) -> ast.Compare:
    return ast.Compare(value, [ast.Is()], [ast.Constant(None)])


def _if_recording(method: ast.expr) -> ast.If:
    test = ast.Compare(ast.Name(CALL_NAME, ast.Load()), [ast.IsNot()], [ast.Constant(None)])
    return ast.If(test, [ast.Expr(ast.Call(method, [ast.Name(CALL_NAME, ast.Load())], []))], [])


def _params(args: ast.arguments) -> list[tuple[str, int]]:
    params = [(a.arg, POSITIONAL) for a in (*args.posonlyargs, *args.args)]
    if args.vararg is not None:
        params.append((args.vararg.arg, VAR_POSITIONAL))
    params.extend((a.arg, KEYWORD_ONLY) for a in args.kwonlyargs)
    if args.kwarg is not None:
        params.append((args.kwarg.arg, VAR_KEYWORD))
    return params


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def is_generator(node: ast.FunctionDef) -> bool:
    """Whether ``yield`` appears in the function's own scope (not in a nested one)."""
    pending: list[ast.AST] = [*node.body]
    while pending:
        current = pending.pop()
        if isinstance(current, (ast.Yield, ast.YieldFrom)):
            return True
        if not isinstance(current, _SCOPES):
            pending.extend(ast.iter_child_nodes(current))
    return False
