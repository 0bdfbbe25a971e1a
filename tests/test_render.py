"""Problem text from hand-built execution graphs: exact sections, errors, several examples, budgets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from instrumented import program
from run_graphs import PARAMS, RATE, TOTAL, TOTAL_SOURCE, VALUES, Run, deep_run, loop_run, small_run

from autotrace.evaluation import Feedback
from autotrace.optimizers.base import BudgetError, estimate_tokens
from autotrace.optimizers.credit import Implicated, Reached
from autotrace.optimizers.render import LEVELS, SECTIONS, Blame, render_problem


def render(graphs: list[tuple[nx.DiGraph | None, str, float | None]], budget: int = 6000,
           values: dict[str, Any] | None = None) -> str:
    feedback = [Feedback(g, text, score) for g, text, score in graphs]
    return render_problem(feedback, PARAMS, values or VALUES, instruction="Price orders right.", budget_tokens=budget)


def section(text: str, title: str) -> str:
    return text.split(title + "\n", 1)[1].split("\n\n#", 1)[0].rstrip("\n")


# -- exact rendering ---------------------------------------------------------------------------------


def test_small_run_renders_every_section_exactly() -> None:
    text = render([(small_run(), "expected 0.66, got 6.0", 0.25)])
    assert text == (
        "#Instruction\nPrice orders right.\n\n"
        "#Constraints\nshop.rates.RATE: a tax rate between 0 and 1\n\n"
        "#Documentation\nshop.main(order): Price an order.\n\n"
        "#Code\n"
        "eval0 = shop.main(order=input0)  # calls eval1\n"
        "eval1 = shop.pricing.total(qty=3, rate=0.2)  # reads shop.rates.RATE\n"
        "output = eval0\n\n"
        "#Inputs\ninput0 = {'qty': 3}\n\n"
        "#Others\neval1 = 6.0\n\n"
        "#Outputs\noutput = 6.0\n\n"
        "#Feedback\nscore 0.25: expected 0.66, got 6.0\n\n"
        "#Implicated\n(the variables the wrong outputs came from, most implicated first)\n"
        "shop.rates.RATE: the result of a call reading it reached the wrong output in 1 of 1 failing example\n"
        "  shop.pricing.total(qty=3, rate=0.2) returned 6.0 -> output 6.0\n"
        "shop.pricing.total: its result reached the wrong output in 1 of 1 failing example\n"
        "  shop.pricing.total(qty=3, rate=0.2) returned 6.0 -> output 6.0\n\n"
        "#Variables\n(float) shop.rates.RATE = 0.2\n(code) shop.pricing.total =\n" + TOTAL_SOURCE
    )


def test_implicated_names_the_calls_whose_results_reached_the_wrong_outputs_of_the_failing_examples() -> None:
    # examples 1 and 3 fail: loop_run's main returns the sum of the totals it called (not one of them)
    right, wrong = small_run(), loop_run(5)
    text = render([(wrong, "too high", 0.0), (right, "fine", 1.0), (small_run(), "too low", 0.5)])
    assert section(text, "#Implicated") == (
        "(the variables the wrong outputs came from, most implicated first)\n"
        "shop.rates.RATE: the result of a call reading it reached the wrong output in 1 of 2 failing examples; "
        "further up in 1 more\n"
        "  [example 3] shop.pricing.total(qty=3, rate=0.2) returned 6.0 -> output 6.0; the judge: too low\n"
        "shop.pricing.total: its result reached the wrong output in 1 of 2 failing examples; further up in 1 more\n"
        "  [example 3] shop.pricing.total(qty=3, rate=0.2) returned 6.0 -> output 6.0; the judge: too low")
    one = render_problem([Feedback(small_run(), "x", 0.0)], [RATE], {RATE.name: 0.2}, instruction="",
                         budget_tokens=6000)
    assert "#Implicated" not in one  # one variable: nothing to choose between


def test_implicated_shows_fewer_variables_and_calls_at_the_terse_levels() -> None:
    reached = tuple(Reached(i, f"m.f{i}() returned {i}", "[1, 2]") for i in (1, 2))
    blame = Blame(tuple(Implicated(f"m.f{i}", 2, 0, reached) for i in range(4)), 2)
    roomy = blame.text(LEVELS[0], True, frozenset({"m.f0", "m.f1", "m.f2", "m.f3"}))
    assert roomy.count("its result reached the wrong output in 2 of 2 failing examples") == 4
    assert roomy.count("  [example 2] m.f2() returned 2 -> output [1, 2]") == 4 and "more" not in roomy
    judged = Blame(blame.credit, 2, {1: "expected 3", 2: "expected  4\n(not 2)"}).text(LEVELS[0], True, frozenset())
    # what the judge said of each example follows the first call of it shown, once per variable
    assert judged.count("  [example 1] m.f1() returned 1 -> output [1, 2]; the judge: expected 3") == 4
    assert judged.count("  [example 2] m.f2() returned 2 -> output [1, 2]; the judge: expected 4 (not 2)") == 4
    terse = blame.text(LEVELS[-1], True, frozenset())
    assert terse.splitlines()[1:] == [
        "m.f0: the result of a call reading it reached the wrong output in 2 of 2 failing examples",
        "  [example 1] m.f1() returned 1 -> output [1, 2]", "  ... 1 more calls",
        "m.f1: the result of a call reading it reached the wrong output in 2 of 2 failing examples",
        "  [example 1] m.f1() returned 1 -> output [1, 2]", "  ... 1 more calls",
        "m.f2: the result of a call reading it reached the wrong output in 2 of 2 failing examples",
        "  [example 1] m.f1() returned 1 -> output [1, 2]", "  ... 1 more calls",
        "... and 1 more, less implicated"]


def test_short_functions_are_documented_by_their_source() -> None:
    text = render_problem([Feedback(small_run(), "x", 0.0)], [RATE], {RATE.name: 0.2}, instruction="",
                          budget_tokens=6000)
    expected = "shop.main(order): Price an order.\nshop.pricing.total:\n" + TOTAL_SOURCE.strip()
    assert section(text, "#Documentation") == expected


def test_current_values_not_initial_ones_are_shown() -> None:
    new_source = TOTAL_SOURCE.replace("* 10", "")
    text = render([(small_run(), "ok", 1.0)], values={RATE.name: 0.25, TOTAL.name: new_source})
    assert "(float) shop.rates.RATE = 0.25" in text
    assert section(text, "#Variables").endswith(new_source.rstrip())


def test_error_appears_in_outputs_and_traceback_in_feedback() -> None:
    run = Run()
    main = run.call("shop.main", {"order": "{}"}, value=None)
    inner = run.call("shop.pricing.total", {"qty": "3", "rate": "0"}, value=None, reads=(RATE.name,), into=main)
    trace = ('Traceback (most recent call last):\n  File "shop/pricing.py", line 3, in total\n'
             "ZeroDivisionError: division by zero")
    text = render([(run.output(run.raised(inner, "ZeroDivisionError", "division by zero", trace)), "crashed", 0.0)])

    assert section(text, "#Code") == (
        "eval0 = shop.main(order={})  # calls eval1; raised (passed on from a call inside)\n"
        "eval1 = shop.pricing.total(qty=3, rate=0)  # reads shop.rates.RATE; raised ZeroDivisionError\n"
        "output = the exception raised in eval1"
    )
    assert section(text, "#Others") == "eval0 raised (passed on from a call inside)\neval1 raised ZeroDivisionError"
    assert section(text, "#Outputs") == "eval1 raised ZeroDivisionError: division by zero"
    # the traceback points into a (code) variable: its source follows, numbered as the traceback numbers it
    assert section(text, "#Feedback") == ("score 0: crashed\n" + trace + "\nshop.pricing.total as it ran, numbered as "
                                          'in the traceback:\n3 | def total(qty, rate):\n4 |     """Price of qty '
                                          'items."""\n5 |     return qty * rate * 10')


