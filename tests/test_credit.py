"""Credit from the recorded graphs (:mod:`autotrace.optimizers.credit`): which parameters the failing
examples implicate, on hand-made graphs in the recorder's vocabulary and on runs it recorded."""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx
import pytest
from instrumented import program

from autotrace import graph as g
from autotrace.evaluation import Feedback
from autotrace.optimizers.credit import Implicated, Reached, carries, failing, implicated


def run(params: dict[str, str], calls: Iterable[tuple[int, str, dict[str, str], str]],
        edges: Iterable[tuple[str, str, str]], output: str = "call:0") -> nx.DiGraph:
    """A graph as :func:`autotrace.recorder.build_graph` makes one: ``params`` name -> kind, ``calls``
    (seq, func, args, value), ``edges`` (source, target, role); ``output`` is what the output edge
    leaves from (an ``error:<seq>`` node is added for it, raised by that call)."""
    graph = g.new_graph()
    for name, kind in params.items():
        graph.add_node(f"param:{name}", kind="param", label=name, param=name, param_kind=kind, description="",
                       value="...")
    for seq, func, args, value in calls:
        graph.add_node(f"call:{seq}", kind="call", label=func, func=func, seq=seq, depth=0, thread=1,
                       error=value == "<no result>", args=args, value=value)
    for source, target, role in edges:
        graph.add_edge(source, target, role=role)
    if output.startswith("error:"):
        graph.add_node(output, kind="error", label="ValueError", exc_type="ValueError", message="bad", traceback="")
        graph.add_edge(f"call:{output.split(':')[1]}", output, role="raised")
    graph.add_node(g.OUTPUT, kind="output", label="output",
                   value=graph.nodes[output].get("value", "") if output.startswith("call:") else "raised ValueError('bad')")
    graph.graph["output"] = g.OUTPUT
    graph.add_edge(output, g.OUTPUT, role="output")
    return graph


def cart(total: str = "7") -> nx.DiGraph:
    """``main`` fills a cart with ``m.add`` (which returns None: it changes state) and returns ``m.total()``."""
    return run({"m.add": "code", "m.total": "code"},
               [(0, "m.main", {}, total), (1, "m.add", {"x": "3"}, "None"), (2, "m.add", {"x": "4"}, "None"),
                (3, "m.total", {}, total)],
               [("call:1", "call:0", "nested"), ("call:2", "call:0", "nested"), ("call:3", "call:0", "nested"),
                ("param:m.add", "call:1", "reads"), ("param:m.add", "call:2", "reads"),
                ("param:m.total", "call:3", "reads"), ("param:m.add", "call:0", "reads"),
                ("param:m.total", "call:0", "reads")])


def test_the_function_whose_result_is_the_output_comes_before_the_one_that_only_changed_state() -> None:
    assert implicated([Feedback(cart(), "expected 8", 0.0)]) == (
        Implicated("m.total", 1, 0, (Reached(1, "m.total() returned 7", "7"),)),
        Implicated("m.add", 0, 1, ()),
    )


def test_credit_is_weighed_over_the_failing_examples_only() -> None:
    # the direct parameter of two failing examples outranks that of one; the best example counts for nothing
    right = run({"m.f": "code", "m.g": "code"}, [(0, "m.main", {}, "1"), (1, "m.g", {}, "1")],
                [("call:1", "call:0", "nested"), ("param:m.g", "call:1", "reads")])
    f_wrong = run({"m.f": "code", "m.g": "code"}, [(0, "m.main", {}, "5"), (1, "m.f", {}, "5")],
                  [("call:1", "call:0", "nested"), ("param:m.f", "call:1", "reads")])
    g_wrong = run({"m.f": "code", "m.g": "code"}, [(0, "m.main", {}, "6"), (1, "m.g", {}, "6")],
                  [("call:1", "call:0", "nested"), ("param:m.g", "call:1", "reads")])
    feedback = [Feedback(right, "", 1.0), Feedback(g_wrong, "", 0.0), Feedback(f_wrong, "", 0.5),
                Feedback(f_wrong, "", 0.0)]
    assert failing(feedback) == [2, 3, 4]
    assert [(c.name, c.weight, [r.example for r in c.reached]) for c in implicated(feedback)] == [
        ("m.f", (2, 0), [3, 4]), ("m.g", (1, 0), [2])]


def test_examples_scored_alike_all_count_and_an_unrecorded_one_none() -> None:
    feedback = [Feedback(cart(), "", 0.5), Feedback(None, "not recorded", 0.0), Feedback(cart(), "", 0.5)]
    assert failing(feedback) == [1, 3]
    assert implicated(feedback)[0] == Implicated("m.total", 2, 0, (Reached(1, "m.total() returned 7", "7"),
                                                                   Reached(3, "m.total() returned 7", "7")))
    assert implicated([Feedback(None, "not recorded", 0.0)]) == ()


def test_a_result_passed_on_as_an_argument_flows_whatever_its_identity() -> None:
    # main: y = m.f(2); return m.g(y): a small int gets no argument edge from the recorder; its repr tells
    graph = run({"m.f": "code", "m.g": "code", "m.unused": "code"},
                [(0, "m.main", {}, "9"), (1, "m.f", {"x": "2"}, "3"), (2, "m.g", {"y": "3"}, "9"),
                 (3, "m.unused", {}, "4")],
                [("call:1", "call:0", "nested"), ("call:2", "call:0", "nested"), ("call:3", "call:0", "nested"),
                 ("param:m.f", "call:1", "reads"), ("param:m.g", "call:2", "reads"),
                 ("param:m.unused", "call:3", "reads")])
    assert [(c.name, c.weight) for c in implicated([Feedback(graph, "", 0.0)])] == [
        ("m.f", (1, 0)), ("m.g", (1, 0)), ("m.unused", (0, 1))]


