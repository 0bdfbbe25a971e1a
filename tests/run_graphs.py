"""Execution graphs built by hand with the recorder's schema (see autotrace/graph.py): a small
shop whose ``total`` reads a rate, and its runs (one call, a loop of n calls, a chain n deep) for the
renderer and optimizer tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx

from autotrace.graph import new_graph
from autotrace.params import ParamSpec

TOTAL_SOURCE = 'def total(qty, rate):\n    """Price of qty items."""\n    return qty * rate * 10\n'


def spec(name: str, kind: str, initial: Any, description: str = "") -> ParamSpec:
    module, _, qualname = name.rpartition(".")
    return ParamSpec(key=f"{module}.py::{qualname}", path=Path(f"{module}.py"), module=module, qualname=qualname,
                     kind=kind, description=description, initial=initial, line=1)  # type: ignore[arg-type]


MAIN_SOURCE = ('def main(order):\n    """Price an order.\n\n    Long details."""\n' + "    check(order)\n" * 30
               + "    return total(order['qty'], RATE)\n")  # too long to be shown whole in #Documentation
RATE = spec("shop.rates.RATE", "literal", 0.2, "a tax rate between 0 and 1")
TOTAL = spec("shop.pricing.total", "code", TOTAL_SOURCE)
PARAMS = [RATE, TOTAL]
VALUES = {RATE.name: 0.2, TOTAL.name: TOTAL_SOURCE}


class Run:
    """Builds a graph with the recorder's schema (see autotrace/graph.py), one call at a time."""

    def __init__(self) -> None:
        self.graph = new_graph()
        self.seq = 0
        self.graph.graph["functions"] = {
            "shop.main": {"source": MAIN_SOURCE, "doc": "Price an order.\n\nLong details.", "file": "shop/main.py",
                          "line": 1},
            "shop.pricing.total": {"source": TOTAL_SOURCE, "doc": "Price of qty items.", "file": "shop/pricing.py",
                                   "line": 3},
            "shop.log.note": {"source": "def note(msg):\n    pass\n", "doc": "", "file": "shop/log.py", "line": 1},
        }
        for p in PARAMS:
            self.graph.add_node(f"param:{p.name}", kind="param", label=p.name, param=p.name, param_kind=p.kind,
                                description=p.description, value=repr(p.initial))

    def input(self, node: str, value: str) -> str:
        self.graph.add_node(node, kind="input", label=node, value=value)
        return node

    def call(self, func: str, args: dict[str, str], *, value: str | None = "None", reads: tuple[str, ...] = (),
             arg_from: dict[str, str] | None = None, into: str | None = None) -> str:
        node = f"call{self.seq}"
        attrs = {"kind": "call", "label": func.rsplit(".", 1)[-1], "func": func, "args": args, "seq": self.seq,
                 "depth": 0, "thread": 1, "error": value is None}
        if value is not None:
            attrs["value"] = value
        self.graph.add_node(node, **attrs)
        self.seq += 1
        for name in reads:
            self.graph.add_edge(f"param:{name}", node, role="reads")
        for arg, source in (arg_from or {}).items():
            self.graph.add_edge(source, node, role=f"arg:{arg}")
        if into is not None:
            self.graph.add_edge(node, into, role="nested")
        return node

    def raised(self, call: str, exc_type: str, message: str, traceback: str) -> str:
        """An error node; as in the recorder, only the call where the exception started gets one."""
        node = f"error:{call}"
        self.graph.add_node(node, kind="error", label=exc_type, exc_type=exc_type, message=message,
                            traceback=traceback, value=f"{exc_type}({message!r})")
        self.graph.add_edge(call, node, role="raised")
        return node

    def output(self, source: str) -> nx.DiGraph:
        """The output node, fed by the entry call or, when the run raised, by the error node."""
        value = self.graph.nodes[source]["value"]
        if self.graph.nodes[source]["kind"] == "error":
            value = f"raised {value}"
        self.graph.add_node("output", kind="output", label="output", value=value)
        self.graph.add_edge(source, "output", role="output")
        self.graph.graph["output"] = "output"
        return self.graph


def small_run() -> nx.DiGraph:
    run = Run()
    order = run.input("in0", "{'qty': 3}")
    main = run.call("shop.main", {"order": "{'qty': 3}"}, value="6.0", arg_from={"order": order})
    run.call("shop.pricing.total", {"qty": "3", "rate": "0.2"}, value="6.0",
             reads=(RATE.name, TOTAL.name), into=main)
    return run.output(main)


def loop_run(n: int) -> nx.DiGraph:
    """``main`` calls ``total`` n times in a loop (every call reads both parameters) and ``note`` n times."""
    run = Run()
    main = run.call("shop.main", {"order": "[...]"}, value=f"{n * 2.0}", arg_from={"order": run.input("in0", "[...]")})
    for i in range(n):
        run.call("shop.pricing.total", {"qty": str(i), "rate": "0.2"}, value=repr(i * 2.0),
                 reads=(RATE.name, TOTAL.name), into=main)
        run.call("shop.log.note", {"msg": f"'item {i}'"}, into=main)
    return run.output(main)


def deep_run(n: int) -> nx.DiGraph:
    """A chain of n distinct functions, each calling the next; only the deepest reads a parameter."""
    run = Run()
    caller = run.call("shop.main", {"order": "[...]"}, value="2.0")
    top = caller
    for i in range(n - 1):
        caller = run.call(f"shop.layer{i}.step", {"x": "1"}, value="2.0", into=caller,
                          reads=(RATE.name,) if i == n - 2 else ())
    return run.output(top)
