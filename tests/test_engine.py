"""The engine in-process: a scripted model on a real socket (tests/llmserver.py), a fake evaluator that
computes the shop's score in Python, and assertions on the run's state and stored records."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from helpers import answer, shop
from inprocess import run_engine, steps_of
from llmserver import ScriptedLLMServer

from autotrace.engine import Engine, Offer, Options, Run, Step, pooled_best, takes
from autotrace.evaluation import Evaluation, ExampleResult
from autotrace.llm.client import LLMConfig
from autotrace.optimizers.base import Optimizer, Proposal
from autotrace.pool import Candidate
from autotrace.project import Project
from autotrace.store import RunStore, state_dir


class ShopEvaluator:
    """The shop's quote, (1 + 200 * PRICE) * MARKUP, judged as minus its distance to 30, in this process."""

    jobs = 1

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []

    def run(self, runs: Sequence[Run], record: bool = True) -> list[Evaluation]:
        results = []
        for values, _draw in runs:
            self.runs.append(dict(values))
            quote = round((1 + 200 * values["shop.PRICE"]) * values["shop.MARKUP"], 2)
            score = -abs(round(quote - 30, 2))
            results.append(Evaluation((ExampleResult(score=score, message=f"output {quote}, wanted 30", output=str(quote)),)))
        return results


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.load(shop(tmp_path) / "shop.py")


def options(server: ScriptedLLMServer, **given: Any) -> Options:
    llm = LLMConfig(model="scripted", base_url=server.base_url, api_key="test")
    return Options(**{"llm": llm, "probe": False, "merge": False, "repeats": 1, "steps": 3, **given})


def run(project: Project, opts: Options, evaluator: ShopEvaluator | None = None, **kwargs: Any) -> Engine:
    return run_engine(project, opts, evaluator or ShopEvaluator(), **kwargs)


def candidates_of(project: Project, run_id: str) -> list[Candidate]:
    with RunStore(state_dir(project.root) / "autotrace.db") as store:
        return [row.candidate for row in store.candidates(run_id)]


def test_a_better_answer_becomes_the_best_and_the_patch(project, llm_server):
    llm_server.script(answer(MARKUP=2.5))
    engine = run(project, options(llm_server, steps=1))
    state, result = engine.state, engine.result
    assert state.best.values["shop.MARKUP"] == 2.5 and state.best.evaluation.score == -2.5
    assert result.best_values["shop.MARKUP"] == 2.5 and "+MARKUP = 2.5" in result.patch.diff
    records = steps_of(project, result.run_id)
    assert [r.step for r in records] == [0, 1]
    assert records[1].candidate == {"shop.MARKUP": "2.5"} and records[1].parent == (0,)
    assert records[1].prompt_tokens > 0 and state.usage.optimizer == records[1].prompt_tokens + records[1].completion_tokens
    assert [c.origin for c in candidates_of(project, result.run_id)] == ["initial", "proposal"]


def test_a_worse_answer_is_shown_once_then_the_run_goes_back_to_the_best(project, llm_server):
    llm_server.script(answer(MARKUP=0.5), answer(), answer(MARKUP=2.5))
    engine = run(project, options(llm_server, resample=0))
    records = steps_of(project, engine.result.run_id)
    assert records[1].values["shop.MARKUP"] == "0.5"  # the worse candidate is the next prompt's
    assert "(float) shop.MARKUP = 0.5" in llm_server.chat_requests[1].json["messages"][-1]["content"]
    assert records[2].values["shop.MARKUP"] == "1.2"  # an unchanged answer about it: back to the best
    assert engine.state.best.values["shop.MARKUP"] == 2.5


def test_two_answers_that_change_nothing_stop_the_run(project, llm_server):
    llm_server.script(answer(), answer(MARKUP="more"), answer(MARKUP=2.5))
    engine = run(project, options(llm_server, steps=5, resample=0))
    assert engine.result.stopped_by == "unchanged" and engine.state.stall.answers == 2
    assert [r.step for r in steps_of(project, engine.result.run_id)] == [0, 1, 2]
    assert llm_server.pending == 1


@pytest.mark.parametrize("budget", ["max_optimizer_tokens", "max_run_tokens"])
def test_the_optimizer_token_budget_stops_the_run_with_the_best_so_far(project, llm_server, budget):
    llm_server.script(answer(MARKUP=2.5), answer(MARKUP=2.6))
    engine = run(project, options(llm_server, **{budget: 1}))
    result = engine.result
    assert result.stopped_by == "budget" and not result.reached_target
    assert [r.step for r in steps_of(project, result.run_id)] == [0, 1]  # stopped before step 2
    assert len(llm_server.chat_requests) == 1 and llm_server.pending == 1
    assert result.best_values["shop.MARKUP"] == 2.5 and result.patch.diff


