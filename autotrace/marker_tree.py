"""The LibCST side of marker discovery: marked assignments and functions in one file's concrete tree.

Only :func:`autotrace.markers.find_params` imports this module, when a file may hold a
marker or a selector names it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from autotrace import domain as domains
from autotrace.cst_nodes import nodes_of
from autotrace.params import ParamKind, ParamSpec

from .markers import MARKER, MarkerError, marker_text, module_name, read_source, relpath

_LITERAL_LEAVES = (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString)


def is_literal(node: cst.BaseExpression) -> bool:
    """A literal the way ``ast.literal_eval`` sees one (no f-strings, names other than True/False/None)."""
    if isinstance(node, _LITERAL_LEAVES):
        return True
    if isinstance(node, cst.Name):
        return node.value in ("True", "False", "None")
    if isinstance(node, cst.ConcatenatedString):
        return is_literal(node.left) and is_literal(node.right)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        return isinstance(node.expression, (cst.Integer, cst.Float, cst.Imaginary))
    if isinstance(node, (cst.Tuple, cst.List, cst.Set)):
        return all(isinstance(el, cst.Element) and is_literal(el.value) for el in node.elements)
    if isinstance(node, cst.Dict):
        return all(isinstance(el, cst.DictElement) and is_literal(el.key) and is_literal(el.value)
                   for el in node.elements)
    return False


class _Finder(cst.CSTVisitor):
    """Collects marked assignments and functions with their qualified names."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, module: cst.Module, wanted: set[str]) -> None:
        self.module = module
        self.wanted = wanted
        self.scope: list[str] = []
        self.in_function = 0
        # (qualname, kind, description, line, node): the literal's value or the function
        self.found: list[tuple[str, ParamKind, str, int, cst.BaseExpression | cst.FunctionDef]] = []
        self.errors: list[str] = []

    # -- scopes ------------------------------------------------------------------------------------
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.scope.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.scope.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        qualname = ".".join([*self.scope, node.name.value])
        description = self._function_marker(node)
        if (description is not None or qualname in self.wanted) and not self.in_function:
            self.found.append((qualname, ParamKind.CODE, description or "", self._line(node), node))
        elif description is not None:
            self.errors.append(f"line {self._line(node)}: '# {MARKER}' on nested function {qualname}: "
                               "only module-level functions and methods can be parameters")
        self.scope.append(node.name.value)
        self.in_function += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.scope.pop()
        self.in_function -= 1

    # -- statements --------------------------------------------------------------------------------
    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        description = _first_marker(_comments_in(node.with_changes(leading_lines=())))
        target = _assigned_name(node)
        qualname = ".".join([*self.scope, target]) if target else None
        selected = qualname in self.wanted if qualname else False
        if description is None and not selected:
            return
        line = self._line(node)
        where = qualname or "this statement"
        if self.in_function:
            self.errors.append(f"line {line}: '# {MARKER}' on {where} inside a function: "
                               "only module- and class-level constants can be parameters")
        elif qualname is None:
            self.errors.append(f"line {line}: '# {MARKER}' marks a statement that is not `NAME = <literal>`")
        else:
            value = _assigned_value(node)
            if value is None or not is_literal(value):
                code = self.module.code_for_node(value).strip() if value is not None else "nothing"
                self.errors.append(f"line {line}: {qualname} = {code[:60]} is not a literal "
                                   "(int, float, str, bool, None, or a tuple/list/dict of those)")
            else:
                self.found.append((qualname, ParamKind.LITERAL, description or "", line, value))

    def _line(self, node: cst.CSTNode) -> int:
        return self.get_metadata(PositionProvider, node).start.line

    def _function_marker(self, node: cst.FunctionDef) -> str | None:
        comments: list[str] = []
        if isinstance(node.body, cst.IndentedBlock) and node.body.header.comment:
            comments.append(node.body.header.comment.value)
        elif isinstance(node.body, cst.SimpleStatementSuite) and node.body.trailing_whitespace.comment:
            comments.append(node.body.trailing_whitespace.comment.value)
        above = node.leading_lines  # above the first decorator, or above the def when there is none
        after = node.lines_after_decorators  # between the last decorator and the def
        for lines in (above, after, *(d.leading_lines for d in node.decorators)):
            if lines and lines[-1].comment:
                comments.append(lines[-1].comment.value)
        if not above and self.module.body and self.module.body[0] is node and self.module.header:
            last = self.module.header[-1]  # LibCST keeps comments above the first statement in the header
            if last.comment:
                comments.append(last.comment.value)
        return _first_marker(comments)