def test_a_repeated_error_is_shown_once() -> None:
    run = Run()
    main = run.call("shop.main", {"order": "[]"}, value="0.0")
    for i in range(5):  # main catches each one
        call = run.call("shop.pricing.total", {"qty": str(i), "rate": "0"}, value=None, into=main)
        run.raised(call, "ValueError", "rate must be positive", "Traceback ...\nValueError: rate must be positive")
    text = render([(run.output(main), "all items were skipped", 0.0)])
    assert section(text, "#Outputs") == "output = 0.0\neval1 raised ValueError: rate must be positive"
    assert section(text, "#Feedback").count("Traceback") == 1


def test_identical_failures_across_examples_are_said_once_and_different_ones_stay_apart() -> None:
    def failing(order: str, message: str) -> nx.DiGraph:
        run = Run()
        run.input("in0", order)
        main = run.call("shop.main", {"order": "in0"}, value=None)
        trace = f'Traceback (most recent call last):\n  File "shop/main.py", line 3, in main\nValueError: {message}'
        return run.output(run.raised(main, "ValueError", message, trace))

    def text_of(message: str) -> str:
        return f'Traceback (most recent call last):\n  File "shop/main.py", line 3, in main\nValueError: {message}'

    same = [(failing(f"{{'qty': {i}}}", "no rate"), text_of("no rate"), None) for i in range(1, 4)]
    other = (failing("{'qty': 9}", "qty 9 is too many"), text_of("qty 9 is too many"), None)
    text = render([*same, (small_run(), "fine", 0.9), other, failing_copy(same[0])])
    assert section(text, "#Inputs").splitlines() == [
        "[example 1, standing for examples 1-3, 6] input0 = {'qty': 1}", "[example 4] input0 = {'qty': 3}",
        "[example 5] input0 = {'qty': 9}"]
    feedback = section(text, "#Feedback")
    assert feedback.count("ValueError: no rate") == 1 and feedback.count("ValueError: qty 9 is too many") == 1
    assert feedback.startswith("[examples 1-3, 6] the same error: Traceback (most recent call last):\n")
    assert "[example 4] score 0.9: fine" in feedback and "[example 5] Traceback" in feedback
    assert section(text, "#Outputs").splitlines()[0] == "[examples 1-3, 6] eval0 raised ValueError: no rate"


