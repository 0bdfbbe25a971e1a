"""The server's own account of each model call (prompt tokens evaluated and taken from its prefix cache,
seconds of prompt evaluation and generation), read through the real client from the scripted server,
summed per step into the step record, the progress line and ``autotrace show --json``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from helpers import answer, shop
from llmserver import PREDICTED_MS_PER_TOKEN, PROMPT_MS_PER_TOKEN, ScriptedLLMServer

from autotrace.engine import Engine, Options
from autotrace.engine.callbacks import StepReport
from autotrace.llm.client import LLM, LLMConfig
from autotrace.llm.timings import ServerTimings, read_timings
from autotrace.project import Project
from autotrace.store import RunStore, state_dir

SHARED = "You improve programs. " * 40  # a long system message both questions begin with


def ask(server: ScriptedLLMServer, questions: list[str]) -> list[Any]:
    with LLM(LLMConfig(model="m", base_url=server.base_url, api_key="k")) as llm:
        return [llm.complete_text([{"role": "system", "content": SHARED}, {"role": "user", "content": q}])
                for q in questions]


def test_llama_timings_say_how_much_of_the_prompt_came_from_the_cache():
    with ScriptedLLMServer(prefix_cache="llama") as server:
        server.script("first answer", "second answer")
        first, second = ask(server, ["What is 2 + 2?", "What is 3 + 3?"])
    assert first.timings.reported and first.timings.reused == 0
    assert first.timings.evaluated == first.prompt_tokens
    # the second question repeats the system message: that much is taken from the cache, the rest evaluated
    assert second.timings.reused >= len(SHARED) // 4 - 1
    assert second.timings.reused + second.timings.evaluated == second.prompt_tokens
    assert second.timings.cache_share is not None and second.timings.cache_share > 0.8
    assert second.timings.prompt_seconds == pytest.approx(second.timings.evaluated * PROMPT_MS_PER_TOKEN / 1000)
    assert second.timings.generated == second.completion_tokens
    assert second.timings.generation_seconds == pytest.approx(second.completion_tokens * PREDICTED_MS_PER_TOKEN / 1000)


def test_openai_cached_tokens_are_read_without_seconds():
    with ScriptedLLMServer(prefix_cache="openai") as server:
        server.script("first answer", "second answer")
        _, second = ask(server, ["What is 2 + 2?", "What is 3 + 3?"])
    timings = second.timings
    assert timings.reported and timings.reused > 0 and timings.reused + timings.evaluated == second.prompt_tokens
    assert timings.prompt_seconds == 0 and timings.generation_seconds == 0


def test_a_server_that_says_nothing_has_no_cache_share():
    with ScriptedLLMServer() as server:
        server.script("first answer", "second answer")
        _, second = ask(server, ["What is 2 + 2?", "What is 3 + 3?"])
    assert not second.timings.reported and second.timings.cache_share is None
    assert second.timings.describe() == ""


def test_an_older_llama_without_cache_n_reuses_what_usage_counts_beyond_the_evaluated():
    timings = read_timings({"timings": {"prompt_n": 30, "prompt_ms": 600.0, "predicted_n": 5, "predicted_ms": 250.0}},
                           100, 5)
    assert (timings.evaluated, timings.reused, timings.generated) == (30, 70, 5)
    assert timings.prompt_seconds == pytest.approx(0.6) and timings.describe() == "cache 70%"


def test_sums_keep_whether_anything_was_reported():
    reported = ServerTimings(10, 30, 5, 0.5, 2.0, True)
    both = reported + ServerTimings(20, 0, 5)
    assert both == ServerTimings(30, 30, 10, 0.5, 2.0, True) and both.cache_share == 0.5
    assert ServerTimings.from_json(both.to_json()) == both


class ShopEvaluator:
    jobs = 1

    def run(self, runs: Any, record: bool = True) -> list[Any]:
        from autotrace.evaluation import Evaluation, ExampleResult

        results = []
        for values, _draw in runs:
            quote = round((1 + 200 * values["shop.PRICE"]) * values["shop.MARKUP"], 2)
            results.append(Evaluation((ExampleResult(score=-abs(round(quote - 30, 2)),
                                                     message=f"output {quote}, wanted 30", output=str(quote)),)))
        return results


def test_each_step_records_its_cache_share_and_shows_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    project = Project.load(shop(tmp_path) / "shop.py")
    reports: list[StepReport] = []
    with ScriptedLLMServer(prefix_cache="llama") as server:
        server.script(answer(MARKUP=2.0), answer(MARKUP=2.5))
        llm = LLMConfig(model="scripted", base_url=server.base_url, api_key="test")
        options = Options(llm=llm, probe=False, merge=False, repeats=1, steps=2)
        with RunStore(state_dir(project.root) / "autotrace.db") as store:
            engine = Engine(options, project, ShopEvaluator(), store, progress=reports.append)
            run_id = engine.run().run_id
            records = store.steps(run_id)
            from autotrace.report import write_run_report

            page = write_run_report(store, run_id, tmp_path / "report-dir", tmp_path / "report.html").read_text()
    first, second = records[1].timings, records[2].timings
    assert first.reported and first.reused == 0 and first.evaluated == records[1].prompt_tokens
    # the second step's question begins as the first's did: its system message and static sections
    assert second.reused > 0 and second.reused + second.evaluated == records[2].prompt_tokens
    assert second.prompt_seconds == pytest.approx(second.evaluated * PROMPT_MS_PER_TOKEN / 1000)
    assert [r.cache for r in reports if r.step > 0] == [first.describe(), second.describe()]
    assert reports[-1].cache == f"cache {second.cache_share:.0%}"
    whole = (second + first).cache_share
    assert whole is not None and f"prompt from the cache<b>{100 * whole:.0f}%</b>" in page
    assert f"{100 * second.cache_share:.0f}% ({second.reused:,} of {records[2].prompt_tokens:,})" in page

    from autotrace.runners.cli import cli

    monkeypatch.chdir(project.root)
    shown = CliRunner().invoke(cli, ["show", run_id, "--json"])
    assert shown.exit_code == 0, shown.output
    steps = json.loads(shown.output)["steps"]
    assert steps[2]["timings"]["reused"] == second.reused
    assert steps[2]["timings"]["cache_share"] == pytest.approx(second.cache_share, abs=1e-4)
    assert steps[0]["timings"]["reported"] is False


# -- the prompts put what stays the same first ---------------------------------------------------------


def _shop_run(rate: str, total: str):  # the run of tests/run_graphs.py's shop with the given rate and result
    from run_graphs import RATE, TOTAL, Run

    run = Run()
    order = run.input("in0", "{'qty': 3}")
    main = run.call("shop.main", {"order": "{'qty': 3}"}, value=total, arg_from={"order": order})
    run.call("shop.pricing.total", {"qty": "3", "rate": rate}, value=total, reads=(RATE.name, TOTAL.name), into=main)
    return run.output(main)


def test_two_steps_problems_share_their_static_sections_before_what_changed():
    from run_graphs import PARAMS, RATE, TOTAL, TOTAL_SOURCE, VALUES

    from autotrace.evaluation import Feedback
    from autotrace.optimizers.render import render_problem

    def problem(rate: float, total: str, verdict: str) -> str:
        return render_problem([Feedback(_shop_run(str(rate), total), verdict, 0.25)], PARAMS,
                              {**VALUES, RATE.name: rate}, instruction="Price orders right.", budget_tokens=6000)

    first, second = problem(0.2, "6.0", "expected 0.66, got 6.0"), problem(0.3, "9.0", "expected 0.66, got 9.0")
    shared = os.path.commonprefix([first, second])
    assert "#Constraints\nshop.rates.RATE: a tax rate between 0 and 1" in shared
    assert "#Documentation\nshop.main(order): Price an order.\n\n#Code\n" in shared
    assert "#Feedback" not in shared
    # a candidate whose outputs are the old ones (a function written otherwise) changes only #Variables
    same_outputs = render_problem([Feedback(_shop_run("0.2", "6.0"), "expected 0.66, got 6.0", 0.25)], PARAMS,
                                  {**VALUES, TOTAL.name: TOTAL_SOURCE.replace("qty * rate", "rate * qty")},
                                  instruction="Price orders right.", budget_tokens=6000)
    assert os.path.commonprefix([first, same_outputs]).endswith("(code) shop.pricing.total =\ndef total(qty, rate):\n"
                                                                '    """Price of qty items."""\n    return ')


def test_the_reflective_question_says_its_task_before_the_value_and_the_feedback():
    from run_graphs import TOTAL, TOTAL_SOURCE

    from autotrace.evaluation import Feedback
    from autotrace.optimizers.reflect import reflect_messages

    def question(source: str, total: str) -> str:
        messages = reflect_messages(TOTAL, source, [Feedback(_shop_run("0.2", total), f"got {total}", 0.25)], 6000)
        assert messages is not None
        return messages[1]["content"]

    first = question(TOTAL_SOURCE, "6.0")
    second = question(TOTAL_SOURCE.replace("* 10", "* 11"), "6.6")
    shared = os.path.commonprefix([first, second])
    assert "Write the function again with the fix" in shared and "\n#Feedback\n" not in shared


def test_the_induction_question_says_what_to_write_before_the_examples():
    from autotrace.optimizers.induce import Demo, induce_messages

    first = induce_messages([Demo("good film", "positive")], 6000)
    second = induce_messages([Demo("dull film", "negative")], 6000)
    assert first is not None and second is not None
    assert "Reply with the instruction only." in os.path.commonprefix([first[1]["content"], second[1]["content"]])


def test_a_step_cost_row_splits_the_step_time_by_the_servers_timings():
    from autotrace.evaluation import Evaluation, ExampleResult
    from autotrace.records import StepRecord
    from benchmarks.rows import encode
    from benchmarks.step_cost import decode, rows_of

    evaluation = Evaluation((ExampleResult(score=0.5, message="half"),))
    steps = [StepRecord(values={}, evaluation=evaluation, step=0),
             StepRecord(values={}, evaluation=evaluation, step=1, prompt_tokens=400, seconds=30.0,
                        timings=ServerTimings(100, 300, 50, 4.0, 20.0, True))]
    (row,) = rows_of(steps, commit="abc", arm="after", task="roman", seed=0, model="m", command="cmd")
    assert (row.step, row.evaluated, row.reused, row.cache_share) == (1, 100, 300, 0.75)
    assert (row.prompt_seconds, row.generation_seconds, row.other_seconds) == (4.0, 20.0, 6.0)
    assert row.reuse_saved_seconds == 12.0  # 300 tokens at the step's 0.04 s a token
    assert decode(encode(row)) == row  # type: ignore[arg-type]


LLAMA_LOG = """\
1.43.908.049 I slot print_timing: id  0 | task 0 | prompt eval time =   48486.45 ms /  3128 tokens (   15.50 ms per token,    64.51 tokens per second)
1.43.908.103 I slot print_timing: id  0 | task 0 |        eval time =   52222.45 ms /   529 tokens (   98.91 ms per token,    10.11 tokens per second)
1.43.908.357 I slot      release: id  0 | task 0 | stop processing: n_tokens = 3656, truncated = 0
6.10.000.000 I slot print_timing: id  0 | task 1880 | n_gen =    200, tg =   0.33 t/s, tg_3s =   0.14 t/s
6.59.847.671 I slot print_timing: id  0 | task 1880 | prompt eval time =    3694.28 ms /   137 tokens (   26.97 ms per token,    37.08 tokens per second)
6.59.847.757 I slot print_timing: id  0 | task 1880 |        eval time =   61682.21 ms /   530 tokens (  116.60 ms per token,     8.58 tokens per second)
6.59.848.047 I slot      release: id  0 | task 1880 | stop processing: n_tokens = 5319, truncated = 0
7.00.000.000 I slot print_timing: id  0 | task 2411 | prompt eval time =    2324.46 ms /   100 tokens (   23.24 ms per token,    43.02 tokens per second)
"""


def test_the_server_log_tells_each_requests_reuse():
    from benchmarks.server_log import requests

    first, second = requests(LLAMA_LOG)  # the third request has not ended: left out
    assert (first.prompt, first.evaluated, first.reused, first.generated) == (3128, 3128, 0, 529)
    assert (second.prompt, second.evaluated, second.reused) == (4790, 137, 4653)
    assert second.prompt_seconds == pytest.approx(3.69428) and second.generation_seconds == pytest.approx(61.68221)
