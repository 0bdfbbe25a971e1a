"""The measured search's points and the probes run without the recorder; the values a step keeps are recorded
once, keeping the score they were chosen by. In-process engines with the scripted model (tests/llmserver.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from helpers import answer, shop
from inprocess import run, run_engine, steps_of
from llmserver import ScriptedLLMServer

from autotrace.engine import Options, Run
from autotrace.evaluation import Evaluation, ExampleResult
from autotrace.llm.client import LLMConfig
from autotrace.project import Project
from autotrace.store import RunStore, state_dir


class GraphedShop:
    """The shop's quote, (1 + 200 * PRICE) * MARKUP, judged as minus its distance to 30, computed here as the
    worker would give it: a graph per example when recorded, none (``recorded=False``) when not. A recorded
    run's quote is off by ``drift`` (a program whose output varies beyond its seed)."""

    jobs = 1

    def __init__(self, drift: float = 0.0) -> None:
        self.drift = drift
        self.asked: list[tuple[dict[str, Any], bool]] = []  # (values, record) of each run

    def run(self, runs: Sequence[Run], record: bool = True) -> list[Evaluation]:
        results = []
        for values, _draw in runs:
            self.asked.append((dict(values), record))
            quote = round((1 + 200 * values["shop.PRICE"]) * values["shop.MARKUP"] + (self.drift if record else 0), 2)
            graph = {"graph": {}, "nodes": [{"id": "output", "kind": "output", "value": str(quote)}], "edges": []}
            example = ExampleResult(score=-abs(round(quote - 30, 2)), message=f"output {quote}, wanted 30",
                                    output=str(quote), graph=graph if record else None)
            results.append(Evaluation((example,), recorded=record))
        return results


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.load(shop(tmp_path) / "shop.py")


def options(server: ScriptedLLMServer, **given: Any) -> Options:
    llm = LLMConfig(model="scripted", base_url=server.base_url, api_key="test")
    return Options(**{"llm": llm, "probe": True, "merge": False, "repeats": 1, "steps": 1, **given})


def test_a_measured_step_runs_its_points_unrecorded_and_records_the_one_it_keeps(project, llm_server):
    evaluator = GraphedShop()
    engine = run_engine(project, options(llm_server), evaluator)
    assert llm_server.chat_requests == []  # the measured step found a better point
    kept = engine.state.best.values
    recorded = [values for values, record in evaluator.asked if record]
    assert len(evaluator.asked) > 4 and recorded[1:] == [kept]  # the original values, then the kept point only
    assert recorded[0]["shop.MARKUP"] == 1.2 and engine.ledger.count == len(evaluator.asked)
    step = steps_of(project, engine.result.run_id)[1]
    assert step.note.startswith("measured step") and step.evaluation.examples[0].graph is not None
    with RunStore(state_dir(project.root) / "autotrace.db") as store:
        pooled = {c.candidate.origin: c.evaluation for c in store.candidates(engine.result.run_id)}
    assert pooled["measured"].recorded and pooled["measured"].examples[0].graph is not None  # stored in its place
    assert not pooled["probe"].recorded and pooled["probe"].examples[0].graph is None


def test_the_kept_points_score_is_the_one_it_was_chosen_by_and_a_differing_recording_says_so(project, llm_server):
    evaluator = GraphedShop(drift=0.5)
    engine = run_engine(project, options(llm_server), evaluator)
    step = steps_of(project, engine.result.run_id)[1]
    example = step.evaluation.examples[0]
    chosen = (1 + 200 * engine.state.best.values["shop.PRICE"]) * engine.state.best.values["shop.MARKUP"]
    assert example.output == str(round(chosen, 2)) and example.score == -abs(round(round(chosen, 2) - 30, 2))
    assert example.graph is not None and example.graph["nodes"][0]["value"] == str(round(chosen + 0.5, 2))
    assert "the recorded run shown is another run of the same values" in example.message
    assert engine.state.best.evaluation.score == step.evaluation.score


def test_a_probe_kept_as_the_best_is_recorded_before_a_step_stores_it(project, llm_server):
    """The model's answer changes nothing: the step goes back to the best values, a probe's (raising MARKUP
    by 10 % comes closer to 30), which is recorded once for the stored step and the next prompt."""
    llm_server.script(answer())
    evaluator = GraphedShop()
    engine = run_engine(project, options(llm_server, measured_step=False, resample=0), evaluator)
    best = engine.state.best.values
    assert best["shop.MARKUP"] == pytest.approx(1.32)
    assert [values for values, record in evaluator.asked if record][1:] == [best]
    assert [record for values, record in evaluator.asked if values == best] == [False, True]
    step = steps_of(project, engine.result.run_id)[1]
    assert "back to the best values" in step.note and step.evaluation.examples[0].graph is not None


def test_the_program_runs_the_search_points_without_the_recorder(tmp_path, llm_server):
    """The real evaluator (in-process workers): the probes' and the search's stored evaluations have no graph, the
    measured step's result has the graph of its recorded run."""
    ran = run(shop(tmp_path), llm_server, steps=1)
    assert llm_server.chat_requests == [] and ran.note(1).startswith("measured step")
    origins = {c.origin for c in ran.pool}
    assert {"initial", "probe", "measured"} <= origins
    with RunStore(state_dir(tmp_path) / "autotrace.db") as store:
        pooled = [(c.candidate.origin, c.evaluation) for c in store.candidates(ran.result.run_id)]
    assert all(e.examples[0].graph is None and not e.recorded for origin, e in pooled if origin == "probe")
    assert all(e.examples[0].graph is not None for origin, e in pooled if origin != "probe")
    assert ran.steps[1].evaluation.examples[0].graph is not None
    assert ran.result.evaluations == len(pooled) + 2  # the original values' second draw, the kept point's recording


def test_an_unrecorded_evaluation_says_so_in_the_store():
    unrecorded = Evaluation((ExampleResult(score=1.0),), recorded=False)
    assert Evaluation.from_record(unrecorded.to_record()).recorded is False
    assert Evaluation.from_record(Evaluation((ExampleResult(score=1.0),)).to_record()).recorded is True
    assert "unrecorded" not in Evaluation((ExampleResult(score=1.0),)).to_record()  # stores as before