def failing_copy(example: tuple) -> tuple:
    graph, text, score = example
    return graph.copy(), text, score


SHOP = {
    "pricing.py": '''
        FEE = 1.0  # autotrace: param fixed fee per order

        def order_cost(pages):
            """Fee plus printing."""
            return FEE + pages * 0.05
    ''',
    "main.py": '''
        from pricing import order_cost

        def split(total, people):  # autotrace: param
            return total / people

        def main(pages, people):
            return [split(order_cost(p), people) for p in range(pages)]
    ''',
}


def test_a_graph_recorded_by_the_real_recorder_renders(tmp_path: Path) -> None:
    with program(tmp_path, SHOP) as shop:
        graph = shop.record(shop.module("main").main, 2, 0)
        params = shop.project.params
    text = render_problem([Feedback(graph, "it crashed", None)], params, {p.name: p.initial for p in params},
                          instruction="Split the bill.", budget_tokens=4000)
    assert section(text, "#Code") == (
        "eval0 = main.main(pages=input0, people=input1)  # reads main.split; calls eval1, eval2; "
        "raised (passed on from a call inside)\n"
        "eval1 = pricing.order_cost(pages=0)  # reads pricing.FEE\n"
        "eval2 = main.split(total=eval1, people=0)  # raised ZeroDivisionError\n"
        "output = the exception raised in eval2"
    )
    assert section(text, "#Inputs") == "input0 = 2, input1 = 0"
    assert section(text, "#Outputs") == "eval2 raised ZeroDivisionError: float division by zero"
    assert "return total / people" in section(text, "#Feedback").split("Traceback", 1)[1]
    assert "(code) main.split =\ndef split(total, people):" in text


