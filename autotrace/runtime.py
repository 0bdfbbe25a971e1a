"""What instrumented modules call at run time: parameter values, and recording calls.

The import hook binds one :class:`Runtime` into each rewritten module under the name ``@autotrace``.
Parameter values live here, so a candidate is evaluated by setting values before the program is
imported (a fresh worker process per candidate), and every ``from m import NAME`` sees the same value.

A plain function (``def`` without ``yield``, not ``async``) records itself inside its own frame: the
import hook's ``ast`` pass (``autotrace.transforms.instrument``, ``.frames``) rewrote its body to call
the active recorder's :meth:`~autotrace.recorder.Recorder.enter` at the start, :meth:`Runtime.result`
on each ``return``, :meth:`Runtime.error` on an exception and :meth:`Runtime.leave` in a ``finally``,
each only while a recorder is active. Its decorator :meth:`Runtime.function` returns the very function it is given.

Not recording, such a function does not even pay that: the import hook compiles each module twice,
and the function runs its *quiet twin*, the user's body with nothing added, until a recorder starts.
:meth:`Runtime.recording` then sets the recording code on every live function of the program
(``fn.__code__ = ...``: same name, lines and closure cells) and sets the quiet code back when it
ends, as coverage.py decides once per code object rather than once per call. A function copied by
value keeps the code it had; recording code checks for a recorder on every call, so it stays correct
either way.

Why not a wrapper function around a plain function: a wrapper is another frame and another
function object, and real code sees both (``sys._getframe(1)`` and ``warnings.warn(stacklevel=2)``
in the callee name the wrapper, recursion depth halves, ``__code__``/``__defaults__`` are the
wrapper's).

Generators, coroutines and async generators keep a wrapper (:meth:`Runtime.record`): their body runs
step by step on the consumer's schedule, and the wrapper delegates each step so that calls made while
the body runs nest under it. The pytest plugin also wraps test functions it records with it (their
bodies were not rewritten).

A rewritten function, or a wrapper, must also survive being pickled *by value*, as cloudpickle and
dill do with a function that is not importable by name (a closure, a method of a class made at run
time): they pickle its code, the module globals it reads and its closure. Rewritten code reads only
the ``@autotrace`` global; wrappers read no unpicklable global (the context variable and the clock are
reached through the :mod:`autotrace.recorder` module, which pickles by name); and a :class:`Runtime`
pickles by reference: unpickled in the same process it is the live runtime, elsewhere a fresh one
with the same parameter values that records nothing.
"""

from __future__ import annotations

import functools
import inspect
import sys
import uuid
import weakref
from collections.abc import Callable, Mapping
from types import CodeType, FunctionType
from typing import Any

from . import recorder as _recorder
from .recorder import (
    ATOMS,
    END,
    ERROR,
    KINDS,
    PENDING,
    PINNED,
    RESULT,
    TOKEN,
    YIELDS,
    CodeFacts,
    FullCollectionsDelayed,
    FunctionMeta,
    Pinned,
    Recorder,
    clock,
)

_PAST_LIMIT = _recorder.PAST_LIMIT
_RUNTIMES: weakref.WeakValueDictionary[str, Runtime] = weakref.WeakValueDictionary()
_weak = weakref.ref


def _runtime(key: str, values: dict[str, Any]) -> Runtime:
    """Unpickling a :class:`Runtime`: the live one with this key, else a new one under that key."""
    runtime = _RUNTIMES.get(key)
    if runtime is None:
        runtime = Runtime(values, _key=key)
    return runtime


