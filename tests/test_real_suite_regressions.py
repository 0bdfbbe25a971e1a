"""Reduced tests for what running real third-party suites under ``--autotrace-all`` found
(``benchmarks/real_suites.py``, figures in ``docs/measurements.md``).

Each test writes a tiny module reproducing the construct, imports it plainly and through the import
hook (every function a recorded call), and checks that it behaves the same: without an active
recorder and with one.
"""

from __future__ import annotations

import importlib
import inspect
import io
import marshal
import pickle
import sys
import textwrap
import traceback
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from autotrace.recorder import CODE, Recorder
from autotrace.runtime import Runtime
from autotrace.transforms.hook import Target, install, uninstall
from autotrace.transforms.plan import ModulePlan

MODES = ("plain", "hooked", "recording")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@contextmanager
def imported(tmp_path: Path, source: str | dict[str, str], mode: str, name: str = "mod") -> Iterator[types.ModuleType]:
    """Module ``name`` (``source``, or ``{relative path: text}`` for a package) imported plainly, through
    the hook (every .py file rewritten), or through the hook with a recorder active."""
    folder = tmp_path / mode
    files = {f"{name}.py": source} if isinstance(source, str) else source
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    runtime = Runtime()
    targets = {path: Target(ModulePlan(module=_module_name(path, folder))) for path in folder.rglob("*.py")}
    finder = install(targets, runtime, cache=False) if mode != "plain" else None
    sys.path.insert(0, str(folder))
    recorder = Recorder()
    before = set(sys.modules)
    try:
        module = importlib.import_module(name)
        if finder is not None:
            assert type(module.__spec__.loader).__name__ == "AutotraceLoader"
        if mode == "recording":
            with runtime.recording(recorder):
                yield module
            assert recorder.calls, "nothing was recorded"
        else:
            yield module
    finally:
        if finder is not None:
            uninstall(finder)
        sys.path.remove(str(folder))
        for added in set(sys.modules) - before:
            del sys.modules[added]
        sys.modules.pop(name, None)


def same_everywhere(tmp_path: Path, source: str | dict[str, str], check: Callable[[types.ModuleType], Any],
                    name: str = "mod") -> Any:
    """``check(module)`` gives the same result in every mode; that result."""
    results = {}
    for mode in MODES:
        with imported(tmp_path, source, mode, name) as module:
            results[mode] = check(module)
    assert results["hooked"] == results["plain"]
    assert results["recording"] == results["plain"]
    return results["plain"]


# -- package data read through the module's loader ------------------------------------------------
def test_package_data_through_the_loader(tmp_path):
    """python-dateutil's ``dateutil.zoneinfo`` reads its tarball with ``pkgutil.get_data(__name__, ...)``,
    which asks the module's loader for ``get_data``: the hook's loader had none, so ``get_data``
    returned None and every zoneinfo test failed with "tarfile.ReadError: empty file"."""
    package = {
        "pkg/__init__.py": """
            import importlib.resources
            import pkgutil

            def data():
                return pkgutil.get_data(__name__, "data.txt")

            def resource():
                return importlib.resources.files(__name__).joinpath("data.txt").read_bytes()

            def loader_facts():
                loader = __spec__.loader
                return loader.is_package(__name__), loader.get_filename(__name__) == __file__
        """,
        "pkg/data.txt": "payload",
    }

    def check(pkg):
        return pkg.data(), pkg.resource(), pkg.loader_facts()

    assert same_everywhere(tmp_path, package, check, name="pkg") == (b"payload", b"payload", (True, True))


# -- pickling a function by value (cloudpickle, dill) ----------------------------------------------
_STATE = ("__qualname__", "__module__", "__doc__", "__kwdefaults__", "__annotations__")


def _make_function(code: types.CodeType, globals_: dict, name: str, defaults: tuple | None,
                   closure: tuple, state: dict, attrs: dict) -> types.FunctionType:
    cells = tuple(types.CellType(value) for value in closure) or None
    func = types.FunctionType(code, {"__builtins__": __builtins__, **globals_}, name, defaults, cells)
    for key, value in state.items():
        setattr(func, key, value)
    func.__dict__.update(attrs)
    return func


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _importable(func: types.FunctionType) -> bool:
    found: Any = sys.modules.get(func.__module__)
    for part in func.__qualname__.split("."):
        found = getattr(found, part, None)
    return found is func