def test_several_examples_share_code_and_variables_and_trace_the_worst() -> None:
    good, bad = small_run(), small_run()
    bad.nodes["in0"]["value"] = "{'qty': 0}"
    bad.nodes["output"]["value"] = "0.0"
    text = render([(good, "fine", 0.9), (bad, "zero items priced 0.0", 0.1), (None, "untraced example", None)])

    assert [line for line in text.splitlines() if line.startswith("#")] == list(SECTIONS)
    assert section(text, "#Code").startswith("(recorded in example 2)\n")
    assert section(text, "#Inputs") == ("[example 1] input0 = {'qty': 3}\n[example 2] input0 = {'qty': 0}\n"
                                        "[example 3] (not recorded)")
    assert section(text, "#Outputs") == "[example 1] output = 6.0\n[example 2] output = 0.0\n[example 3] (not recorded)"
    assert section(text, "#Feedback") == ("[example 1] score 0.9: fine\n[example 2] score 0.1: zero items priced 0.0\n"
                                          "[example 3] untraced example")


def test_feedback_without_any_graph_still_renders() -> None:
    text = render([(None, "no trace here", 0.5)])
    assert section(text, "#Code") == "(this run was not recorded)"
    assert section(text, "#Feedback") == "score 0.5: no trace here"


# -- fitting a budget -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [100, 1_000, 10_000])
def test_loop_of_n_calls_fits_and_keeps_what_matters(n: int) -> None:
    budget = 2500
    graph = loop_run(n)
    text = render([(graph, "expected a lower total", 0.3)], budget=budget)

    assert estimate_tokens(text) <= budget
    assert "(float) shop.rates.RATE = 0.2" in text and TOTAL_SOURCE.rstrip() in text
    assert "eval1 = shop.pricing.total(qty=0, rate=0.2)  # reads shop.rates.RATE\n" in text
    assert "output = eval0" in text and f"output = {n * 2.0}" in text
    assert "score 0.3: expected a lower total" in text
    gap_line = r"^\.\.\. ([\d,]+) more calls of shop\.pricing\.total \(outputs range (\S+)\)$"
    (gap,) = re.findall(gap_line, text, re.MULTILINE)
    shown = len(re.findall(r"= shop\.pricing\.total\(", text))
    assert int(gap[0].replace(",", "")) + shown == n
    assert "shop.log.note" not in section(text, "#Code")  # its calls lead from no parameter to the output


@pytest.mark.parametrize("n", [100, 1_000, 10_000])
def test_deep_chain_collapses_to_the_reading_call(n: int) -> None:
    budget = 1500
    graph = deep_run(n)
    text = render([(graph, "too slow", 0.5)], budget=budget)
    assert estimate_tokens(text) <= budget
    reader = f"eval{n - 1} = shop.layer{n - 2}.step(x=1)  # reads shop.rates.RATE"
    assert reader in text
    assert "output = eval0" in text and "score 0.5: too slow" in text


def test_thousands_of_distinct_reading_functions_keep_head_and_tail() -> None:
    run = Run()
    main = run.call("shop.main", {"order": "[...]"}, value="1.0")
    for i in range(5_000):
        run.call(f"shop.rules.rule{i}", {"x": "1"}, value="1.0", reads=(RATE.name,), into=main)
    text = render([(run.output(main), "x", 0.0)], budget=1200)
    assert estimate_tokens(text) <= 1200
    assert "eval1 = shop.rules.rule0(x=1)  # reads shop.rates.RATE" in text
    assert "eval5000 = shop.rules.rule4999(x=1)  # reads shop.rates.RATE" in text
    assert re.search(r"^\.\.\. 4,9\d\d more lines$", text, re.MULTILINE)


def test_a_small_overflow_only_prunes_calls_off_the_parameter_paths() -> None:
    graph = loop_run(20)
    full = render([(graph, "x", 0.0)], budget=100_000)
    text = render([(graph, "x", 0.0)], budget=estimate_tokens(full) - 1)
    assert "shop.log.note" in full and "shop.log.note" not in text
    assert "more calls" not in text and len(re.findall(r"= shop\.pricing\.total\(", text)) == 20


