"""From a user's source to the code object the import hook executes.

The LibCST rewrite (:mod:`.instrument`) adds decorator lines, and a substituted candidate function
may be longer or shorter than the original. Tracebacks, ``inspect.getsource`` and coverage must still
point at the user's lines, so after parsing the rewritten text with :mod:`ast` every node's line
numbers are mapped back to the original file through a line alignment (``difflib``), and the
placeholder runtime name is renamed to ``@autotrace``, which no Python source can contain. Then
:mod:`.frames` rewrites the bodies of plain functions so they record inside their own frame: on the
syntax tree, where the generated statements simply take the ``def``'s line and every user statement
keeps the line it already has (a text rewrite would re-indent the body and insert lines that a line
alignment would have to guess).
"""

from __future__ import annotations

import ast
import difflib
from types import CodeType

from .frames import record_in_frames
from .instrument import instrument
from .plan import PLACEHOLDER, RUNTIME_NAME, ModulePlan


def line_map(original: str, rewritten: str) -> list[int]:
    """``result[n]`` is the original line number for rewritten line ``n`` (1-based; index 0 unused).

    Lines kept or changed in place map one to one; inserted lines map to the next original line, so
    an inserted decorator takes the line of the ``def`` it decorates.
    """
    old = original.splitlines()
    new = rewritten.splitlines()
    mapping = [0] * (len(new) + 2)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for offset, j in enumerate(range(j1, j2)):
            if tag in ("equal", "replace"):
                i = min(i1 + offset, max(i2 - 1, i1))
            else:  # insert: belongs to what follows
                i = i1
            mapping[j + 1] = min(i + 1, max(len(old), 1))
    mapping[len(new) + 1] = max(len(old), 1)
    return mapping


class _Fixer(ast.NodeTransformer):
    def __init__(self, mapping: list[int]) -> None:
        self.mapping = mapping
        self.last = len(mapping) - 1

    def generic_visit(self, node: ast.AST) -> ast.AST:
        lineno = getattr(node, "lineno", None)
        if lineno is not None:
            node.lineno = self.mapping[min(lineno, self.last)]
            end = getattr(node, "end_lineno", None)
            if end is not None:
                node.end_lineno = max(self.mapping[min(end, self.last)], node.lineno)
        return super().generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == PLACEHOLDER:
            node.id = RUNTIME_NAME
        return self.generic_visit(node)


def rewrite_tree(source: str, filename: str, plan: ModulePlan, original: str | None = None) -> ast.Module:
    """The final syntax tree of ``source`` instrumented for ``plan``: the LibCST rewrite parsed, line
    numbers mapped back to ``original`` (the file's text on disk when ``source`` differs from it: a
    candidate function was substituted), the runtime renamed, plain functions recording in their
    own frame (:mod:`.frames`)."""
    if PLACEHOLDER in source:
        raise SyntaxError(f"{filename}: uses the reserved name {PLACEHOLDER}")
    rewritten = instrument(source, plan)
    tree = ast.parse(rewritten, filename)
    tree = _Fixer(line_map(original if original is not None else source, rewritten)).visit(tree)
    return record_in_frames(tree)


def compile_instrumented(source: str, filename: str, plan: ModulePlan, original: str | None = None) -> CodeType:
    """Instrument ``source`` for ``plan`` and compile it with the user's file name and line numbers."""
    return compile(rewrite_tree(source, filename, plan, original), filename, "exec", dont_inherit=True)
