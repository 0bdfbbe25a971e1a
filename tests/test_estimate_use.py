"""experiments.estimate_use counts, from stored runs, how often the model used the estimate it was shown."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autotrace.evaluation import Evaluation, ExampleResult  # noqa: E402
from autotrace.records import RunConfig, StepRecord  # noqa: E402
from autotrace.store import RunStore  # noqa: E402
from experiments import estimate_use  # noqa: E402

SHOWN = "- m.X: estimated best value 6 (measured: raising it by 10% raised the score by 0.3).\n- m.Y: raising it..."


def store(folder: Path, *steps: dict) -> None:
    database = folder / "runs" / "linear-seed0-autotrace" / ".autotrace" / "autotrace.db"
    database.parent.mkdir(parents=True)
    runs = RunStore(database)
    try:
        runs.create_run("r1", RunConfig())
        for number, step in enumerate(steps):
            evaluation = Evaluation((ExampleResult(score=step.pop("score")),))
            prompt = [{"role": "user", "content": "..."}] if number else []
            runs.add_step("r1", number, StepRecord({}, evaluation, prompt=prompt, **step))
    finally:
        runs.close()


def test_counts_copies_of_the_estimate_and_whether_they_improved(tmp_path, capsys):
    store(tmp_path,
          {"score": -8.0},
          {"score": -9.0, "sensitivity": SHOWN, "candidate": {"m.X": "3.0"}},  # something else
          {"score": -0.5, "sensitivity": SHOWN, "candidate": {"m.X": "6.0"}},  # the estimate, better
          {"score": -0.5, "sensitivity": SHOWN, "candidate": {"m.X": "6", "m.Y": "1"}},  # more than the estimate
          {"score": -0.4, "candidate": {"m.Y": "2"}})  # no estimate shown: not counted
    assert estimate_use.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out == ("1 runs: 3 steps asked the model with an estimate shown; 1 answers used it "
                                       "exactly, 1 of them raised the best score; 2 did something else\n")


def test_no_runs_is_an_error(tmp_path, capsys):
    assert estimate_use.main([str(tmp_path)]) == 2
    assert "no autotrace runs under" in capsys.readouterr().err