class Runtime:
    """Parameter values and the active recorder for one instrumented program."""

    def __init__(self, values: Mapping[str, Any] | None = None, *, _key: str | None = None) -> None:
        self.values: dict[str, Any] = dict(values or {})
        self.recorder: Recorder | None = None
        self.facts = CodeFacts()  # what recording learns of this program's code, handed to each recorder
        self._metas: dict[tuple, FunctionMeta] = {}
        #: id(code) -> (recording code, quiet code), for both codes of each function (see :meth:`adopt`).
        #: The pairs hold their codes, so an id found here is one of those two codes, never another object.
        self._twins: dict[int, tuple[CodeType, CodeType]] = {}
        #: id(function) -> weak reference, for the functions that have twins: their code is swapped when
        #: recording starts and ends. Plain weak references (no callback, unlike a WeakSet's: a closure
        #: made in a loop would pay for one on creation and one on death); dead ones are dropped by
        #: :meth:`_swap`, or when their number has doubled since the last time (:meth:`function`).
        self._swappable: dict[int, weakref.ref[FunctionType]] = {}
        self._prune_at = 1024
        self._sticky = False  # keep_recording_code: the recording code stays on between recorders
        self._key = _key or uuid.uuid4().hex
        _RUNTIMES[self._key] = self

    def __reduce__(self) -> tuple:
        return _runtime, (self._key, self.values)

    # -- called by rewritten code ------------------------------------------------------------------
    def param(self, name: str, default: Any) -> Any:
        """The current value of literal parameter ``name`` (``default`` is the one in the source)."""
        return self.values.get(name, default)

    def record(self, func: str, reads: tuple[str, ...], default_reads: dict[str, tuple[str, ...]],
               param: str | None) -> Callable[[Callable], Callable]:
        """The recording wrapper for a function whose body does not record itself: the instrumenting pass's
        innermost decorator on generators, coroutines and async generators, and the pytest plugin's
        for test functions."""
        return functools.partial(_wrap, self, self._meta(func, reads, tuple(default_reads.items()), param))

    def function(self, fn: FunctionType) -> FunctionType:
        """The instrumenting pass's innermost decorator on a function whose body records itself: ``fn`` itself,
        running the code that fits the moment (recording or quiet) and registered so that a recorded
        call finds its default values and docstring from its code."""
        twins = self._twins.get(id(fn.__code__))
        if twins is None:
            self.facts.register(fn, fn.__code__)
            return fn
        recording, quiet = twins
        self.facts.register(fn, recording)
        swappable = self._swappable
        swappable[id(fn)] = _weak(fn)
        if len(swappable) >= self._prune_at:
            self._live_functions()
        fn.__code__ = quiet if self.recorder is None and not self._sticky else recording
        return fn

    @staticmethod
    def result(call: list, value: Any) -> Any:
        """``return value`` of a recorded call."""
        if type(value) not in ATOMS:
            held = call[RESULT] = _recorder.hold(value, call[KINDS])
            if type(held) is Pinned:
                call[PINNED] = True
        else:
            call[RESULT] = value
        return value

    @staticmethod
    def error(call: list) -> None:
        """A recorded call is raising the exception being handled."""
        call[ERROR] = sys.exc_info()[1]
        call[RESULT] = PENDING  # a `return` whose `finally` raised returns nothing

    @staticmethod
    def leave(call: list) -> None:
        """A recorded call ends (from the ``finally`` around its body)."""
        if call is _PAST_LIMIT:  # shared by the calls past the limit: hold nothing of theirs
            call[RESULT] = call[ERROR] = None
            call[PINNED] = False
            return
        call[END] = next(clock)
        token, call[TOKEN] = call[TOKEN], None
        _recorder.current_call.reset(token)
        if call[PINNED]:
            _recorder.detach(call)

    def _meta(self, func: str, reads: tuple[str, ...], default_reads: tuple[tuple[str, tuple[str, ...]], ...],
              param: str | None) -> FunctionMeta:
        key = (func, reads, default_reads, param)
        meta = self._metas.get(key)
        if meta is None:
            meta = self._metas[key] = FunctionMeta(func, reads, dict(default_reads), param)
        return meta

    # -- used by the import hook and the worker ----------------------------------------------------
    def adopt(self, recording: CodeType, quiet: CodeType) -> None:
        """Pair the code objects of a module compiled twice (:func:`autotrace.transforms.compile.compile_instrumented`):
        its functions, nested ones too, sit at the same places in both. A pair that does not line up
        (it cannot happen with the pass's trees) is left unpaired: its function keeps recording code."""
        pending = [(recording, quiet)]
        while pending:
            rec, qui = pending.pop()
            self._twins[id(rec)] = self._twins[id(qui)] = (rec, qui)
            inner_rec = [c for c in rec.co_consts if isinstance(c, CodeType)]
            inner_qui = [c for c in qui.co_consts if isinstance(c, CodeType)]
            if len(inner_rec) == len(inner_qui):
                pending.extend((r, q) for r, q in zip(inner_rec, inner_qui, strict=True)
                               if (r.co_qualname, r.co_firstlineno, r.co_freevars)
                               == (q.co_qualname, q.co_firstlineno, q.co_freevars))

    def recording(self, recorder: Recorder) -> _Recording:
        return _Recording(self, recorder)

    def keep_recording_code(self, keep: bool) -> None:
        """Whether the program's functions run their recording code even while no recorder is active
        (it then checks for one on each call and records nothing). For a caller that records many short
        runs one after another, as the pytest plugin records each test: switching every live function's
        code at each start and end of a recording costs more than the check."""
        self._sticky = keep
        self._swap(recording=keep or self.recorder is not None)

    def _live_functions(self) -> list[FunctionType]:
        """The functions with twins that are still alive (the dead ones' entries are dropped)."""
        live, dead = [], []
        for key, ref in self._swappable.items():
            fn = ref()
            if fn is None:
                dead.append(key)
            else:
                live.append(fn)
        for key in dead:
            del self._swappable[key]
        self._prune_at = max(1024, 2 * len(self._swappable))
        return live

    def _swap(self, recording: bool) -> None:
        """Every live function with twins runs its recording (or its quiet) code from now on."""
        twins = self._twins
        for fn in self._live_functions():
            pair = twins.get(id(fn.__code__))
            if pair is not None:  # None: a code the program set itself
                fn.__code__ = pair[0] if recording else pair[1]