def _comments_in(node: cst.CSTNode) -> list[str]:
    return [c.value for c in nodes_of(node, cst.Comment)]


def _first_marker(comments: Iterable[str]) -> str | None:
    for comment in comments:
        text = marker_text(comment)
        if text is not None:
            return text
    return None


def _single_target(node: cst.SimpleStatementLine) -> cst.Assign | cst.AnnAssign | None:
    if len(node.body) != 1:
        return None
    stmt = node.body[0]
    if isinstance(stmt, cst.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0].target, cst.Name):
        return stmt
    if isinstance(stmt, cst.AnnAssign) and isinstance(stmt.target, cst.Name) and stmt.value is not None:
        return stmt
    return None


def _assigned_name(node: cst.SimpleStatementLine) -> str | None:
    stmt = _single_target(node)
    if stmt is None:
        return None
    target = stmt.targets[0].target if isinstance(stmt, cst.Assign) else stmt.target
    return target.value if isinstance(target, cst.Name) else None  # a Name: _single_target checked


def _assigned_value(node: cst.SimpleStatementLine) -> cst.BaseExpression | None:
    stmt = _single_target(node)
    return stmt.value if stmt is not None else None


def params_in(path: Path, root: Path, search_roots: Sequence[Path], selected: Iterable[str] = ()) -> list[ParamSpec]:
    """Parameters in one file: its markers plus the qualnames ``selected`` for it.

    Raises :class:`MarkerError` (one line: file, line, what is wrong) for a marker on something that
    cannot be a parameter or a selector that names nothing.
    """
    wanted = set(selected)
    source = read_source(path)
    rel = relpath(path, root)
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        line, message = exc.raw_line, exc.message
        try:  # Python's own parser points at the right line with a clearer message
            compile(source, rel, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        except SyntaxError as error:
            line, message = error.lineno or line, error.msg
        raise MarkerError(f"{rel}:{line}: syntax error: {message}") from None
    finder = _Finder(module, wanted)
    MetadataWrapper(module, unsafe_skip_copy=True).visit(finder)
    if finder.errors:
        raise MarkerError(f"{rel}:{finder.errors[0]}")
    missing = wanted - {q for q, *_ in finder.found}
    if missing:
        raise MarkerError(f"{rel}: selector {rel}::{sorted(missing)[0]} names nothing in that file "
                          "(expected a module/class-level `NAME = <literal>`, a function or a method)")
    modname = module_name(path, search_roots)
    specs = []
    for qualname, kind, description, line, node in finder.found:
        code = module.code_for_node(node)
        domain = None
        if not isinstance(node, cst.FunctionDef):  # a literal's value
            initial: object = ast.literal_eval(code.strip())
            signature = ""
            try:
                domain, _ = domains.parse(description)
                domain = domains.fit(domain, initial) if domain is not None else None
            except domains.DomainError as error:
                raise MarkerError(f"{rel}:{line}: {qualname}: {error}") from None
        else:
            initial = _dedent_def(node)
            signature = _signature_text(node)
        specs.append(ParamSpec(key=f"{rel}::{qualname}", path=path.resolve(), module=modname, qualname=qualname,
                               kind=kind, description=description, initial=initial, line=line,
                               signature=signature, domain=domain))
    return specs


def _dedent_def(node: cst.FunctionDef) -> str:
    """The function's source without decorators or surrounding comments, at column 0."""
    bare = node.with_changes(decorators=(), leading_lines=(), lines_after_decorators=())
    return cst.Module(body=[bare]).code.rstrip() + "\n"


def _signature_text(node: cst.FunctionDef) -> str:
    return cst.Module(body=[]).code_for_node(node.params)
