"""What instrumented modules call at run time: parameter values and the recording wrappers.

The import hook binds one :class:`Runtime` into each rewritten module under the name ``@autotrace``.
Parameter values live here, so a candidate is evaluated by setting values before the program is
imported (a fresh worker process per candidate), and every ``from m import NAME`` sees the same value.

Wrappers decide at decoration time which kind of function they wrap (plain, generator, coroutine,
async generator) and, per call, only test whether a recorder is active: with none, a call costs one
attribute load more than the plain function.

A wrapper must also survive being pickled *by value*, as cloudpickle and dill do with a function
that is not importable by name (a closure, a method of a class made at run time): they pickle its
code, the module globals it reads and its closure. So a wrapper reads no unpicklable global (the
context variable and the clock are reached through the :mod:`autotrace.recorder` module, which
pickles by name), and a :class:`Runtime` pickles by reference: unpickled in the same process it is
the live runtime, elsewhere a fresh one with the same parameter values that records nothing.
"""

from __future__ import annotations

import functools
import inspect
import uuid
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from . import recorder as _recorder
from .recorder import END, ERROR, RESULT, YIELDS, FunctionMeta, Recorder

_RUNTIMES: "weakref.WeakValueDictionary[str, Runtime]" = weakref.WeakValueDictionary()


def _runtime(key: str, values: dict[str, Any]) -> "Runtime":
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
        self._metas: dict[tuple, FunctionMeta] = {}
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
        """The innermost decorator the transformer puts on every function."""
        key = (func, reads, tuple(default_reads.items()), param)
        meta = self._metas.get(key)
        if meta is None:
            meta = self._metas[key] = FunctionMeta(func, reads, default_reads, param)
        return functools.partial(_wrap, self, meta)

    # -- used by the worker ------------------------------------------------------------------------
    def recording(self, recorder: Recorder) -> "_Recording":
        return _Recording(self, recorder)


class _Recording:
    def __init__(self, runtime: Runtime, recorder: Recorder) -> None:
        self.runtime, self.recorder = runtime, recorder

    def __enter__(self) -> Recorder:
        self.runtime.recorder = self.recorder
        return self.recorder

    def __exit__(self, *exc: object) -> None:
        self.runtime.recorder = None


def _wrap(runtime: Runtime, meta: FunctionMeta, fn: Callable) -> Callable:
    if inspect.isasyncgenfunction(fn):
        wrapper = _async_generator_wrapper(runtime, meta, fn)
    elif inspect.iscoroutinefunction(fn):
        wrapper = _coroutine_wrapper(runtime, meta, fn)
    elif inspect.isgeneratorfunction(fn):
        wrapper = _generator_wrapper(runtime, meta, fn)
    else:
        wrapper = _function_wrapper(runtime, meta, fn)
    return functools.update_wrapper(wrapper, fn)


def _function_wrapper(runtime: Runtime, meta: FunctionMeta, fn: Callable) -> Callable:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # noqa: F841  (pytest hides this frame)
        recorder = runtime.recorder
        if recorder is None:
            return fn(*args, **kwargs)
        call = recorder.new_call(meta, fn, args, kwargs)
        token = _recorder.current_call.set(call)
        try:
            call[RESULT] = result = fn(*args, **kwargs)
            return result
        except BaseException as exc:
            call[ERROR] = exc
            raise
        finally:
            call[END] = next(_recorder._clock)
            _recorder.current_call.reset(token)

    return wrapper


def _coroutine_wrapper(runtime: Runtime, meta: FunctionMeta, fn: Callable) -> Callable:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # noqa: F841
        recorder = runtime.recorder
        if recorder is None:
            return await fn(*args, **kwargs)
        call = recorder.new_call(meta, fn, args, kwargs)
        token = _recorder.current_call.set(call)  # a task's context is its own: awaits elsewhere cannot see this
        try:
            call[RESULT] = result = await fn(*args, **kwargs)
            return result
        except BaseException as exc:
            call[ERROR] = exc
            raise
        finally:
            call[END] = next(_recorder._clock)
            _recorder.current_call.reset(token)

    return wrapper


def _generator_wrapper(runtime: Runtime, meta: FunctionMeta, fn: Callable) -> Callable:
    """Delegates step by step so that calls made while the generator body runs nest under it."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # noqa: F841
        recorder = runtime.recorder
        if recorder is None:
            return (yield from fn(*args, **kwargs))
        call = recorder.new_call(meta, fn, args, kwargs)
        call[YIELDS] = []
        gen = fn(*args, **kwargs)
        send: Any = None
        throw: BaseException | None = None
        while True:
            token = _recorder.current_call.set(call)
            try:
                item = gen.throw(throw) if throw is not None else gen.send(send)
            except StopIteration as stop:
                call[RESULT] = stop.value
                call[END] = next(_recorder._clock)
                return stop.value
            except BaseException as exc:
                call[ERROR] = exc
                call[END] = next(_recorder._clock)
                raise
            finally:
                _recorder.current_call.reset(token)
            call[YIELDS].append((next(_recorder._clock), item))
            throw = None
            try:
                send = yield item
            except GeneratorExit:
                gen.close()
                raise
            except BaseException as exc:  # thrown in by the consumer: pass it on to the user's generator
                throw, send = exc, None

    return wrapper


def _async_generator_wrapper(runtime: Runtime, meta: FunctionMeta, fn: Callable) -> Callable:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # noqa: F841
        recorder = runtime.recorder
        agen = fn(*args, **kwargs)
        call = recorder.new_call(meta, fn, args, kwargs) if recorder is not None else None
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
                    call[RESULT], call[END] = None, next(_recorder._clock)
                return
            except BaseException as exc:
                if call is not None:
                    call[ERROR], call[END] = exc, next(_recorder._clock)
                raise
            finally:
                if token is not None:
                    _recorder.current_call.reset(token)
            if call is not None:
                call[YIELDS].append((next(_recorder._clock), item))
            throw = None
            try:
                send = yield item
            except GeneratorExit:
                await agen.aclose()
                raise
            except BaseException as exc:
                throw, send = exc, None

    return wrapper