def test_long_values_are_shortened_before_others_are_dropped() -> None:
    run = Run()
    main = run.call("shop.main", {"order": "[...]"}, value="1.0")
    for i in range(30):
        run.call("shop.pricing.total", {"qty": "'" + "q" * 150 + "'", "rate": "0.2"},
                 value=f"'{i:02d}" + "v" * 150 + "'", reads=(RATE.name,), into=main)
    text = render([(run.output(main), "x", 0.0)], budget=700)
    assert estimate_tokens(text) <= 700
    assert "q" * 150 not in text and "chars)" in text
    assert section(text, "#Others").startswith("eval1 = '00vvv")


def test_a_long_value_shown_before_is_named_not_repeated() -> None:
    run = Run()
    table = "[" + ", ".join(f"{{'name': 'p{i}', 'points': {i}}}" for i in range(12)) + "]"
    main = run.call("shop.main", {}, value="['p11', 'p10']")
    ordered = run.call("shop.sort", {"rows": table}, value=table, into=main)  # already in order
    first = run.call("shop.top", {"rows": table}, arg_from={"rows": ordered}, value=table, into=main)
    run.call("shop.names", {"rows": table}, arg_from={"rows": first}, value="['p11', 'p10']", into=main)
    text = render([(run.output(main), "x", 0.0)], budget=100_000)
    assert f"eval1 = shop.sort(rows={table})" in text  # written out in full once: the model must read the data
    assert section(text, "#Others") == "eval1 = (same as eval1's argument rows)\neval2 = (same as eval1's argument rows)\n" \
                                       "eval3 = ['p11', 'p10']"


def test_many_examples_are_cut_to_fit() -> None:
    examples = [(small_run(), f"example {i}: " + "wrong " * 300, float(i)) for i in range(40)]
    text = render(examples, budget=2000)
    assert estimate_tokens(text) <= 2000
    assert "more examples" in text and "[example 1] score 0:" in text and "[example 40]" not in text


def test_parameters_too_big_for_the_budget_raise() -> None:
    huge = {RATE.name: 0.2, TOTAL.name: TOTAL_SOURCE + "# padding\n" * 2000}
    with pytest.raises(BudgetError, match="parameters"):
        render([(small_run(), "x", 0.0)], budget=1000, values=huge)


def test_token_estimate_is_conservative() -> None:
    prose = "Make the smallest change that fixes the feedback. " * 20
    assert estimate_tokens(prose) >= len(prose) / 4
    assert estimate_tokens("1234567890") == 10  # digits are tokens of their own in Qwen and Llama 3
    assert estimate_tokens("") == 0 and estimate_tokens("é") == 1


def test_a_call_that_only_passes_on_its_inner_call_is_left_out() -> None:
    """A harness ``run_case(year)`` that returns ``is_leap(year)`` adds a line per case and nothing
    else; a wrapper that reads a parameter of its own, or returns something else, stays."""
    run = Run()
    main = run.call("shop.main", {}, value="[True, False]")
    for year, leap in (("2000", "True"), ("2100", "False")):
        case = run.call("shop.run_case", {"year": year}, value=leap, reads=(TOTAL.name,), into=main)
        run.call("shop.pricing.total", {"year": year}, value=leap, reads=(TOTAL.name,), into=case)
    own = run.call("shop.taxed", {"x": "1"}, value="0.2", reads=(RATE.name,), into=main)
    run.call("shop.pricing.total", {"x": "1"}, value="0.2", reads=(TOTAL.name,), into=own)
    text = render([(run.output(main), "x", 0.0)], budget=100_000)
    code = section(text, "#Code")
    assert "run_case" not in code and "run_case" not in section(text, "#Others")
    assert "eval2 = shop.pricing.total(year=2000)\n" in code  # calling a (code) variable reads it: not said
    assert "eval0 = shop.main()  # calls eval2, eval4, eval5" in code  # the inner calls' names
    assert "eval5 = shop.taxed(x=1)  # reads shop.rates.RATE; calls eval6" in code