class _Recording:
    def __init__(self, runtime: Runtime, recorder: Recorder) -> None:
        self.runtime, self.recorder = runtime, recorder
        self.delayed = FullCollectionsDelayed()

    def __enter__(self) -> Recorder:
        self.recorder.use(self.runtime.facts)
        self.runtime.recorder = self.recorder
        if not self.runtime._sticky:
            self.runtime._swap(recording=True)
        self.delayed.__enter__()
        return self.recorder

    def __exit__(self, *exc: object) -> None:
        self.runtime.recorder = None
        if not self.runtime._sticky:
            self.runtime._swap(recording=False)
        self.delayed.__exit__()


def is_recorded(func: Any) -> bool:
    """Whether calls of ``func`` are recorded while a recorder is active: a function whose body the
    instrumenting pass rewrote (its code reads the runtime), or one of :meth:`Runtime.record`'s wrappers."""
    from autotrace.transforms.plan import RUNTIME_NAME

    code = getattr(func, "__code__", None)
    if code is None:
        return False
    runtime = getattr(func, "__globals__", {}).get(RUNTIME_NAME)
    if isinstance(runtime, Runtime) and id(code) in runtime._twins:
        return True
    return RUNTIME_NAME in code.co_names or (hasattr(func, "__wrapped__") and code.co_filename == __file__)


def _wrap(runtime: Runtime, meta: FunctionMeta, fn: Callable) -> Callable:
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if inspect.isasyncgenfunction(fn):
        wrapper = _async_generator_wrapper(runtime, meta, fn, code)
    elif inspect.iscoroutinefunction(fn):
        wrapper = _coroutine_wrapper(runtime, meta, fn, code)
    elif inspect.isgeneratorfunction(fn):
        wrapper = _generator_wrapper(runtime, meta, fn, code)
    else:
        wrapper = _function_wrapper(runtime, meta, fn, code)
    return functools.update_wrapper(wrapper, fn)


