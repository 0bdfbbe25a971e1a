"""The import hook: one finder on ``sys.meta_path`` that instruments the project's chosen modules.

Like pytest's assertion rewriter it filters by name before touching any file (a dict lookup on the
module's last name component), lets the normal path finder locate the file, and keeps the rewritten
code in ``__pycache__`` as a hash-checked bytecode file tagged with autotrace's version, written
atomically, so the second import costs about as much as a plain one. A module with a candidate
function substituted registers the text that ran (:func:`.compile.place_candidates`) with
``linecache`` under its file name, and its loader's ``get_source`` returns it, so tracebacks,
warnings and ``inspect.getsource`` show the candidate's lines while it runs; :func:`uninstall` takes
those entries back. In a confined evaluation the cache lies beneath the folder
``AUTOTRACE_PYCACHE`` names; when Python writes no bytecode (``PYTHONDONTWRITEBYTECODE``, set in many
container images and CI set-ups) it lies in autotrace's own cache folder (:func:`own_cache`), since
without it every run would analyse every module with LibCST again. Set ``AUTOTRACE_DEBUG=1`` to see
each decision on stderr.
"""

from __future__ import annotations

import _imp
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import linecache
import marshal
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, ModuleType

from autotrace import __version__
from autotrace.atomic import atomic_write
from autotrace.runtime import Runtime

from .plan import RUNTIME_NAME, ModulePlan

_DEBUG = bool(os.environ.get("AUTOTRACE_DEBUG"))
CACHE_TAG = f"autotrace-{__version__}"
#: Part of the cache key: bumped whenever the rewritten code changes shape (a cached module must never
#: call a runtime API that no longer exists). 2, 3: plain functions record inside their own frame
#: (3: the prologue calls ``Recorder.enter``; 4: the cache holds the recording and the quiet module code;
#: 5: and the text that ran with the candidates).
CODE_FORMAT = 6  # 6: one ast pass over the user's own source (decorators at the def's line)
#: Names the folder that holds the cache instead of the project's ``__pycache__`` (confined evaluations,
#: which also turn Python's own bytecode writing off); only they read it.
CACHE_DIR_ENV = "AUTOTRACE_PYCACHE"


def _debug(message: str) -> None:
    if _DEBUG:
        print(f"[autotrace] {message}", file=sys.stderr)


@dataclass(frozen=True)
class Target:
    """One file to instrument, and the code-parameter candidates to substitute into it."""

    plan: ModulePlan
    candidates: Mapping[str, str] = field(default_factory=dict)  # qualname -> function source


class AutotraceFinder(importlib.abc.MetaPathFinder):
    def __init__(self, targets: Mapping[Path, Target], runtime: Runtime, *, cache: bool = True) -> None:
        self.targets = {os.path.realpath(p): t for p, t in targets.items()}
        self.runtime = runtime
        self.cache = cache
        self._names = {_import_name(Path(p)) for p in self.targets}
        #: file name -> the text that ran, for the modules with candidates imported through this finder
        self.sources: dict[str, str] = {}

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.rpartition(".")[2] not in self._names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.has_location or spec.origin is None:
            return None
        found = self.targets.get(os.path.realpath(spec.origin))
        if found is None:
            return None
        _debug(f"instrumenting {fullname} from {spec.origin}")
        loader = AutotraceLoader(fullname, spec.origin, found, self.runtime, self.cache, self.sources)
        return importlib.util.spec_from_file_location(
            fullname, spec.origin, loader=loader, submodule_search_locations=spec.submodule_search_locations)

    def invalidate_caches(self) -> None:
        pass


def _import_name(path: Path) -> str:
    return path.parent.name if path.name == "__init__.py" else path.stem


