"""A run's options' defaults by their ``[tool.autotrace]`` key (:data:`DEFAULTS`), and a project's
``[tool.autotrace]`` table, found and checked (:func:`load_config`).

Both come from the one table of options (:class:`autotrace.options.OptimizeOptions`): the command line
shows a default (``--help``) and falls back to it, the table overrides it (it becomes click's
``default_map``), and ``Settings`` and ``Limits`` take it for the programs that build a run without the
command line (the pytest plugin, the benchmarks). The module imports nothing heavy, so the command line
reads it before it knows which command runs.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from autotrace.options import CODE_FORMATS, EXECUTORS, FILE, OPTIMIZER_NAMES, OTHER_KEYS, Kind, OptimizeOptions

__all__ = ["CODE_FORMATS", "DEFAULTS", "EXECUTORS", "OPTIMIZER_NAMES", "ConfigError", "find_root", "load_config",
           "parse_size"]

#: Every option's default, by its ``[tool.autotrace]`` key (:class:`autotrace.options.OptimizeOptions`). What
#: each one means is its ``--help`` text.
DEFAULTS: Mapping[str, Any] = MappingProxyType({
    **{row.config: row.default for row in OptimizeOptions.rows() if row.config},
    **{key: default for key, (default, _) in OTHER_KEYS.items()},
})

_ROOT_MARKERS = ("pyproject.toml", ".git", "setup.py", "setup.cfg")


class ConfigError(Exception):
    """Bad ``[tool.autotrace]`` table or command-line value; one line."""


def parse_size(text: str) -> int | None:
    """``2GiB``, ``512M``, ``1000000``, or ``none`` (no limit) as bytes; ValueError says what is expected."""
    if text.lower() in ("none", "0", "unlimited"):
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*", text.lower())
    if not match:
        raise ValueError(f"{text!r}: expected a size like 2GiB, 512M or none")
    factor = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[match.group(2)]
    return int(float(match.group(1)) * factor)


#: What each key of the table must be, and those that name a file (relative to the pyproject.toml).
#: ``jobs`` and ``executor`` are checked by the command line, which names them its own way.
_KINDS: dict[str, Kind] = {
    **{row.config: row.option.kind for row in OptimizeOptions.rows() if row.config and row.option.checked_on_load},
    **{key: kind for key, (_, kind) in OTHER_KEYS.items()},
}


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` with a pyproject.toml / .git / setup.py; else ``start``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in _ROOT_MARKERS):
            return folder
    return start


def load_config(root: Path) -> dict[str, Any]:
    """The ``[tool.autotrace]`` table of ``root/pyproject.toml`` ({} when there is none), checked."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    table = data.get("tool", {}).get("autotrace", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.autotrace] must be a table")
    for key, kind in _KINDS.items():
        if key in table and not kind.check(table[key]):
            raise ConfigError(f"{path}: [tool.autotrace] {key} must be {kind.describe}, not {table[key]!r}")
        if key in table and kind is FILE:  # file names in the table are relative to the pyproject.toml holding them
            table[key] = str(root / table[key])
    return table
