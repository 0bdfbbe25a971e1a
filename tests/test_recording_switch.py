"""What starting and ending a recording switches: each function's code (it runs the user's body
unchanged, its quiet twin, while nothing records, and its recording code while a recorder is active),
and how long the collector waits before a full collection."""

from __future__ import annotations

import gc
import sys

from instrumented import program

from autotrace.recorder import CODE, GC_FULL_DELAY, Recorder
from autotrace.runtime import Runtime, is_recorded
from autotrace.transforms.frames import CALL_NAME

FILES = {
    "calc.py": '''
        K = 2  # autotrace: param

        def double(x):
            return x * K

        def make_adder(n):
            def add(x):
                return x + n
            return add

        class Box:
            def __init__(self, value):
                self.value = value

            def doubled(self):
                return double(self.value)
    ''',
}


def _records(code) -> bool:
    return CALL_NAME in code.co_varnames


def _called(recorder: Recorder) -> list[str]:
    return [call[CODE].co_qualname for call in recorder.calls]


def test_code_is_swapped_when_recording_starts_and_ends(tmp_path):
    with program(tmp_path, FILES) as p:
        calc = p.module("calc")
        assert not _records(calc.double.__code__) and not _records(calc.Box.doubled.__code__)
        assert is_recorded(calc.double) and calc.double(3) == 6
        recorder = Recorder()
        with p.runtime.recording(recorder):
            assert _records(calc.double.__code__) and _records(calc.Box.doubled.__code__)
            assert calc.Box(4).doubled() == 8
        assert not _records(calc.double.__code__)
        assert _called(recorder) == ["Box.__init__", "Box.doubled", "double"]
        assert calc.double(5) == 10 and len(recorder.calls) == 3  # nothing recorded after the end


def test_closures_run_the_code_that_fits_the_moment(tmp_path):
    with program(tmp_path, FILES) as p:
        calc = p.module("calc")
        made_before = calc.make_adder(1)
        recorder = Recorder()
        with p.runtime.recording(recorder):
            made_during = calc.make_adder(10)
            assert made_before(1) == 2 and made_during(1) == 11
        assert _called(recorder) == ["make_adder", "make_adder.<locals>.add", "make_adder.<locals>.add"]
        assert not _records(made_during.__code__) and made_during(2) == 12


def test_a_code_the_program_sets_itself_is_left_alone(tmp_path):
    with program(tmp_path, FILES) as p:
        calc = p.module("calc")
        calc.double.__code__ = (lambda x: -x).__code__
        with p.runtime.recording(Recorder()) as recorder:
            assert calc.double(3) == -3
        assert calc.double(3) == -3 and recorder.calls == []


def test_twins_come_back_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    stamps = []
    for attempt in ("rewritten", "cached"):
        with program(tmp_path, FILES, cache=True) as p:
            calc = p.module("calc")
            assert not _records(calc.double.__code__), attempt
            with p.runtime.recording(Recorder()) as recorder:
                assert calc.double(1) == 2
            assert _called(recorder) == ["double"], attempt
        [cached] = (tmp_path / "__pycache__").glob("calc.*.autotrace-*.pyc")
        stamps.append(cached.stat().st_mtime_ns)
    assert stamps[0] == stamps[1]  # the second import read the file the first one wrote


def test_full_collections_wait_while_recording_and_the_program_keeps_its_own_settings():
    before = gc.get_threshold()
    runtime = Runtime()
    try:
        with runtime.recording(Recorder()):
            assert gc.get_threshold() == (*before[:2], before[2] * GC_FULL_DELAY)
        assert gc.get_threshold() == before
        with runtime.recording(Recorder()):
            gc.set_threshold(1000, 5, 5)  # the program's own choice is not undone
        assert gc.get_threshold() == (1000, 5, 5)
        gc.set_threshold(0)
        with runtime.recording(Recorder()):
            assert gc.get_threshold()[0] == 0  # automatic collection stays off
    finally:
        gc.set_threshold(*before)


def test_closures_that_died_are_forgotten(tmp_path):
    with program(tmp_path, FILES) as p:
        calc = p.module("calc")
        kept = calc.make_adder(1)
        for i in range(5000):
            calc.make_adder(i)  # made and dropped at once
        assert len(p.runtime._swappable) < 2100  # pruned whenever the count doubles
        with p.runtime.recording(Recorder()) as recorder:
            assert kept(1) == 2
        assert _called(recorder) == ["make_adder.<locals>.add"]
        assert len(p.runtime._swappable) <= 10  # the swap dropped every dead entry
