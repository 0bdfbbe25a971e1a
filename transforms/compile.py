"""From a user's source to the code object the import hook executes.

The LibCST rewrite (:mod:`.instrument`) adds decorator lines, and a substituted candidate function
may be longer or shorter than the original. Tracebacks, warnings and ``inspect.getsource`` must show
the lines that ran: the user's lines for the user's code, the candidate's own lines for a candidate.
So the text they read (``linecache``, the loader's ``get_source``) is the file as it is on disk with
each candidate that ran appended after its last line (:func:`place_candidates`); after parsing the
rewritten text with :mod:`ast` every node's line numbers are mapped to that text (inserted decorator
lines through a line alignment, ``difflib``), and the placeholder runtime name is renamed to
``@autotrace``, which no Python source can contain. Then
:mod:`.frames` rewrites the bodies of plain functions so they record inside their own frame: on the
syntax tree, where the generated statements simply take the ``def``'s line and every user statement
keeps the line it already has (a text rewrite would re-indent the body and insert lines that a line
alignment would have to guess). The same tree, compiled once more with only the decorators, gives
each such function a quiet twin to run while nothing records (see :mod:`.frames`).
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable, Sequence
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


def place_candidates(original: str, source: str, qualnames: Iterable[str]) -> tuple[str, list[int]]:
    """The text that ran, for ``source`` (``original`` with the functions ``qualnames`` substituted),
    and where each line of ``source`` is in it (``result[1][n]`` for line ``n``, index 0 unused).

    The text is ``original`` followed by each candidate as it stands in ``source`` (decorators to last
    line, one comment line before it): the user's lines keep their numbers and text, however long a
    candidate is, and a candidate's lines have numbers of their own whose text is the candidate's.
    """
    base = line_map(original, source)
    shown = original if not original or original.endswith(("\n", "\r")) else original + "\n"
    count = len(shown.splitlines())
    lines = source.splitlines(keepends=True)
    parts = [shown]
    for qualname, first, last in sorted(_spans(ast.parse(source), set(qualnames)), key=lambda span: span[1]):
        parts.append(f"# autotrace: the candidate {qualname} that ran (appended: not in the file)\n")
        count += 1
        for n in range(first, last + 1):
            base[n] = count + 1 + n - first
        body = "".join(lines[first - 1 : last])
        parts.append(body if body.endswith("\n") else body + "\n")
        count += last - first + 1
    return "".join(parts), base


def _spans(tree: ast.Module, qualnames: set[str]) -> list[tuple[str, int, int]]:
    """``(qualname, first line, last line)`` of each module- or class-level function in ``qualnames``."""
    found = []
    pending: list[tuple[str, list[ast.stmt]]] = [("", tree.body)]
    while pending:
        prefix, body = pending.pop()
        for node in body:
            if isinstance(node, ast.ClassDef):
                pending.append((f"{prefix}{node.name}.", node.body))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and prefix + node.name in qualnames:
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                found.append((prefix + node.name, first, node.end_lineno or node.lineno))
    return found


def rewrite_tree(source: str, filename: str, plan: ModulePlan, placed: Sequence[int] | None = None) -> ast.Module:
    """The final syntax tree of ``source`` instrumented for ``plan`` (its recording form): the LibCST
    rewrite parsed, line numbers mapped to the text that ran (``placed``, from :func:`place_candidates`,
    when a candidate function was substituted), the runtime renamed, plain functions recording in
    their own frame (:mod:`.frames`)."""
    rewritten, lines = _rewrite(source, filename, plan, placed)
    return _final_tree(rewritten, filename, lines, recording=True)


def compile_instrumented(source: str, filename: str, plan: ModulePlan,
                         placed: Sequence[int] | None = None) -> tuple[CodeType, CodeType]:
    """Instrument ``source`` for ``plan`` and compile it with the user's file name and the line
    numbers of the text that ran (see :func:`rewrite_tree`): the recording module code and its quiet
    twin (the LibCST rewrite and the line alignment are made once for both)."""
    rewritten, lines = _rewrite(source, filename, plan, placed)
    recording, quiet = (compile(_final_tree(rewritten, filename, lines, recording), filename, "exec",
                                dont_inherit=True) for recording in (True, False))
    return recording, quiet


def _rewrite(source: str, filename: str, plan: ModulePlan,
             placed: Sequence[int] | None) -> tuple[str, list[int]]:
    """The LibCST rewrite of ``source`` and, per rewritten line, its line in the text that ran."""
    if PLACEHOLDER in source:
        raise SyntaxError(f"{filename}: uses the reserved name {PLACEHOLDER}")
    rewritten = instrument(source, plan)
    lines = line_map(source, rewritten)
    if placed is not None:
        last = len(placed) - 1
        lines = [placed[min(n, last)] for n in lines]
    return rewritten, lines


def _final_tree(rewritten: str, filename: str, lines: list[int], recording: bool) -> ast.Module:
    tree = _Fixer(lines).visit(ast.parse(rewritten, filename))
    return record_in_frames(tree, recording=recording)
