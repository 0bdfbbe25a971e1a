"""From a user's source to the code objects the import hook executes: analyse, one ``ast`` pass, compile.

1. LibCST analyses the module's source as it runs (:mod:`.analysis`): which parameters each function
   reads, as frozen :class:`~.facts.ModuleFacts`. Nothing is written back as text.
2. The syntax tree is :mod:`ast`'s parse of the user's real source, so every user node has its true
   location. A substituted candidate function (a code parameter's candidate value) is placed on that
   tree (:func:`place_candidates`): its own nodes, at the lines it has in the text that ran.
3. One pass (:mod:`.instrument`) rewrites marked literals, decorates every function and makes plain
   functions record in their own frame; what it adds takes the location of what it replaces or
   decorates. Run twice on the same facts, it gives the recording module and its quiet twin (only the
   decorators and literals: see :mod:`.frames`).

Tracebacks, warnings and ``inspect.getsource`` must show the lines that ran: the user's lines for the
user's code, a candidate's own lines for a candidate, which may be longer or shorter than the
function it replaces. So the text they read (``linecache``, the loader's ``get_source``) is the file as
it is on disk with each candidate that ran appended after its last line, and the candidate's nodes
carry the line numbers of that text.
"""

from __future__ import annotations

import ast
import pickle
from collections.abc import Iterable, Iterator
from types import CodeType

from .analysis import analyze
from .instrument import instrument
from .plan import ModulePlan


def place_candidates(original: str, source: str, qualnames: Iterable[str],
                     filename: str = "<unknown>") -> tuple[str, ast.Module]:
    """The text that ran for ``source`` (``original`` with the functions ``qualnames`` substituted),
    and the syntax tree of ``source`` located in that text.

    The text is ``original`` followed by each candidate as it stands in ``source`` (decorators to last
    line, one comment line before it): the user's lines keep their numbers and text, however long a
    candidate is, and a candidate's lines have numbers of their own whose text is the candidate's.
    The tree is ``original``'s, each of those functions replaced by its node from ``source``, moved
    to its lines in the text.
    """
    tree = ast.parse(original, filename)
    written = {qualname: (body, i) for qualname, body, i in _definitions(ast.parse(source, filename).body)}
    wanted = set(qualnames)
    shown = original if not original or original.endswith(("\n", "\r")) else original + "\n"
    count = len(shown.splitlines())
    lines = source.splitlines(keepends=True)
    parts = [shown]
    placed: dict[str, ast.stmt] = {}
    for qualname in sorted(wanted, key=lambda name: _first_line(_at(written[name]))):
        node = _at(written[qualname])
        first, last = _first_line(node), node.end_lineno or node.lineno
        parts.append(f"# autotrace: the candidate {qualname} that ran (appended: not in the file)\n")
        count += 1
        ast.increment_lineno(node, count + 1 - first)
        placed[qualname] = node
        text = "".join(lines[first - 1 : last])
        parts.append(text if text.endswith("\n") else text + "\n")
        count += last - first + 1
    for qualname, body, i in _definitions(tree.body):
        if qualname in placed:
            body[i] = placed[qualname]
    return "".join(parts), tree


def _definitions(body: list[ast.stmt], prefix: str = "") -> Iterator[tuple[str, list[ast.stmt], int]]:
    """``(qualname, the body holding it, its index there)`` of each function outside any function
    (module- and class-level, in ``if``/``try``/``with`` blocks too: where a code parameter can be)."""
    for i, stmt in enumerate(body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + stmt.name, body, i
        elif isinstance(stmt, ast.ClassDef):
            yield from _definitions(stmt.body, f"{prefix}{stmt.name}.")
        else:
            for _, value in ast.iter_fields(stmt):
                if isinstance(value, list):
                    for item in value:
                        if isinstance(item, (ast.ExceptHandler, ast.match_case)):
                            yield from _definitions(item.body, prefix)
                    if value and isinstance(value[0], ast.stmt):
                        yield from _definitions(value, prefix)


def _at(where: tuple[list[ast.stmt], int]) -> ast.stmt:
    body, i = where
    return body[i]


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])


def rewrite_tree(source: str, filename: str, plan: ModulePlan, tree: ast.Module | None = None, *,
                 recording: bool = True) -> ast.Module:
    """The syntax tree of ``source`` instrumented for ``plan``: ``tree`` (from :func:`place_candidates`
    when a candidate function was substituted; parsed from ``source`` otherwise) after the one pass."""
    if tree is None:
        tree = ast.parse(source, filename)
    return instrument(tree, plan, analyze(source, plan), recording=recording)


def compile_instrumented(source: str, filename: str, plan: ModulePlan,
                         tree: ast.Module | None = None) -> tuple[CodeType, CodeType]:
    """Instrument ``source`` for ``plan`` and compile it with the user's file name and the line numbers
    of the text that ran (see :func:`rewrite_tree`): the recording module code and its quiet twin
    (one analysis for both; the pass rewrites a tree in place, so each gets its own)."""
    if tree is None:  # parsed first: Python's own message for a file that does not parse
        trees = (ast.parse(source, filename), ast.parse(source, filename))
    else:  # a deep copy through pickle, several times faster than copy.deepcopy (docs/decisions/import-cache.md)
        trees = (tree, pickle.loads(pickle.dumps(tree, pickle.HIGHEST_PROTOCOL)))
    facts = analyze(source, plan)
    recording, quiet = (compile(instrument(t, plan, facts, recording=r), filename, "exec", dont_inherit=True)
                        for t, r in zip(trees, (True, False), strict=True))
    return recording, quiet
