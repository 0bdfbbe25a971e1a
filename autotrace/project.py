"""A user's project as autotrace sees it: its root, its ``[tool.autotrace]`` table, its parameters,
and which files the import hook rewrites."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from autotrace.params import ParamKind, ParamSpec
from autotrace.transforms.analysis import analyze
from autotrace.transforms.markers import MarkerError, Selector, discover, module_name, read_source
from autotrace.transforms.plan import ModulePlan

_ROOT_MARKERS = ("pyproject.toml", ".git", "setup.py", "setup.cfg")
_PATH_KEYS = ("feedback",)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _whole(least: int) -> tuple[str, Callable[[Any], bool]]:
    return f"a whole number of at least {least}", lambda v: _number(v) and isinstance(v, int) and v >= least


#: What each option of the table must be (what it means to the user, and the check), so a wrong type is
#: a one-line error naming the key rather than a traceback, or a string "false" silently counting as true.
_KINDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "steps": _whole(0),
    "max_unchanged": _whole(0),
    "measured_runs": _whole(0),
    "budget_tokens": _whole(500),
    "target": ("a number", _number),
    "timeout": ("a number of seconds above 0", lambda v: _number(v) and v > 0),
    "probe": ("true or false", lambda v: isinstance(v, bool)),
    "measured_step": ("true or false", lambda v: isinstance(v, bool)),
    "no_network": ("true or false", lambda v: isinstance(v, bool)),
    "entry": ("a string", lambda v: isinstance(v, str)),
    "model": ("a string", lambda v: isinstance(v, str)),
    "base_url": ("a string", lambda v: isinstance(v, str)),
    "optimizer": ('"optoprime" or "opro"', lambda v: v in ("optoprime", "opro")),
    "code_format": ('"fenced" or "json"', lambda v: v in ("fenced", "json")),
    "memory": ('a size such as "4GiB", or "none"', lambda v: isinstance(v, str) or (_number(v) and v > 0)),
}


class ConfigError(Exception):
    """Bad ``[tool.autotrace]`` table or command-line value; one line."""


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` with a pyproject.toml / .git / setup.py; else ``start``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in _ROOT_MARKERS):
            return folder
    return start


def load_config(root: Path) -> dict[str, Any]:
    """The ``[tool.autotrace]`` table of ``root/pyproject.toml`` ({} when there is none)."""
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


@dataclass
class Project:
    root: Path
    search_roots: list[Path]
    params: list[ParamSpec]
    files: list[Path]  # every file the import hook rewrites
    config: dict[str, Any] = field(default_factory=dict)
    _plans: dict[Path, ModulePlan] | None = field(default=None, repr=False)

    @classmethod
    def load(cls, target: Path | None, selectors: Sequence[str] = (), *, root: Path | None = None,
             instrument: Sequence[Path] = (), search_roots: Sequence[Path] | None = None) -> "Project":
        """Discover parameters: markers under the root, ``selectors`` and the config's ``params``.

        The target (when given) and ``instrument`` files are rewritten too, so their calls are recorded.
        ``search_roots`` (first match names a module) replaces the default roots when the caller knows
        how the program's imports are resolved (the pytest plugin: from ``sys.path``).
        """
        if target is not None and not target.is_file():
            raise MarkerError(f"{target}: no such file")
        base = (target.parent if target is not None else Path.cwd()).resolve()
        root = (root or find_root(base)).resolve()
        config = load_config(root)
        search_roots = [p.resolve() for p in search_roots] if search_roots is not None else _search_roots(root, base)
        configured = config.get("params", [])
        if not isinstance(configured, list) or not all(isinstance(s, str) for s in configured):
            raise ConfigError(f"{root / 'pyproject.toml'}: [tool.autotrace] params must be a list of 'FILE::NAME' strings")
        parsed = [Selector.parse(s, root) for s in configured] + [Selector.parse(s, Path.cwd()) for s in selectors]
        extra = [p.resolve() for p in instrument] + ([target.resolve()] if target is not None else [])
        params = discover(root, search_roots, parsed, files=extra)
        files = sorted({p.path for p in params} | set(extra))
        return cls(root, search_roots, params, files, config)

    def plans(self) -> dict[Path, ModulePlan]:
        """What the import hook is told about each file it instruments (computed once per project)."""
        if self._plans is None:
            names = frozenset(p.name for p in self.params)
            plans = {}
            for path in self.files:
                here = [p for p in self.params if p.path == path]
                plans[path] = ModulePlan(
                    module=module_name(path, self.search_roots),
                    literals={p.qualname: p.name for p in here if p.kind is ParamKind.LITERAL},
                    functions={p.qualname: p.name for p in here if p.kind is ParamKind.CODE},
                    param_names=names,
                )
            derived: dict[str, tuple[str, ...]] = {}
            for path, plan in plans.items():
                if plan.literals:
                    derived.update(analyze(read_source(path), plan).derived)
            self._plans = {path: replace(plan, derived=derived) for path, plan in plans.items()}
        return self._plans

    def param(self, name: str) -> ParamSpec:
        for spec in self.params:
            if spec.name == name:
                return spec
        raise KeyError(name)


def _search_roots(root: Path, base: Path) -> list[Path]:
    """Where imports are resolved from: the target's folder (as ``python TARGET.py`` does), a src/
    layout, the root, then the rest of ``sys.path`` for packages installed in editable mode."""
    roots = [base]
    if (root / "src").is_dir():
        roots.append(root / "src")
    roots.append(root)
    return [r for i, r in enumerate(roots) if r not in roots[:i]]