def _function_wrapper(runtime: Runtime, meta: FunctionMeta, fn: Callable, code: CodeType | None) -> Callable:
    """For a plain function whose body was not rewritten: a test function the pytest plugin records."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # noqa: F841  (pytest hides this frame)
        recorder = runtime.recorder
        if recorder is None:
            return fn(*args, **kwargs)
        call = recorder.new_call(meta, code, fn, args, kwargs)
        if call is None:
            return fn(*args, **kwargs)
        token = _recorder.current_call.set(call)
        try:
            result = fn(*args, **kwargs)
            call[RESULT] = _recorder.hold_for(call, result)
            return result
        except BaseException as exc:
            call[ERROR] = exc
            raise
        finally:
            _recorder.end(call)
            _recorder.current_call.reset(token)

    return wrapper


def _coroutine_wrapper(runtime: Runtime, meta: FunctionMeta, fn: Callable, code: CodeType | None) -> Callable:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # noqa: F841
        recorder = runtime.recorder
        if recorder is None:
            return await fn(*args, **kwargs)
        call = recorder.new_call(meta, code, fn, args, kwargs)
        if call is None:
            return await fn(*args, **kwargs)
        token = _recorder.current_call.set(call)  # a task's context is its own: awaits elsewhere cannot see this
        try:
            result = await fn(*args, **kwargs)
            call[RESULT] = _recorder.hold_for(call, result)
            return result
        except BaseException as exc:
            call[ERROR] = exc
            raise
        finally:
            _recorder.end(call)
            _recorder.current_call.reset(token)

    return wrapper


def _generator_wrapper(runtime: Runtime, meta: FunctionMeta, fn: Callable, code: CodeType | None) -> Callable:
    """Delegates step by step so that calls made while the generator body runs nest under it."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # noqa: F841
        recorder = runtime.recorder
        if recorder is None:
            return (yield from fn(*args, **kwargs))
        call = recorder.new_call(meta, code, fn, args, kwargs)
        if call is None:
            return (yield from fn(*args, **kwargs))
        call[YIELDS] = []
        gen = fn(*args, **kwargs)
        send: Any = None
        throw: BaseException | None = None
        while True:
            token = _recorder.current_call.set(call)
            try:
                item = gen.throw(throw) if throw is not None else gen.send(send)
            except StopIteration as stop:
                call[RESULT] = _recorder.hold_for(call, stop.value)
                _recorder.end(call)
                return stop.value
            except BaseException as exc:
                call[ERROR] = exc
                _recorder.end(call)
                raise
            finally:
                _recorder.current_call.reset(token)
            call[YIELDS].append((next(clock),  # hold_for only when it has something to do
                                 item if type(item) in ATOMS else _recorder.hold_for(call, item)))
            throw = None
            try:
                send = yield item
            except GeneratorExit:
                gen.close()
                raise
            except BaseException as exc:  # thrown in by the consumer: pass it on to the user's generator
                throw, send = exc, None

    return wrapper


def _async_generator_wrapper(runtime: Runtime, meta: FunctionMeta, fn: Callable, code: CodeType | None) -> Callable:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # noqa: F841
        recorder = runtime.recorder
        agen = fn(*args, **kwargs)
        call = recorder.new_call(meta, code, fn, args, kwargs) if recorder is not None else None
        if call is not None:
            call[YIELDS] = []
        send: Any = None
        throw: BaseException | None = None
        while True:
            token = _recorder.current_call.set(call) if call is not None else None
            try:
                item = await (agen.athrow(throw) if throw is not None else agen.asend(send))
            except StopAsyncIteration:
                if call is not None:
                    call[RESULT] = None
                    _recorder.end(call)
                return
            except BaseException as exc:
                if call is not None:
                    call[ERROR] = exc
                    _recorder.end(call)
                raise
            finally:
                if token is not None:
                    _recorder.current_call.reset(token)
            if call is not None:
                call[YIELDS].append((next(clock),
                                     item if type(item) in ATOMS else _recorder.hold_for(call, item)))
            throw = None
            try:
                send = yield item
            except GeneratorExit:
                await agen.aclose()
                raise
            except BaseException as exc:
                throw, send = exc, None

    return wrapper