def test_the_program_token_budget_counts_the_program_calls(project, llm_server):
    llm_server.script(answer(MARKUP=2.5))
    spent = iter([0, 500, 500])  # before step 1, before step 2 (and after)
    engine = run(project, options(llm_server, max_program_tokens=400), program_tokens=lambda: next(spent))
    assert engine.result.stopped_by == "budget"
    assert engine.state.usage.program == 500 and len(llm_server.chat_requests) == 1


def test_no_budget_given_never_stops_a_run(project, llm_server):
    llm_server.script(answer(MARKUP=2.5), answer(MARKUP=2.6), answer(MARKUP=2.7))
    engine = run(project, options(llm_server, max_unchanged=0), program_tokens=lambda: 10**9)
    assert engine.result.stopped_by == "" and len(steps_of(project, engine.result.run_id)) == 4


def lower(candidate: Evaluation, held: Evaluation, noisy: bool, origin: str = "proposal") -> bool:
    """A changed acceptance rule: the lower score wins."""
    return candidate.rank < held.rank


@pytest.mark.parametrize(("acceptance", "markup"), [(takes, 1.2), (lower, 0.5)])
def test_one_acceptance_rule_chooses_the_best_while_running_and_on_resume(project, llm_server, acceptance, markup):
    llm_server.script(answer(MARKUP=0.5))  # worse than the initial 1.2
    engine = run(project, options(llm_server, steps=1), acceptance=acceptance)
    assert engine.state.best.values["shop.MARKUP"] == markup  # the loop's choice
    ledger = engine.ledger
    pooled = pooled_best(ledger.pool.candidates, ledger.evaluated, ledger.rule.noisy, acceptance)
    assert ledger.values(pooled.values)["shop.MARKUP"] == markup  # resume's choice
    resumed = run(project, options(llm_server, steps=1, resume=engine.result.run_id), acceptance=acceptance)
    assert resumed.state.first_step == 2 and resumed.state.best.values["shop.MARKUP"] == markup


def test_a_resumed_run_starts_from_its_stored_state(project, llm_server):
    llm_server.script(answer(MARKUP=2.5), answer(MARKUP=2.7))
    first = run(project, options(llm_server, steps=1))
    evaluator = ShopEvaluator()
    resumed = run(project, options(llm_server, steps=2, resume=first.result.run_id), evaluator)
    assert resumed.state.first_step == 2 and resumed.result.run_id == first.result.run_id
    assert resumed.state.usage.optimizer == sum(r.prompt_tokens + r.completion_tokens
                                                for r in steps_of(project, first.result.run_id))
    assert [v["shop.MARKUP"] for v in evaluator.runs] == [2.7]  # nothing run twice
    assert resumed.state.best.values["shop.MARKUP"] == 2.7


def test_the_measured_step_takes_a_better_point_without_asking_the_model(project, llm_server):
    engine = run(project, options(llm_server, steps=1, probe=True))
    assert llm_server.chat_requests == []
    record = steps_of(project, engine.result.run_id)[1]
    assert record.prompt == () and record.candidate and record.evaluation.score > -16.8
    origins = [c.origin for c in candidates_of(project, engine.result.run_id)]
    assert origins[0] == "initial" and "measured" in origins and "probe" in origins


class Fixed:
    """A proposer that answers with fixed values (what a new proposer in the rotation looks like)."""

    def __init__(self, optimizer: Optimizer, values: dict[str, Any]) -> None:
        self.optimizer, self.values, self.asked = optimizer, values, 0

    def propose(self, step: Step) -> Offer:
        self.asked += 1
        return Offer(answers=(Proposal(dict(self.values), {}, "fixed", [], "", 0, 0, 0.0, False, None),))


def test_a_proposer_in_the_resampling_rotation_is_asked_when_the_answers_give_nothing(project, llm_server):
    llm_server.script(answer())  # no change: the rotation is asked next
    made: list[Fixed] = []

    def fixed(optimizer: Optimizer) -> Fixed:
        made.append(Fixed(optimizer, {"shop.MARKUP": 2.5}))
        return made[-1]

    engine = run(project, options(llm_server, steps=1, resample=1), rotation=[fixed])
    assert made[0].asked == 1 and len(llm_server.chat_requests) == 1
    assert engine.state.best.values["shop.MARKUP"] == 2.5


def test_a_resumed_run_counts_its_earlier_tokens_against_the_budget(project, llm_server):
    llm_server.script(answer(MARKUP=2.5), answer(MARKUP=2.6))
    first = run(project, options(llm_server, steps=1))
    resumed = run(project, options(llm_server, steps=3, resume=first.result.run_id, max_optimizer_tokens=1))
    assert resumed.result.stopped_by == "budget" and len(llm_server.chat_requests) == 1
    assert resumed.result.best_values["shop.MARKUP"] == 2.5