class ByValuePickler(pickle.Pickler):
    """What cloudpickle does with a function that cannot be found by name: its code, the globals its
    code names, its closure's values and its ``__dict__``; modules by name."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, types.FunctionType) and not _importable(obj):
            globals_ = {n: obj.__globals__[n] for n in _global_names(obj.__code__) if n in obj.__globals__}
            closure = tuple(cell.cell_contents for cell in obj.__closure__ or ())
            state = {key: getattr(obj, key) for key in _STATE}
            return _make_function, (obj.__code__, globals_, obj.__name__, obj.__defaults__, closure, state,
                                    obj.__dict__)
        if isinstance(obj, types.CodeType):
            return marshal.loads, (marshal.dumps(obj),)
        if isinstance(obj, types.ModuleType):
            return importlib.import_module, (obj.__name__,)
        return NotImplemented


def by_value_round_trip(obj: Any) -> Any:
    buffer = io.BytesIO()
    ByValuePickler(buffer).dump(obj)
    return pickle.loads(buffer.getvalue())


CLOSURE = '''
    def make_repr(prefix):
        def __repr__(self):
            return prefix + "!"
        return __repr__

    def counter():
        n = 0
        def step():
            nonlocal n
            n += 1
            yield n
        return step
'''


def test_closure_pickled_by_value(tmp_path):
    """attrs' ``TestCloudpickleCompat``: cloudpickle pickles an attrs class made at run time by value,
    with its ``__repr__`` (a closure from ``attr._make``). A wrapper read the recorder's ContextVar
    (unpicklable) as a global and held the Runtime (with the run's recorder) in its closure."""

    def check(mod):
        copy = by_value_round_trip(mod.make_repr("x"))
        step = by_value_round_trip(mod.counter())
        return copy(None), list(step()), copy.__name__, copy.__qualname__

    assert same_everywhere(tmp_path, CLOSURE, check) == ("x!", [1], "__repr__", "make_repr.<locals>.__repr__")


def test_closure_pickled_by_value_runs_the_code_it_was_copied_with(tmp_path):
    """A copy by value is not the program's function, so the runtime cannot swap its code: copied
    while recording, it records (its code checks for a recorder on each call); copied while nothing
    records, it runs the quiet code, unrecorded, and still works."""
    with imported(tmp_path, CLOSURE, "hooked") as mod:
        runtime = mod.__dict__["@autotrace"]
        quiet_copy = by_value_round_trip(mod.make_repr("x"))
        recorder = Recorder()
        with runtime.recording(recorder):
            recording_copy = by_value_round_trip(mod.make_repr("y"))
            assert quiet_copy(None) == "x!" and recording_copy(None) == "y!"
        assert recording_copy(None) == "y!"  # a recording code with no recorder records nothing
        assert [c[CODE].co_name for c in recorder.calls] == ["make_repr", "__repr__"]
        assert pickle.loads(pickle.dumps(runtime)) is runtime  # the live runtime, not a copy


def test_closure_pickled_with_cloudpickle(tmp_path):
    cloudpickle = pytest.importorskip("cloudpickle")
    assert same_everywhere(tmp_path, CLOSURE,
                           lambda mod: cloudpickle.loads(cloudpickle.dumps(mod.make_repr("y")))(None)) == "y!"


# -- closed by recording inside the function's own frame and holding values weakly ---------------
FRAMES = '''
    import sys
    import warnings

    def caller_module():
        return sys._getframe(1).f_globals["__name__"]

    def deprecated():
        warnings.warn("old", DeprecationWarning, stacklevel=2)
'''


def test_caller_frame_seen_by_the_callee(tmp_path):
    """attrs ``make_class`` names the class's ``__module__`` after ``sys._getframe(1)`` (the caller's
    module); under the hook frame 1 is the wrapper's, so classes were made in ``autotrace.runtime``
    (``test_attr_args``, ``test_pickle_object[*-FromMakeClass]``). ``warnings.warn(stacklevel=2)``
    likewise blames the wrapper's line instead of the caller's."""
    import warnings

    def check(mod):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mod.deprecated()
        return mod.caller_module(), Path(caught[0].filename).name

    assert same_everywhere(tmp_path, FRAMES, check) == (__name__, Path(__file__).name)


LIFETIMES = '''
    class Thing:
        pass

    def make():
        return Thing()

    def use(thing):
        return 1
'''


def test_recorded_values_are_not_kept_alive(tmp_path):
    """attrs ``test_no_references_to_original`` (``C.__subclasses__()`` after ``gc.collect()``) and
    python-dateutil's ``test_*_weakref`` (a weak cache entry must die with its last user reference)."""
    import gc
    import weakref

    def check(mod):
        thing = mod.make()
        ref = weakref.ref(thing)
        mod.use(thing)
        del thing
        gc.collect()
        return ref() is None

    assert same_everywhere(tmp_path, LIFETIMES, check) is True


# -- cost: binding recorded arguments by name without inspect.Signature when it is plain ----------
def _bind_with_inspect(func, args, kwargs):
    from autotrace import recorder

    target = inspect.unwrap(func)
    saved = recorder._bind_positional
    recorder._bind_positional = lambda *a: None
    try:
        return recorder.CodeFacts().bind_arguments(target, args, kwargs)
    finally:
        recorder._bind_positional = saved


def test_fast_argument_binding_matches_inspect():
    from autotrace.recorder import CodeFacts, _bind_positional

    bind_arguments = CodeFacts().bind_arguments

    def plain(a, b, c=3, d=4):
        return a

    def posonly(a, /, b=2):
        return a

    def starred(a, *rest, key=1, **more):
        return a

    calls = [
        (plain, (1, 2), {}), (plain, (1,), {"b": 2, "d": 5}), (plain, (), {"a": 1, "b": 2}),
        (plain, (1, 2, 3, 4), {}), (plain, (1,), {}), (plain, (1, 2, 3, 4, 5), {}), (plain, (1,), {"a": 2}),
        (plain, (1, 2), {"zzz": 0}), (posonly, (1,), {"b": 5}), (posonly, (), {"a": 1}),
        (starred, (1, 2, 3), {"key": 2, "x": 3}),
    ]
    for func, args, kwargs in calls:
        assert bind_arguments(func, args, kwargs) == _bind_with_inspect(func, args, kwargs), (func, args, kwargs)
        named = bind_arguments(func, args, kwargs)[0]
        assert list(named) == list(_bind_with_inspect(func, args, kwargs)[0])  # same order: input numbering
    assert _bind_positional(plain, (1, 2), {}, {}) is not None  # the shortcut is taken where it applies
    assert _bind_positional(starred, (1,), {}, {}) is None


WRAPPED = '''
    import typing

    def f(a, b=1, *, c=2):
        return a + b + c

    def rec(n):
        return 0 if n == 0 else 1 + rec(n - 1)
'''


def test_wrapper_is_not_the_function(tmp_path):
    """Not hit by the three suites' outcomes, same cause as the caller-frame test: defaults and code
    are the wrapper's, and each recorded call takes two frames (recursion depth halved)."""

    def check(mod):
        depth = sys.getrecursionlimit() - len(inspect.stack()) - 20
        try:
            deep = mod.rec(depth)
        except RecursionError:
            deep = "RecursionError"
        return mod.f.__defaults__, mod.f.__kwdefaults__, mod.f.__code__.co_argcount, deep

    assert same_everywhere(tmp_path, WRAPPED, check)[:3] == ((1,), {"c": 2}, 2)


# -- the own-frame rewrite behaves as the plain function (transforms/frames.py) ---------------------
REWRITE = '''
    import sys
    import traceback

    COUNT = 0
    LOG = []

    def documented(x):
        """Doubles x."""
        return x * 2

    def bump():
        global COUNT
        COUNT += 1
        return COUNT

    def counter():
        n = 0
        def step():
            nonlocal n
            n += 1
            return n
        step()
        return step()

    def ordered():
        try:
            LOG.append("try")
            return LOG.append("return") or "value"
        finally:
            LOG.append("finally")

    def procedure(flag):
        if flag:
            return
        LOG.append("fell off")

    def fail(x):
        y = x + 1
        raise ValueError(f"bad {y}")

    def call_fail():
        return fail(1)

    def deepest(n=0):
        try:
            return deepest(n + 1)
        except RecursionError:
            return n

    def own_locals(a, b=2):
        return sorted(k for k in locals() if k != "@call")  # the one generated local, visible to locals()
'''


def test_rewritten_functions_behave_as_plain(tmp_path):
    def check(mod):
        mod.LOG.clear()
        facts = [mod.documented(2), mod.documented.__doc__, mod.bump(), mod.bump(), mod.counter(),
                 mod.ordered(), list(mod.LOG), mod.procedure(True), mod.procedure(False), list(mod.LOG),
                 mod.own_locals(1)]
        try:
            mod.call_fail()
        except ValueError as exc:
            frames = [(f.name, f.lineno, f.line) for f in traceback.extract_tb(exc.__traceback__)
                      if f.filename == mod.__file__]
            facts.append((str(exc), frames))
        return facts

    assert same_everywhere(tmp_path, REWRITE, check) == [
        4, "Doubles x.", 1, 2, 2, "value", ["try", "return", "finally"], None, None,
        ["try", "return", "finally", "fell off"], ["a", "b"],
        ("bad 2", [("call_fail", 43, "return fail(1)"), ("fail", 40, 'raise ValueError(f"bad {y}")')]),
    ]


def test_recursion_depth_is_the_plain_one(tmp_path):
    """The wrapper took two frames per recorded call; now a call is one frame. While recording, the
    recorder's own calls (``Recorder.enter`` -> ``_defaulted``) take up to two frames more, at the
    innermost level only."""
    depths = {}
    for mode in MODES:
        with imported(tmp_path, REWRITE, mode) as mod:
            depths[mode] = mod.deepest()
    assert depths["hooked"] == depths["plain"]
    assert depths["plain"] - 3 <= depths["recording"] <= depths["plain"]



SLOTTED = '''
    import weakref

    REFS = []

    class Thing:
        pass

    class Holder:
        __slots__ = ("thing",)  # no __weakref__: the recorder can only hold it strongly

        def __init__(self, thing):
            self.thing = thing

    def build_and_drop():
        thing = Thing()
        REFS.append(weakref.ref(thing))
        Holder(thing)
'''


def test_an_object_without_weakref_support_does_not_keep_what_it_holds_alive(tmp_path):
    """attrs ``TestClassBuilder::test_no_references_to_original*``: ``_ClassBuilder`` is slotted without
    ``__weakref__`` and holds the original class; recorded as ``self`` of its methods it keeps that class
    alive, so ``C.__subclasses__()`` still lists it after ``gc.collect()``."""
    import gc

    def check(mod):
        mod.build_and_drop()
        gc.collect()
        return mod.REFS[-1]() is None

    assert same_everywhere(tmp_path, SLOTTED, check) is True


DICT_HOLDER = '''
    import weakref

    REFS = []

    class Thing:
        pass

    def use(namespace):
        return len(namespace)

    def build_and_drop():
        thing = Thing()
        REFS.append(weakref.ref(thing))
        use({"thing": thing})  # a dict (no weak references) passed as an argument, then dropped
'''


def test_a_container_argument_does_not_keep_its_items_alive(tmp_path):
    """attrs ``TestClassBuilder::test_no_references_to_original_when_using_cached_property``: attrs
    passes a globals dict holding the original class to ``_make_method``; recorded as an argument, the
    dict keeps the class alive, so ``C.__subclasses__()`` lists it twice after ``gc.collect()``."""
    import gc

    def check(mod):
        mod.build_and_drop()
        gc.collect()
        return mod.REFS[-1]() is None

    assert same_everywhere(tmp_path, DICT_HOLDER, check) is True


# -- boltons 26.2.0: debugutils.wrap_trace -----------------------------------------------------------
WEAKREF_WALKER = '''
class Config:
    def __init__(self, value):
        self.value = value

def callables(obj):
    """What wrap_trace wraps: every callable attribute dir() lists."""
    return sorted(name for name in dir(obj) if callable(getattr(obj, name, None)) and name.startswith("__weak"))

def main():
    return callables(Config("first"))
'''


def test_recording_adds_no_weak_reference_to_an_argument(tmp_path):
    """boltons ``test_trace_which``/``test_trace_oldstyle``: ``wrap_trace`` wraps each callable
    attribute of its argument; the recorder held the argument by a weak reference, so
    ``obj.__weakref__`` was that (callable) reference and the traced class could not be built."""
    assert same_everywhere(tmp_path, WEAKREF_WALKER, lambda mod: mod.main()) == []


OWN_GETATTRIBUTE = '''
class Traced(bytes):
    def __getattribute__(self, name):
        return bytes.__getattribute__(self, name)

def make():
    return Traced(b"Hello")

def main():
    return make().decode("utf-8")
'''


def test_a_result_whose_class_overrides_getattribute_is_held_without_calling_it(tmp_path):
    """boltons ``test_trace_bytes``/``_dict``/``_exc``/``_namedtuple``: ``wrap_trace`` builds a subclass
    whose ``__getattribute__`` is a recorded function. Holding such a result asked
    ``isinstance(value, (list, dict, ...))``, which reads ``value.__class__`` through that
    ``__getattribute__``, whose own record held ``self`` the same way: RecursionError, caught by
    ``wrap_trace``, which then gave up ("unable to wrap_trace <class 'bytes'>")."""
    assert same_everywhere(tmp_path, OWN_GETATTRIBUTE, lambda mod: mod.main()) == "Hello"
