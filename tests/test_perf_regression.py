"""The performance comparison: each benchmark read against the reference loop of its own run, a growth
beyond the threshold over the saved baseline fails; the slow check runs the real suite against it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import perf_data  # noqa: E402
from benchmarks.perf_data import Bench, PerfRun  # noqa: E402


def run(reference: float, recording: float, commit: str = "abc1234") -> PerfRun:
    return PerfRun(commit, "2 cores", (Bench(perf_data.REFERENCE, reference, reference, 10, ""),
                                       Bench("test_recording", recording, recording, 5, "")))


def test_a_slower_recording_is_a_regression():
    lines, failed = perf_data.compare(run(1e-3, 0.25 * 1.2), run(1e-3, 0.25), threshold=15)
    assert failed == ["test_recording"] and "test_recording" in lines[-1] and "REGRESSION" in lines[-1] and "+20.0 %" in lines[-1]


def test_a_figure_measured_again_keeps_its_lower_minimum():
    noisy = run(1e-3, 0.25 * 1.2)
    wall = Bench("test_pytest_plugin", 9.0, 9.0, 2, "", timer="wall")
    merged = perf_data.fastest(replace(noisy, benchmarks=noisy.benchmarks + (wall,)), run(1.1e-3, 0.26))
    assert [b.min for b in merged.benchmarks] == [1e-3, 0.26, 9.0]
    assert not perf_data.compare(merged, run(1e-3, 0.25))[1]  # 260x against 250x: noise, measured away


def test_a_regression_that_repeats_still_fails():
    again = perf_data.fastest(run(1e-3, 0.25 * 1.2), run(1e-3, 0.25 * 1.3))
    assert perf_data.compare(again, run(1e-3, 0.25))[1] == ["test_recording"]


def test_a_machine_slower_as_a_whole_is_not():
    lines, failed = perf_data.compare(run(2e-3, 0.5), run(1e-3, 0.25))
    assert not failed and lines[-1].endswith("ok")


def test_growth_within_the_threshold_passes_and_a_new_benchmark_is_named():
    current = PerfRun("c", "m", run(1e-3, 0.25 * 1.05).benchmarks + (Bench("test_new", 1.0, 1.0, 1, ""),))
    lines, failed = perf_data.compare(current, run(1e-3, 0.25))
    assert not failed and "  test_new: not in the baseline" in lines


def test_a_noisier_benchmark_has_its_own_wider_threshold():
    def runs(report: float) -> PerfRun:
        return PerfRun("c", "m", (Bench(perf_data.REFERENCE, 1e-3, 1e-3, 9, ""), Bench("test_report", report, report, 7, "")))

    assert not perf_data.compare(runs(0.12), runs(0.1), wider={"test_report": 25})[1]
    assert perf_data.compare(runs(0.13), runs(0.1), wider={"test_report": 25})[1]
    assert perf_data.compare(runs(0.12), runs(0.1), wider={})[1]


def test_session_files_are_named_by_commit_and_timer():
    assert perf_data._name(Path("0003_1374484-wall.json")) == ("1374484", "wall")
    assert perf_data._name(Path("0001_1374484-cpu.json")) == ("1374484", "cpu")
    assert perf_data._name(Path("wall.json")) == ("", "wall")


def test_a_wall_clock_figure_is_shown_and_never_fails():
    wall = Bench("test_pytest_plugin", 20.0, 20.0, 2, "", timer="wall")
    before = PerfRun("b", "m", run(1e-3, 0.25).benchmarks + (Bench("test_pytest_plugin", 10.0, 10.0, 2, "", "wall"),))
    lines, failed = perf_data.compare(PerfRun("c", "m", run(1e-3, 0.25).benchmarks + (wall,)), before)
    assert not failed and "  test_pytest_plugin: 10 s -> 20 s wall (+100.0 %) shown, not checked" in lines


def test_the_saved_baseline_reads_as_one_run_of_both_timers():
    saved = perf_data.latest()
    assert saved is not None, "no saved performance run: `python -m benchmarks perf` saves one"
    assert {b.timer for b in saved.benchmarks} == {"cpu", "wall"} and all(b.doc for b in saved.benchmarks)
    assert saved.ratio("test_recording") is not None


@pytest.mark.slow
def test_this_commit_is_within_the_threshold_of_the_saved_baseline():
    """The real suite, compared with the last saved run (exit 1 names the benchmark that regressed)."""
    done = subprocess.run([sys.executable, "-m", "benchmarks", "perf", "--compare"], cwd=ROOT, capture_output=True,
                          text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


@pytest.mark.parametrize("again, code", [((0.25,), 0), ((0.3, 0.31), 1)])
def test_compare_measures_a_regression_again_before_it_fails(monkeypatch, capsys, again, code):
    from benchmarks import commands

    measured = iter([run(1e-3, 0.3), *(run(1e-3, r) for r in again)])
    asked = []
    monkeypatch.setattr(perf_data, "latest", lambda: run(1e-3, 0.25))
    monkeypatch.setattr(perf_data, "run", lambda save, only=None: asked.append(only) or next(measured))
    assert commands.perf(["--compare"]) == code
    assert asked == [None] + ["test_recording or test_reference"] * len(again)
    assert capsys.readouterr().out.count("measuring test_recording again") == len(again)
