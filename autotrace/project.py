"""A user's project as autotrace sees it: its root, its ``[tool.autotrace]`` table (read by
:mod:`autotrace.config`), its parameters, and which files the import hook rewrites."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from autotrace.config import ConfigError, find_root, load_config
from autotrace.markers import MarkerError, Selector, discover, module_name, read_source
from autotrace.params import ParamKind, ParamSpec
from autotrace.transforms.plan import ModulePlan


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
             instrument: Sequence[Path] = (), search_roots: Sequence[Path] | None = None) -> Project:
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
            raise ConfigError(f"{root / 'pyproject.toml'}: [tool.autotrace] params must be a list of"
                              " 'FILE::NAME' strings")
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
                    from autotrace.transforms.analysis import analyze  # LibCST: only for a parameter's module

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
