"""A run's options: each one's default and choices (:data:`DEFAULTS`), and a project's ``[tool.autotrace]``
table, found and checked (:func:`load_config`).

This is the one place a default is written: the command line shows it (``--help``) and falls back to it,
the table overrides it (it becomes click's ``default_map``), and ``Settings`` and ``Limits`` take it for
the programs that build a run without the command line (the pytest plugin, the benchmarks). The module
imports nothing heavy, so the command line reads it before it knows which command runs.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

#: The optimizers by the names the command line and the table accept (:data:`autotrace.optimizers.OPTIMIZERS`).
OPTIMIZER_NAMES = ("optoprime", "opro")
#: How evaluations run (:class:`autotrace.runners.executor.Executor`).
EXECUTORS = ("fork", "spawn", "ray")
#: How a (code) parameter's new value is asked for: in a fenced block outside any JSON, or as a JSON string.
CODE_FORMATS = ("fenced", "json")

#: Every option's default, by its ``[tool.autotrace]`` key. What each one means is its ``--help`` text.
DEFAULTS: Mapping[str, Any] = MappingProxyType({
    "entry": "main",
    "steps": 10,
    "optimizer": OPTIMIZER_NAMES[0],
    "timeout": 60.0,
    "memory": "4GiB",
    "no_network": False,
    "probe": True,
    "measured_step": True,
    "measured_runs": 30,
    "max_unchanged": 2,
    "executor": EXECUTORS[0],
    "candidates": 1,
    "resample": 2,
    "holdout": 0.0,
    "merge": True,
    "induce": False,
    "code_format": CODE_FORMATS[0],
    "repeats": None,
    "failure_score": None,
    # recorded values shown by their own __repr__ (runs the program's code); read by the pytest plugin
    "user_repr": False,
})

_ROOT_MARKERS = ("pyproject.toml", ".git", "setup.py", "setup.cfg")
_PATH_KEYS = ("feedback",)


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


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _whole(least: int) -> tuple[str, Callable[[Any], bool]]:
    return f"a whole number of at least {least}", lambda v: _number(v) and isinstance(v, int) and v >= least


def _one_of(choices: tuple[str, ...]) -> tuple[str, Callable[[Any], bool]]:
    return " or ".join(f'"{c}"' for c in choices), lambda v: v in choices


_SWITCH = ("true or false", lambda v: isinstance(v, bool))
_TEXT = ("a string", lambda v: isinstance(v, str))

#: What each key of the table must be (what it means to the user, and the check), so a wrong type is a
#: one-line error naming the key rather than a traceback, or a string "false" silently counting as true.
#: ``jobs`` and ``executor`` are checked by the command line, which names them its own way.
_KINDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "steps": _whole(0),
    "max_unchanged": _whole(0),
    "measured_runs": _whole(0),
    "budget_tokens": _whole(500),
    "candidates": _whole(1),
    "resample": _whole(0),
    "target": ("a number", _number),
    "failure_score": ("a number", _number),
    "repeats": _whole(1),
    "timeout": ("a number of seconds above 0", lambda v: _number(v) and v > 0),
    "holdout": ("a fraction from 0 up to (not including) 1", lambda v: _number(v) and 0 <= v < 1),
    "probe": _SWITCH,
    "measured_step": _SWITCH,
    "merge": _SWITCH,
    "induce": _SWITCH,
    "user_repr": _SWITCH,
    "no_network": _SWITCH,
    "entry": _TEXT,
    "model": _TEXT,
    "base_url": _TEXT,
    "app_model": _TEXT,
    "app_base_url": _TEXT,
    "ray_address": _TEXT,
    "holdout_tests": ("a pytest -k expression (a string)", lambda v: isinstance(v, str)),
    "optimizer": _one_of(OPTIMIZER_NAMES),
    "code_format": _one_of(CODE_FORMATS),
    "memory": ('a size such as "4GiB", or "none"', lambda v: isinstance(v, str) or (_number(v) and v > 0)),
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
    for key, (kind, check) in _KINDS.items():
        if key in table and not check(table[key]):
            raise ConfigError(f"{path}: [tool.autotrace] {key} must be {kind}, not {table[key]!r}")
    for key in _PATH_KEYS:  # file names in the table are relative to the pyproject.toml holding them
        if key in table:
            if not isinstance(table[key], str):
                raise ConfigError(f"{path}: [tool.autotrace] {key} must be a file name")
            table[key] = str(root / table[key])
    return table