def test_a_text_read_by_a_call_on_the_path_and_an_argument_edge() -> None:
    graph = run({"m.PROMPT": "literal", "m.fmt": "code"},
                [(0, "m.main", {}, "'A: yes'"), (1, "m.ask", {"q": "'x'"}, "['yes']"), (2, "m.fmt", {"r": "['yes']"},
                                                                                     "'A: yes'")],
                [("call:1", "call:0", "nested"), ("call:2", "call:0", "nested"), ("call:1", "call:2", "arg:r"),
                 ("param:m.PROMPT", "call:1", "reads"), ("param:m.fmt", "call:2", "reads")])
    assert implicated([Feedback(graph, "", 0.0)]) == (
        Implicated("m.PROMPT", 1, 0, (Reached(1, "m.ask(q='x') returned ['yes']", "'A: yes'"),)),
        Implicated("m.fmt", 1, 0, (Reached(1, "m.fmt(r=['yes']) returned 'A: yes'", "'A: yes'"),)),
    )


def test_an_exception_implicates_its_raiser_then_the_calls_it_passed_through_and_what_they_did_before() -> None:
    # main -> m.outer -> m.inner raises; m.setup ran in main before, m.after never ran
    graph = run({"m.outer": "code", "m.inner": "code", "m.setup": "code", "m.after": "code"},
                [(0, "m.main", {}, "<no result>"), (1, "m.setup", {}, "None"), (2, "m.outer", {}, "<no result>"),
                 (3, "m.inner", {"v": "0"}, "<no result>")],
                [("call:1", "call:0", "nested"), ("call:2", "call:0", "nested"), ("call:3", "call:2", "nested"),
                 ("param:m.setup", "call:1", "reads"), ("param:m.outer", "call:2", "reads"),
                 ("param:m.inner", "call:3", "reads")], output="error:3")
    assert implicated([Feedback(graph, "raised", None)]) == (
        Implicated("m.inner", 1, 0, (Reached(1, "m.inner(v=0) raised ValueError: bad", "raised ValueError('bad')"),)),
        Implicated("m.outer", 0, 1, ()),
        Implicated("m.setup", 0, 1, ()),
    )


def test_a_failed_assertion_implicates_the_calls_whose_results_the_raising_frame_had() -> None:
    # a test: cart.add(3) (None: state), assert cart.total() == 8 raised AssertionError in the test itself
    graph = run({"m.add": "code", "m.total": "code"},
                [(0, "tests.test_cart", {}, "<no result>"), (1, "m.add", {"x": "3"}, "None"), (2, "m.total", {}, "7")],
                [("call:1", "call:0", "nested"), ("call:2", "call:0", "nested"), ("param:m.add", "call:1", "reads"),
                 ("param:m.total", "call:2", "reads")], output="error:0")
    assert implicated([Feedback(graph, "failed", None)]) == (
        Implicated("m.total", 1, 0, (Reached(1, "m.total() returned 7", "raised ValueError('bad')"),)),
        Implicated("m.add", 0, 1, ()),
    )


@pytest.mark.parametrize(("inner", "outer", "expected"), [
    ("7", "7", True), ("4", "[13, 4]", True), ("13", "[13, 4]", True), ("3", "[13, 4]", False),
    ("1", "[1.5]", False), ("'YES'", "['YES', 'NO']", True), ("2", "{'a': 2}", True), ("'a'", "{'a': 2}", True),
    ("None", "None", False), ("<no result>", "<no result>", False), ("[1]", "([1], 2)", True),
])
def test_what_a_caller_returned_on(inner: str, outer: str, expected: bool) -> None:
    assert carries(inner, outer) is expected


SHOP = """
    class Cart:
        def __init__(self):
            self.items = []

        def add(self, price, qty):  # autotrace: param
            self.items.append(price)

        def total(self):  # autotrace: param
            return sum(self.items)

    def scenario(ops):
        cart = Cart()
        for price, qty in ops:
            cart.add(price, qty)
        return cart.total()

    def report(ops):
        cart = Cart()
        for price, qty in ops:
            cart.add(price, qty)
        return {"total": cart.total(), "n": len(ops)}
"""


def test_recorded_runs_of_a_class_implicate_the_method_whose_result_is_the_wrong_output(tmp_path) -> None:
    with program(tmp_path, {"shop.py": SHOP}) as p:
        shop = p.module("shop")
        wrong = p.record(shop.scenario, [(2, 3), (5, 1)])  # 7, expected 11 (price times quantity)
        nested = p.record(shop.report, [(2, 3)])
        right = p.record(shop.scenario, [(4, 1)])
    feedback = [Feedback(wrong, "expected 11", 0.0), Feedback(right, "right", 1.0), Feedback(nested, "expected 6", 0.0)]
    first, second = implicated(feedback)
    assert (first.name, first.weight, second.name, second.weight) == ("shop.Cart.total", (2, 0), "shop.Cart.add", (0, 2))
    assert [(r.example, r.call.split(" returned ")[1], r.output) for r in first.reached] == [
        (1, "7", "7"), (3, "2", "{'total': 2, 'n': 1}")]
    assert first.reached[0].call.startswith("shop.Cart.total(self=<shop.Cart object at ")


def test_a_recorded_run_that_raised_implicates_the_method_that_raised(tmp_path) -> None:
    with program(tmp_path, {"shop.py": SHOP}) as p:
        graph = p.record(p.module("shop").scenario, [("2", 3)])  # sum() of a str raises in total
    first, second = implicated([Feedback(graph, "raised", None)])
    assert (first.name, first.weight, second.name, second.weight) == ("shop.Cart.total", (1, 0), "shop.Cart.add", (0, 1))
    assert first.reached[0].output.startswith("raised TypeError(")
