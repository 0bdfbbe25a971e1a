"""What a worker is asked to evaluate (:class:`Job`), its one JSON codec, and moving its paths to where
the project is seen from (:class:`PathMap`: a private copy of the project, a Ray node's folder).

A job crosses a process boundary (a spawned or forked worker reads ``job.json``; Ray ships it to a
node) as the JSON :meth:`Job.to_json` writes and :meth:`Job.from_json` reads back, checked: anything
else raises :class:`JobError` naming what is wrong. Only the job's paths are moved, field by field;
a candidate's source and the parameters' values are never rewritten.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from autotrace.params import ParamKind
from autotrace.transforms.plan import ModulePlan


class JobError(ValueError):
    """A job's JSON is not a job; the message says what is wrong."""


@dataclass(frozen=True)
class ParamInfo:
    """A parameter as the worker needs it: its name, kind and description (for the graph's nodes)."""

    name: str
    kind: ParamKind
    description: str = ""


@dataclass
class Job:
    """Everything a worker needs to evaluate one set of values."""

    target_module: str
    entry: str
    judge: str | None
    search_roots: tuple[str, ...]
    plans: Mapping[str, ModulePlan]  # file -> what the import hook instruments in it
    params: tuple[ParamInfo, ...]
    values: Mapping[str, str]  # literal parameter name -> repr text; code parameter name -> source
    candidates: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # file -> qualname -> source
    record: bool = True
    cache: bool = True
    root: str = ""  # the project's root: writes beneath it are named relative to it in the feedback
    #: The draw's seed: ``random`` (and numpy's global generator, when the program imported numpy) is
    #: seeded with it and the example's index before each example, so that every candidate of a run
    #: meets the same draws (``--repeats``), and a forked worker does not inherit its parent's state.
    seed: int = 0
    #: ``(k, n)``: this job runs only the examples whose index is ``k`` modulo ``n``, one shard of an
    #: evaluation split over ``n`` workers (:mod:`.shards`); ``(0, 1)`` runs them all.
    shard: tuple[int, int] = (0, 1)

    def runs_example(self, index: int) -> bool:
        """Whether the example at ``index`` is this job's to run (see :attr:`shard`)."""
        return index % self.shard[1] == self.shard[0]

    @property
    def rewrites(self) -> bool:
        """Whether evaluating it rewrites source (a code parameter, or no bytecode cache): LibCST is needed."""
        return any(p.kind is ParamKind.CODE for p in self.params) or not self.cache

    def moved(self, paths: PathMap, *, root: bool = False) -> Job:
        """The job with its files seen through ``paths`` (the judge, the search roots, the planned and
        candidate files; the project's ``root`` too when ``root``): nothing else changes."""
        if paths.source == paths.dest:
            return self
        move = paths.path
        return replace(self, judge=move(self.judge) if self.judge else None,
                       search_roots=tuple(move(p) for p in self.search_roots),
                       plans={move(path): plan for path, plan in self.plans.items()},
                       candidates={move(path): found for path, found in self.candidates.items()},
                       root=move(self.root) if root and self.root else self.root)

    def to_json(self) -> str:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["plans"] = {path: plan_to_dict(plan) for path, plan in self.plans.items()}
        data["params"] = [{"name": p.name, "kind": p.kind.value, "description": p.description} for p in self.params]
        data["candidates"] = {path: dict(found) for path, found in self.candidates.items()}
        data["values"] = dict(self.values)
        data["search_roots"] = list(self.search_roots)
        data["shard"] = list(self.shard)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Job:
        """Read :meth:`to_json`'s text back; anything else raises :class:`JobError`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise JobError(f"a job is JSON: {exc}") from None
        read = _Reader(data, "job")
        return cls(
            target_module=read.text("target_module"), entry=read.text("entry"),
            judge=read.optional_text("judge"), search_roots=tuple(read.texts("search_roots")),
            plans={path: plan_from_dict(plan, f"plans[{path!r}]")
                   for path, plan in read.mapping("plans", lambda v: isinstance(v, dict), "an object").items()},
            params=tuple(_param(p, i) for i, p in enumerate(read.items("params"))),
            values=read.mapping("values", lambda v: isinstance(v, str), "a string"),
            candidates={path: _strings(found, f"candidates[{path!r}]") for path, found in
                        read.mapping("candidates", lambda v: isinstance(v, dict), "an object", {}).items()},
            record=read.flag("record", True), cache=read.flag("cache", True), root=read.text("root", ""),
            seed=read.whole("seed", 0), shard=read.shard("shard"),
        )


@dataclass(frozen=True)
class PathMap:
    """Paths beneath ``source`` seen beneath ``dest`` instead (the project and its private copy; the
    driver's project root and a Ray node's copy). Paths elsewhere stay as they are."""

    source: Path
    dest: Path

    def path(self, path: str) -> str:
        """``path`` beneath ``dest`` when it lies beneath ``source`` (after resolving it), else unchanged."""
        resolved = Path(path).resolve()
        return str(self.dest / resolved.relative_to(self.source)) if resolved.is_relative_to(self.source) else path

    def inverse(self) -> PathMap:
        return PathMap(self.dest, self.source)

    def traceback(self, text: str) -> str:
        """A traceback with the files of its frames (``File "PATH", line N``) moved; nothing else in it."""
        return _FRAME.sub(lambda m: f'{m.group(1)}"{self.path(m.group(2))}"', text)


_FRAME = re.compile(r'^(\s*File )"([^"\n]+)"', re.MULTILINE)


def plan_to_dict(plan: ModulePlan) -> dict[str, Any]:
    """A :class:`ModulePlan` as JSON-able fields (a job's ``plans`` entries)."""
    return {"module": plan.module, "literals": dict(plan.literals), "functions": dict(plan.functions),
            "param_names": sorted(plan.param_names), "derived": {k: list(v) for k, v in plan.derived.items()}}


def plan_from_dict(data: dict[str, Any], where: str = "plan") -> ModulePlan:
    """Read :func:`plan_to_dict`'s fields back; anything else raises :class:`JobError`."""
    read = _Reader(data, where)
    derived = read.mapping("derived", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
                           "a list of strings", {})
    return ModulePlan(module=read.text("module"),
                      literals=read.mapping("literals", lambda v: isinstance(v, str), "a string"),
                      functions=read.mapping("functions", lambda v: isinstance(v, str), "a string"),
                      param_names=frozenset(read.texts("param_names")),
                      derived={name: tuple(params) for name, params in derived.items()})


def _param(data: Any, index: int) -> ParamInfo:
    read = _Reader(data, f"params[{index}]")
    kind = read.text("kind")
    try:
        return ParamInfo(read.text("name"), ParamKind(kind), read.text("description", ""))
    except ValueError:
        raise JobError(f"params[{index}].kind must be one of {', '.join(k.value for k in ParamKind)}, "
                       f"not {kind!r}") from None


def _strings(data: dict[str, Any], where: str) -> dict[str, str]:
    return _Reader({"x": data}, where).mapping("x", lambda v: isinstance(v, str), "a string")


_MISSING = object()


class _Reader:
    """Fields of one JSON object, each checked for its type; a wrong one raises :class:`JobError`."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise JobError(f"{where} must be a JSON object, not {type(data).__name__}")
        self.data, self.where = data, where

    def _get(self, key: str, default: Any, check: Callable[[Any], bool], kind: str) -> Any:
        value = self.data.get(key, default)
        if value is _MISSING:
            raise JobError(f"{self.where} has no {key!r}")
        if value is not default and not check(value):
            raise JobError(f"{self.where}.{key} must be {kind}, not {value!r}"[:200])
        return value

    def text(self, key: str, default: Any = _MISSING) -> str:
        return self._get(key, default, lambda v: isinstance(v, str), "a string")

    def optional_text(self, key: str) -> str | None:
        return self._get(key, None, lambda v: isinstance(v, str), "a string or null")

    def flag(self, key: str, default: bool) -> bool:
        return self._get(key, default, lambda v: isinstance(v, bool), "true or false")

    def whole(self, key: str, default: int) -> int:
        return self._get(key, default, lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number")

    def shard(self, key: str) -> tuple[int, int]:
        value = self._get(key, [0, 1], lambda v: isinstance(v, list) and len(v) == 2 and all(
            isinstance(x, int) and not isinstance(x, bool) for x in v) and 0 <= v[0] < v[1], "[k, n] with 0 <= k < n")
        return (value[0], value[1])

    def items(self, key: str) -> list[Any]:
        return self._get(key, _MISSING, lambda v: isinstance(v, list), "a list")

    def texts(self, key: str) -> list[str]:
        return self._get(key, _MISSING, lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
                         "a list of strings")

    def mapping(self, key: str, check: Callable[[Any], bool], kind: str, default: Any = _MISSING) -> dict[str, Any]:
        value = self._get(key, default, lambda v: isinstance(v, dict), "an object")
        for name, item in value.items():
            if not check(item):
                raise JobError(f"{self.where}.{key}[{name!r}] must be {kind}, not {item!r}"[:200])
        return dict(value)