class AutotraceLoader(importlib.machinery.SourceFileLoader):
    """The normal source file loader (so ``get_data``, ``get_filename``, ``is_package`` and
    ``get_resource_reader`` work as usual: ``pkgutil.get_data`` and ``importlib.resources`` read a
    package's data files through its loader), with its own code and source: the text that ran,
    which differs from the file when a candidate function was substituted."""

    def __init__(self, fullname: str, origin: str, target: Target, runtime: Runtime, cache: bool,
                 sources: dict[str, str] | None = None) -> None:
        super().__init__(fullname, origin)
        self.fullname, self.origin, self.target, self.runtime, self.use_cache = fullname, origin, target, runtime, cache
        self.sources = sources if sources is not None else {}

    def exec_module(self, module: ModuleType) -> None:
        module.__dict__[RUNTIME_NAME] = self.runtime
        exec(self.get_code(self.fullname), module.__dict__)

    def get_source(self, fullname: str) -> str:
        if self.target.candidates:
            return self._compiled()[2] or ""
        return importlib.util.decode_source(Path(self.origin).read_bytes())

    def get_code(self, fullname: str) -> CodeType:
        """The quiet module code, its functions paired with their recording twins in the runtime."""
        recording, quiet, ran = self._compiled()
        if ran is not None:
            show_source(self.origin, ran)
            self.sources[self.origin] = ran
        self.runtime.adopt(recording, quiet)
        return quiet

    def _compiled(self) -> tuple[CodeType, CodeType, str | None]:
        """The recording and quiet module code, and the text that ran when it is not the file's."""
        data = Path(self.origin).read_bytes()
        key = self._cache_key(data)
        cache_path = self._cache_path(data)
        if self.use_cache:
            compiled = _read_cache(cache_path, key)
            if compiled is not None:
                _debug(f"cache hit {cache_path}")
                for code in compiled[:2]:  # cached from the same source elsewhere (a project's private copy)
                    # CPython's (importlib's own loaders call it); typeshed's _imp stub leaves it out
                    _imp._fix_co_filename(code, self.origin)  # type: ignore[attr-defined]
                return compiled
        original = importlib.util.decode_source(data)
        from .compile import compile_instrumented, place_candidates  # LibCST is loaded only on a cache miss

        ran: str | None = None
        if self.target.candidates:
            source = _substitute(original, self.target.candidates)
            ran, tree = place_candidates(original, source, self.target.candidates, self.origin)
            recording, quiet = compile_instrumented(source, self.origin, self.target.plan, tree)
        else:
            recording, quiet = compile_instrumented(original, self.origin, self.target.plan)
        compiled = (recording, quiet, ran)
        if self.use_cache:
            _write_cache(cache_path, key, compiled)
        return compiled

    def _cache_key(self, data: bytes) -> bytes:
        digest = hashlib.sha256(data)
        digest.update(repr((CACHE_TAG, CODE_FORMAT, sys.version_info[:2], self.target.plan.fingerprint(),
                            sorted(self.target.candidates.items()))).encode())
        return digest.digest()

    def _cache_path(self, data: bytes) -> Path:
        """Beside the source in ``__pycache__``; or, in the folder ``AUTOTRACE_PYCACHE`` names (a confined
        evaluation writes nothing in the project) or, when Python writes no bytecode, in
        :func:`own_cache`, named by the module and its source's hash, so that the project's private
        copy (a new folder each evaluation) finds what the last one cached."""
        origin = Path(self.origin)
        tag = f"{sys.implementation.cache_tag}.{CACHE_TAG}.pyc"
        elsewhere = os.environ.get(CACHE_DIR_ENV) or (own_cache() if sys.dont_write_bytecode else None)
        if elsewhere:
            return Path(elsewhere, f"{self.target.plan.module}.{hashlib.sha256(data).hexdigest()[:16]}.{tag}")
        return origin.parent / "__pycache__" / f"{origin.stem}.{tag}"


def own_cache() -> Path:
    """The cache of rewritten modules when Python writes no bytecode: ``instrumented/`` in autotrace's
    cache folder. Not the confined evaluations' folder (``runners.confine.bytecode_cache``): a candidate
    may write there, and only confined processes read it."""
    from autotrace.llm.provision import cache_root

    return cache_root() / "instrumented"


def _substitute(source: str, candidates: Mapping[str, str]) -> str:
    from .rewrite import CodeValue, rewrite_source

    return rewrite_source(source, {qualname: CodeValue(code) for qualname, code in candidates.items()})


_MAGIC = importlib.util.MAGIC_NUMBER


def show_source(filename: str, text: str) -> None:
    """Make ``text`` what tracebacks, warnings and ``inspect`` read for ``filename``: a ``linecache``
    entry without a modification time, which ``linecache.checkcache`` leaves alone."""
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)


def _read_cache(path: Path, key: bytes) -> tuple[CodeType, CodeType, str | None] | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    header = _MAGIC + key
    if not data.startswith(header):
        return None
    try:
        compiled = marshal.loads(data[len(header):])
    except (EOFError, ValueError, TypeError):
        return None
    if not (isinstance(compiled, tuple) and len(compiled) == 3 and all(isinstance(c, CodeType) for c in compiled[:2])
            and isinstance(compiled[2], (str, type(None)))):
        return None
    return compiled


def _write_cache(path: Path, key: bytes, compiled: tuple[CodeType, CodeType, str | None]) -> None:
    """Atomic (:func:`~autotrace.atomic.atomic_write`): a reader sees the old file or the new one, never
    half of one; not synced to disk, since a lost cache is only made again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, _MAGIC + key + marshal.dumps(compiled), durable=False)
    except OSError as exc:  # read-only tree: run without a cache
        _debug(f"no cache for {path}: {exc}")


def install(targets: Mapping[Path, Target], runtime: Runtime, *, cache: bool = True) -> AutotraceFinder:
    """Put the finder first on ``sys.meta_path``; modules already imported are not rewritten."""
    finder = AutotraceFinder(targets, runtime, cache=cache)
    sys.meta_path.insert(0, finder)
    return finder


def uninstall(finder: AutotraceFinder) -> None:
    """Take the finder off ``sys.meta_path`` and its candidates' text out of ``linecache`` (an
    in-process evaluation must not leave the next one, or the user's own tracebacks, reading it)."""
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)
    for filename, text in finder.sources.items():
        entry = linecache.cache.get(filename)
        if entry is not None and len(entry) == 4 and entry[1] is None and entry[0] == len(text):
            del linecache.cache[filename]
    finder.sources.clear()
