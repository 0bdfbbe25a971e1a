"""Finding parameters in plain Python: ``# autotrace: param`` comments and ``FILE::NAME`` selectors.

Marks live in comments, which only a concrete syntax tree keeps, so discovery walks a LibCST tree
with declared metadata (positions) instead of scanning text (:mod:`.marker_tree`). A file is parsed
only when the cheap text test says it may hold a marker or when a selector names it, and LibCST is
imported only then: a project without markers (a third-party suite under ``--autotrace-all``) never
loads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from autotrace.params import ParamSpec

MARKER = "autotrace: param"
_MARKER_RE = re.compile(r"#\s*autotrace:\s*param\b\s*(.*)$")
#: Folders that hold no code of the project's own (version control, environments, caches, builds):
#: never searched for markers nor instrumented.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "env", "__pycache__", ".autotrace", "node_modules",
                       "build", "dist", ".tox", ".nox", ".mypy_cache", ".pytest_cache", "site-packages", ".eggs"})


class MarkerError(Exception):
    """A marker or selector that names nothing valid; the message is one line with file and line."""


def marker_text(comment: str) -> str | None:
    """The description after the marker (``""`` when none), or None when the comment is no marker."""
    match = _MARKER_RE.search(comment)
    return match.group(1).strip() if match else None


@dataclass(frozen=True)
class Selector:
    """``FILE::NAME`` from the command line or ``[tool.autotrace] params``."""

    path: Path
    qualname: str

    @classmethod
    def parse(cls, text: str, base: Path) -> Selector:
        file, sep, name = text.partition("::")
        if not sep or not file or not name or not all(part.isidentifier() for part in name.split(".")):
            raise MarkerError(f"selector {text!r}: expected FILE::NAME, e.g. rates.py::BASE_FEE or app.py::Cart.total")
        return cls((base / file).resolve(), name)


def module_name(path: Path, search_roots: Sequence[Path]) -> str:
    """Dotted module name of ``path`` as seen from the first search root that contains it."""
    for root in search_roots:
        try:
            rel = path.resolve().relative_to(root.resolve())
        except ValueError:
            continue
        parts = list(rel.with_suffix("").parts)
        if parts and parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts)
    return path.stem


def find_params(path: Path, root: Path, search_roots: Sequence[Path], selected: Iterable[str] = ()) -> list[ParamSpec]:
    """Parameters in one file: its markers plus the qualnames ``selected`` for it.

    Raises :class:`MarkerError` (one line: file, line, what is wrong) for a marker on something that
    cannot be a parameter or a selector that names nothing.
    """
    from .marker_tree import params_in  # LibCST is loaded only when a file is parsed

    return params_in(path, root, search_roots, selected)


def read_source(path: Path) -> str:
    """Source text decoded the way Python decodes it (PEP 263 cookie, BOM); one-line error otherwise."""
    import tokenize

    try:
        with tokenize.open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        raise MarkerError(f"{path}: no such file") from None
    except (SyntaxError, UnicodeDecodeError) as exc:
        raise MarkerError(f"{path}: cannot decode source ({exc})") from None


def relpath(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def candidate_files(root: Path) -> Iterable[Path]:
    """Python files under ``root`` that may hold a marker: a cheap byte search before any parsing."""
    needle = MARKER.encode()
    for path in sorted(root.rglob("*.py")):
        if SKIP_DIRS.intersection(path.relative_to(root).parts[:-1]):
            continue
        try:
            if needle in path.read_bytes():
                yield path
        except OSError:
            continue


def discover(root: Path, search_roots: Sequence[Path], selectors: Sequence[Selector] = (),
             files: Iterable[Path] = ()) -> list[ParamSpec]:
    """All parameters of a project: marked ones under ``root`` (and in ``files``) plus the selected ones."""
    by_file: dict[Path, set[str]] = {}
    for path in [*candidate_files(root), *files]:
        by_file.setdefault(path.resolve(), set())
    for selector in selectors:
        if not selector.path.is_file():
            raise MarkerError(f"selector {selector.path}::{selector.qualname}: no such file")
        by_file.setdefault(selector.path, set()).add(selector.qualname)
    specs: list[ParamSpec] = []
    for path, wanted in by_file.items():
        specs.extend(find_params(path, root, search_roots, wanted))
    seen: dict[str, ParamSpec] = {}
    for spec in specs:
        if spec.name in seen and seen[spec.name].key != spec.key:
            raise MarkerError(f"parameters {seen[spec.name].key} and {spec.key} share the name {spec.name}")
        seen[spec.name] = spec
    return specs
