"""The worker's outcome and per-example results: typed values, each with one JSON codec."""

from __future__ import annotations

import pytest

from autotrace.evaluation import Evaluation, ExampleResult, examples_from_dicts
from autotrace.runners.outcome import (
    Crashed,
    EntryMissing,
    Examples,
    JudgeFailed,
    SetupFailed,
    outcome_from_json,
    outcome_to_json,
)
from autotrace.runners.program_runs import with_attempts

GRAPH = {"graph": {"output": "output"}, "nodes": [{"id": "output", "kind": "output", "value": "3"}], "edges": []}
RESULT = ExampleResult(score=0.5, failed=False, message="close", example="2", output="3", graph=GRAPH)


@pytest.mark.parametrize("outcome", [
    Examples(examples=(RESULT, ExampleResult(failed=True, message="Traceback ...")), attempts=("wrote /etc/x",)),
    JudgeFailed("judge.py: feedback() returned 3"),
    EntryMissing("m has no function 'main' (use --entry NAME)"),
    SetupFailed("importing m raised ImportError: x", "Traceback ...", output_tail="printed"),
    Crashed("timed out after 1 s", output_tail="...", attempts=("a", "b")),
])
def test_every_outcome_reads_back_as_it_was_written(outcome: object) -> None:
    assert outcome_from_json(outcome_to_json(outcome)) == outcome  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ['{"judge_error": "x"}', '[1]', '{"outcome": "crashed"}', '{"outcome": "x"}'])
def test_anything_else_is_no_outcome(text: str) -> None:
    with pytest.raises(ValueError, match="not a worker outcome"):
        outcome_from_json(text)


def test_a_stored_example_missing_later_fields_takes_their_defaults() -> None:
    assert examples_from_dicts([{"score": 1, "message": "m"}]) == (ExampleResult(score=1, message="m"),)
    assert ExampleResult.from_dict(RESULT.to_dict()) == RESULT


def test_attempts_are_said_in_every_message_and_in_a_crash() -> None:
    said = with_attempts(Examples(examples=(RESULT,), attempts=("wrote /etc/x",)))
    assert isinstance(said, Examples) and said.examples[0].message == "close\nthe program wrote /etc/x"
    crashed = with_attempts(Crashed("killed", attempts=("deleted a",)))
    assert isinstance(crashed, Crashed) and crashed.reason == "killed\nthe program deleted a"


def test_an_evaluation_scores_every_example_a_raising_one_at_the_failure_score() -> None:
    evaluation = Evaluation([RESULT, ExampleResult(score=1.0), ExampleResult(failed=True)])
    assert (evaluation.score, evaluation.failures, evaluation.describe()) == (0.5, 1, "0.5, 1 of 3 raised")
