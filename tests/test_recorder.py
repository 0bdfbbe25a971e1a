"""The DAG of one run, edge by edge, for the cases that break naive recorders."""

from __future__ import annotations

import asyncio
import re

import networkx as nx
import pytest
from instrumented import edges, program

from autotrace.values import TEXTS


def unplaced(text: str) -> str:
    """A value's text with the objects' addresses (which differ from run to run) as ``ADDR``."""
    return re.sub(r"0x[0-9a-f]+", "ADDR", text)


def test_values_shared_by_identity_make_no_false_edges(tmp_path):
    src = """
        def five():
            return 5
        def nothing():
            return None
        def yes():
            return True
        def word():
            return "hello"
        def same(x):
            return x
        def main():
            five(); nothing(); yes(); word()
            return [same(5), same(None), same(True), same("hello")]
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").main)
    produced_by = {(u, v) for u, v, role in edges(graph) if role.startswith("arg:")}
    assert produced_by == set()  # every `same` argument is a literal of main, not a result of five/nothing/...
    assert ("five#1", "main#0", "nested") in edges(graph)


def test_real_flows_by_identity(tmp_path):
    src = """
        def make():
            return [1, 2]
        def big(n):
            return n * 1000
        def size(items, extra):
            return len(items) + extra
        def main():
            items = make()
            return size(items, big(7))
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").main)
    assert edges(graph) == {
        ("make#1", "main#0", "nested"), ("big#2", "main#0", "nested"), ("size#3", "main#0", "nested"),
        ("make#1", "size#3", "arg:items"), ("big#2", "size#3", "arg:extra"), ("main#0", "output", "output"),
    }


def test_recursion_nests_each_level_and_reads_the_parameter(tmp_path):
    src = """
        STEP = 2  # autotrace: param
        def count(n):
            return 0 if n == 0 else STEP + count(n - 1)
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").count, 2)
    assert edges(graph) == {
        ("input=2", "count#0", "arg:n"),
        ("count#1", "count#0", "nested"), ("count#2", "count#1", "nested"),
        ("m.STEP", "count#0", "reads"), ("m.STEP", "count#1", "reads"), ("m.STEP", "count#2", "reads"),
        ("count#0", "output", "output"),
    }


def test_loop_chains_each_iteration_to_the_previous(tmp_path):
    src = """
        def step(acc):
            return acc + [len(acc)]
        def main():
            acc = [0]
            for _ in range(3):
                acc = step(acc)
            return acc
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").main)
    flows = {(u, v) for u, v, role in edges(graph) if role == "arg:acc"}
    assert flows == {("step#1", "step#2"), ("step#2", "step#3")}


def test_generator_items_flow_and_body_calls_nest_under_the_generator(tmp_path):
    src = """
        def box(i):
            return [i]
        def items():
            for i in range(2):
                yield box(i)
        def use(item):
            return item[0] * 10
        def main():
            return [use(x) for x in items()]
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").main)
    e = edges(graph)
    assert ("box#2", "items#1", "nested") in e and ("box#4", "items#1", "nested") in e
    assert ("use#3", "main#0", "nested") in e and ("use#5", "main#0", "nested") in e
    # each item reaches `use` from the generator that yielded it (its latest producer), not from `box`
    assert ("items#1", "use#3", "arg:item") in e and ("items#1", "use#5", "arg:item") in e
    assert not any(role.startswith("arg:") and u.startswith("box") for u, _, role in e)


def test_generator_send_throw_close_keep_their_semantics(tmp_path):
    src = """
        def echo():
            received = []
            try:
                while True:
                    try:
                        received.append((yield len(received)))
                    except KeyError:
                        received.append("caught")
            finally:
                received.append("closed")
                LOG.extend(received)
        LOG = []
    """
    with program(tmp_path, {"m.py": src}) as p:
        m = p.module("m")
        graph = p.record(lambda: _drive(m.echo()))
        assert m.LOG == ["a", "caught", "closed"]
    assert graph.number_of_nodes() >= 2


def _drive(gen):
    assert next(gen) == 0
    assert gen.send("a") == 1
    assert gen.throw(KeyError) == 2
    gen.close()


def test_async_calls_nest_under_their_task_creator(tmp_path):
    src = """
        import asyncio
        async def fetch(x):
            await asyncio.sleep(0)
            return [x]
        async def combine(a, b):
            return a + b
        async def main():
            a, b = await asyncio.gather(fetch(1), fetch(2))
            return await combine(a, b)
    """
    with program(tmp_path, {"m.py": src}) as p:
        m = p.module("m")
        graph = p.record(lambda: asyncio.run(m.main()))
    e = edges(graph)
    assert {("fetch#1", "main#0", "nested"), ("fetch#2", "main#0", "nested"), ("combine#3", "main#0", "nested"),
            ("fetch#1", "combine#3", "arg:a"), ("fetch#2", "combine#3", "arg:b")} <= e


def test_methods_closures_and_class_parameters(tmp_path):
    src = """
        class Cart:
            RATE = 0.5  # autotrace: param
            def __init__(self, items):
                self.items = items
            def total(self):
                return sum(self.items) * self.RATE
        def outer(values):
            bonus = [3]
            def inner(x):
                return x + bonus[0]
            return inner(Cart(values).total())
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").outer, [2, 4])
    e = edges(graph)
    assert ("m.Cart.RATE", "total#2", "reads") in e
    assert ("__init__#1", "outer#0", "nested") in e and ("inner#3", "outer#0", "nested") in e
    assert ("total#2", "inner#3", "arg:x") in e
    assert not any(u == "m.Cart.RATE" and v != "total#2" for u, v, _ in e)
    assert graph.nodes["call:3"]["func"] == "m.outer.<locals>.inner"


def test_default_argument_reading_a_parameter_counts_only_when_used(tmp_path):
    src = """
        K = 7  # autotrace: param
        def add(x, k=K):
            return x + k
        def main():
            return add(1), add(1, k=2)
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").main)
    reads = {(u, v) for u, v, role in edges(graph) if role == "reads"}
    assert reads == {("m.K", "add#1")}


def test_default_reads_of_keyword_only_and_starred_signatures(tmp_path):
    """A call recorded in its own frame reads its parameters by name; a parameter counts as not passed
    when its value is the function's very default object (identity: passing that object is the same)."""
    src = """
        K = 7  # autotrace: param
        def add(x, *more, k=K, **options):
            return x + k + sum(more)
        def main():
            return add(1), add(1, 2, k=2, flag=True), add(1, k=K)
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").main)
    reads = {(u, v) for u, v, role in edges(graph) if role == "reads"}
    # add(1, k=K) passes the default object itself (and main reads K)
    assert reads == {("m.K", "add#1"), ("m.K", "add#3"), ("m.K", "main#0")}
    assert graph.nodes["call:2"]["args"] == {"x": "1", "more[0]": "2", "k": "2", "flag": "True"}


def test_values_are_held_weakly_and_a_collected_one_keeps_its_edges(tmp_path):
    """A builtin object that supports weak references (a function, a class, a set) is held by one: the
    program cannot see it (such objects have no ``__weakref__`` attribute)."""
    src = """
        def make():
            return lambda: None
        def use(thing):
            return 1
        def main():
            return use(make())
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").main)
    assert ("make#1", "use#2", "arg:thing") in edges(graph)  # the function died before the DAG was built
    assert graph.nodes["call:1"]["value"] == "<collected function>"
    assert graph.nodes["call:2"]["args"] == {"thing": "<collected function>"}


def test_an_address_reused_after_a_value_died_gives_no_edge(tmp_path):
    src = """
        def make():
            return lambda: None
        def use(thing):
            return 1
        def main():
            first = id(make())  # dropped at once: its memory is free for the next function
            fresh = lambda: None
            use(fresh)
            return first == id(fresh)
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").main)
    if graph.nodes["output"]["value"] != "True":
        pytest.skip("CPython did not reuse the address this time")
    assert not {(u, v) for u, v, role in edges(graph) if role.startswith("arg:")}


@pytest.mark.parametrize("made", ["[1.5, 2.5]", "[[1, 2], ['x', None]]", "[{'a': [1]}, (2, 3)]"])
def test_a_new_list_at_a_freed_results_address_is_not_linked_to_it(tmp_path, made):
    """A call's result that holds only plain values and such containers is kept alive for the recording, so a
    list the program makes after dropping it never takes its address and is never shown as derived from it.
    The program itself hunts for the freed address (a list keeps each miss alive): without the result kept
    alive it finds it (CPython's free list hands it out at once) and the old recorder linked the two."""
    src = f"""
        def make():
            return {made}
        def use(items):
            return len(items)
        def main():
            misses = []
            first = id(make())  # dropped at once
            fresh = [3, 4]
            while id(fresh) != first and len(misses) < 10_000:
                misses.append(fresh)
                fresh = [3, 4]
            use(fresh)
            return id(fresh) == first
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").main)
    assert not {(u, v) for u, v, role in edges(graph) if role.startswith("arg:")}
    assert graph.nodes["output"]["value"] == "False"  # the freed result's address stayed taken


def test_a_result_kept_alive_shows_its_value_when_its_call_ended_and_its_items_still_flow(tmp_path):
    """A nested result of plain values is kept as a copy to the bottom (its text made when the DAG is built):
    the program's later changes to it do not show, and its rows still link to the calls given them."""
    src = """
        def make():
            return [[1, 2], {"k": [3]}]
        def use(row):
            return len(row)
        def main():
            table = make()
            table[0].append(9)
            table[1]["k"].append(8)
            table.append("later")
            return use(table[0])
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").main)
    calls = {f"{d['func'].rpartition('.')[2]}#{d['seq']}": d for _, d in graph.nodes(data=True) if d["kind"] == "call"}
    assert calls["make#1"]["value"] == "[[1, 2], {'k': [3]}]"
    assert calls["use#2"]["args"] == {"row": "[1, 2, 9]"}
    assert ("make#1", "use#2", "arg:row") in edges(graph)


def test_a_result_that_holds_the_programs_objects_is_not_kept_alive(tmp_path):
    """Keeping a list of the program's objects would keep them alive: the program must see them die."""
    src = """
        import gc, weakref
        class Thing:
            pass
        def make():
            return [Thing(), {"key": (Thing(),)}]
        def main():
            made = make()
            refs = [weakref.ref(made[0]), weakref.ref(made[1]["key"][0])]
            del made
            gc.collect()
            return [ref() is None for ref in refs]
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").main)
    assert graph.nodes["output"]["value"] == "[True, True]"


def test_recording_leaves_the_users_objects_without_weak_references(tmp_path):
    """boltons ``debugutils.wrap_trace`` walks ``dir(obj)`` and wraps every callable attribute: a weak
    reference taken by the recorder made ``obj.__weakref__`` callable, and the traced class could not
    be built. A user's object is held for its call and then kept as its id and its text at that moment,
    and it dies when the program drops it."""
    src = """
        import gc, weakref
        class Thing:
            def __repr__(self):
                return "Thing(7)"
        def make():
            return Thing()
        def use(thing):
            return thing.__weakref__ is None and weakref.getweakrefcount(thing) == 0
        def main():
            thing = make()
            seen = use(thing)
            after = thing.__weakref__ is None
            probe = weakref.ref(thing)
            del thing
            gc.collect()
            return seen and after and probe() is None
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").main)
    assert graph.nodes["output"]["value"] == "True"
    assert ("make#1", "use#2", "arg:thing") in edges(graph)
    assert unplaced(graph.nodes["call:1"]["value"]) == "<m.Thing object at ADDR>"  # its own __repr__ not called


SLOTTED_SRC = """
    import gc, weakref

    class Payload:
        pass

    class Box:
        __slots__ = ("payload", "label")  # no __weakref__: cannot be weakly referenced

        def __init__(self, payload, label):
            self.payload, self.label = payload, label

        def __repr__(self):
            return f"Box({self.label!r})"

    def make(label):
        return Box(Payload(), label)

    def relabel(box, label):
        box.label = label
        return box

    def spread(*boxes, **named):
        return len(boxes) + len(named)

    def boxes():
        yield make("yielded")

    def main():
        box = relabel(make("a"), "b")
        spread(box, other=box)
        for item in boxes():
            pass
        payload = weakref.ref(box.payload)
        del box, item
        gc.collect()
        return payload() is None
"""


def test_an_object_without_weakref_support_is_detached_when_its_call_ends(tmp_path):
    """A slotted object is held only while the call that received or returned it runs, then kept as
    its text (at that moment: its slots, read without calling its ``__repr__``) and its id: the program
    sees it die, and its data flow stays in the DAG."""
    with program(tmp_path, {"m.py": SLOTTED_SRC}) as p:
        graph = p.record(p.module("m").main)
    assert graph.nodes["output"]["value"] == "True"  # the recorder did not keep the Box (and its Payload) alive
    calls = {f"{d['func'].rpartition('.')[2]}#{d['seq']}": d for _, d in graph.nodes(data=True) if d["kind"] == "call"}
    box = "<m.Box object at ADDR: payload=<m.Payload object at ADDR>, label={}>"
    assert unplaced(calls["make#1"]["value"]) == box.format("'a'")  # when make returned, not when the DAG was built
    assert {k: unplaced(v) for k, v in calls["relabel#3"]["args"].items()} == {
        "box": box.format("'b'"), "label": "'b'"}  # when relabel ended
    assert {k: unplaced(v) for k, v in calls["spread#4"]["args"].items()} == {
        "boxes[0]": box.format("'b'"), "other": box.format("'b'")}
    found = edges(graph)
    assert ("make#1", "relabel#3", "arg:box") in found
    assert {role for u, v, role in found if (u, v) == ("relabel#3", "spread#4")} <= {"arg:boxes[0]", "arg:other"}
    assert any((u, v) == ("relabel#3", "spread#4") for u, v, _ in found)
    assert unplaced(calls["make#6"]["value"]) == box.format("'yielded'")
    assert not any(d["func"].endswith("__repr__") for d in calls.values())


def test_a_container_is_shown_as_it_was_when_its_call_ended_and_flows_through_its_items(tmp_path):
    """A list, dict or tuple of objects is held only while its call runs (it could keep what it holds
    alive): the DAG shows it as it was when the call ended, and its first items still carry edges."""
    src = """
        class Thing:
            def __repr__(self):
                return "Thing()"
        def add(items, x):
            items.append(x)
            return len(items)
        def pair():
            return (Thing(), {"key": Thing()})
        def use(thing):
            return 1
        def big():
            return list(range(1000))
        def main():
            items = []
            add(items, 1)
            add(items, 2)
            things = pair()
            use(things[0])
            use(things[1]["key"])
            return big()[-1]
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").main)
    calls = {f"{d['func'].rpartition('.')[2]}#{d['seq']}": d for _, d in graph.nodes(data=True) if d["kind"] == "call"}
    assert calls["add#1"]["args"]["items"] == "[1]"  # not the list's later state
    assert calls["add#2"]["args"]["items"] == "[1, 2]"
    assert unplaced(calls["pair#3"]["value"]) == "(<m.Thing object at ADDR>, {'key': <m.Thing object at ADDR>})"
    assert ("pair#3", "use#4", "arg:thing") in edges(graph)  # a tuple's item
    text = calls["big#6"]["value"]
    assert text.startswith("[0, 1, 2, ") and text.endswith(", ...]") and len(text) < 400  # bounded, not 1000 items


def test_cross_module_reads_and_derived_constants(tmp_path):
    files = {
        "rates.py": """
            BASE = 2.0  # autotrace: param
            DOUBLE = BASE * 2
        """,
        "app.py": """
            import rates
            from rates import BASE, DOUBLE
            def direct():
                return BASE
            def derived():
                return DOUBLE
            def attribute():
                return rates.BASE
            def unrelated():
                return 1
            def main():
                return direct() + derived() + attribute() + unrelated()
        """,
    }
    with program(tmp_path, files) as p:
        graph = p.record(p.module("app").main)
    reads = {(u, v) for u, v, role in edges(graph) if role == "reads"}
    assert reads == {("rates.BASE", "direct#1"), ("rates.BASE", "derived#2"), ("rates.BASE", "attribute#3")}


def test_threads_do_not_mix(tmp_path):
    src = """
        import threading
        def make(tag):
            return [tag]
        def use(item):
            return item[0]
        def chain(tag, out):
            out.append(use(make(tag)))
        def main():
            out = []
            threads = [threading.Thread(target=chain, args=(t, out)) for t in ("a", "b")]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return sorted(out)
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").main)
    calls = {n: d for n, d in graph.nodes(data=True) if d["kind"] == "call"}
    (main,) = [d for d in calls.values() if d["func"] == "m.main"]
    chains = [d for d in calls.values() if d["func"] == "m.chain"]
    assert [d["func"] for d in calls.values()].count("m.use") == 2  # both threads' calls were recorded ...
    assert len(chains) == 2 and all(d["thread"] != main["thread"] for d in chains)  # ... not as main's thread
    for node, data in calls.items():
        if data["func"] == "m.use":
            (maker,) = [u for u, _, role in graph.in_edges(node, data="role") if role == "arg:item"]
            assert calls[maker]["thread"] == data["thread"]
            (parent,) = [v for _, v, role in graph.out_edges(node, data="role") if role == "nested"]
            assert calls[parent]["func"] == "m.chain" and calls[parent]["thread"] == data["thread"]
        if data["func"] == "m.chain":
            assert data["depth"] == 0  # a thread starts a new root: never nested under main


def test_exception_becomes_an_error_node_with_user_lines(tmp_path):
    src = """
        def divide(a, b):
            return a / b
        def main():
            return divide(1, 0)
    """
    with program(tmp_path, {"m.py": src}) as p:
        graph = p.record(p.module("m").main)
    error = graph.nodes["error:1"]
    assert error["exc_type"] == "ZeroDivisionError"
    assert 'm.py", line 3, in divide' in error["traceback"]
    assert "autotrace" not in error["traceback"].replace(str(tmp_path), "")
    assert ("divide#1", "ZeroDivisionError", "raised") in edges(graph)
    assert ("ZeroDivisionError", "output", "output") in edges(graph)
    assert nx.is_directed_acyclic_graph(graph)


def test_a_recorder_with_a_limit_keeps_the_first_calls_and_counts_the_rest(tmp_path):
    from autotrace.recorder import Recorder

    src = """
        def step(i):
            return i
        def main():
            return sum(step(i) for i in range(10))
    """
    with program(tmp_path, {"m.py": src}) as p:
        recorder = Recorder(limit=4)
        with p.runtime.recording(recorder):
            assert p.module("m").main() == 45  # dropped calls still run and return normally
    assert len(recorder.calls) == 4 and recorder.dropped == 7


def test_calls_past_the_limit_keep_nothing_alive_and_raise_as_before(tmp_path):
    """The calls past the limit share one record: it holds none of their results or exceptions once
    they end, and each still returns or raises as it would."""
    import gc
    import weakref

    from autotrace.recorder import RESULT, Recorder

    src = """
        class Box:
            pass
        def make():
            return Box()
        def fail():
            raise ValueError("no")
        def main():
            made = [make() for _ in range(3)]
            return made
    """
    with program(tmp_path, {"m.py": src}) as p:
        m = p.module("m")
        recorder = Recorder(limit=1)
        with p.runtime.recording(recorder):
            made = m.main()
            with pytest.raises(ValueError, match="no"):
                m.fail()
            past = [weakref.ref(box) for box in made]
            del made
            gc.collect()
            assert [ref() for ref in past] == [None, None, None]
    assert recorder.dropped == 4 and [c[RESULT] for c in recorder.calls if c is not recorder.calls[0]] == []
    from autotrace.recorder import PAST_LIMIT
    assert PAST_LIMIT[RESULT] is None


def test_a_long_run_gives_its_first_detached_values_their_full_text(tmp_path):
    """Past the run's budget of full texts, a detached object keeps its type and identity only."""
    from autotrace.recorder import Recorder

    src = """
        class Box:
            def __init__(self, n):
                self.n = n
        def size(box):
            return box.n
        def main():
            return [size(Box(n)) for n in range(4)]
    """
    with program(tmp_path, {"m.py": src}) as p:
        recorder = Recorder(texts=4)  # each Box is detached twice: when __init__ ends and when size does
        with p.runtime.recording(recorder):
            p.module("m").main()
        from autotrace.recorder import RunOutcome, build_graph

        graph = build_graph(recorder, [], RunOutcome(0))
    boxes = [unplaced(attrs["args"]["box"]) for _, attrs in graph.nodes(data=True) if attrs.get("func") == "m.size"]
    assert boxes == ["<m.Box object at ADDR: n=0>", "<m.Box object at ADDR: n=1>",
                     "<m.Box object at ADDR>", "<m.Box object at ADDR>"]


def test_past_the_budget_an_object_is_detached_once_for_all_its_calls(tmp_path):
    """Past the budget of full texts, the calls of one object's methods share one detached value (its brief
    text is its type and identity): what the DAG says of them is what a value detached at each call says.
    A builtin container past the budget is detached at each call (its brief text shows its plain items)."""
    from autotrace.recorder import Detached, Recorder, RunOutcome, build_graph

    src = """
        class Box:
            def __init__(self):
                self.items = []
            def add(self, x):
                self.items.append(x)
                return len(self.items)
        def push(items, x):
            items.append(x)
            return len(items)
        def main():
            box, other, items = Box(), Box(), []
            for n in range(3):
                box.add(n)
                other.add(n)
                push(items, n)
            return box.add(9)
    """
    with program(tmp_path, {"m.py": src}) as p:
        recorder = Recorder(texts=1)  # the first Box's __init__ takes the only full text
        with p.runtime.recording(recorder):
            p.module("m").main()
        graph = build_graph(recorder, [], RunOutcome(0))
        selves = {}
        for call in recorder.calls:
            if call[0].func == "m.Box.add":
                selves.setdefault(call[3][0].key, set()).add(id(call[3][0]))
        pushed = [call[3][0] for call in recorder.calls if call[0].func == "m.push"]
    assert len(selves) == 2 and all(len(shared) == 1 for shared in selves.values())  # one Detached per object
    assert len({id(items) for items in pushed}) == 3 and all(type(items) is Detached for items in pushed)
    adds = [(unplaced(attrs["args"]["self"]), attrs["args"]["x"]) for _, attrs in graph.nodes(data=True)
            if attrs.get("func") == "m.Box.add"]
    assert adds == [("<m.Box object at ADDR>", x) for x in ("0", "0", "1", "1", "2", "2", "9")]
    pushes = [attrs["args"]["items"] for _, attrs in graph.nodes(data=True) if attrs.get("func") == "m.push"]
    assert pushes == ["[0]", "[0, 1]", "[0, 1, 2]"]
    boxes = {attrs["args"]["self"] for _, attrs in graph.nodes(data=True) if attrs.get("func") == "m.Box.add"}
    assert len(boxes) == 2  # the two Boxes' addresses stay apart


WATCHED_SRC = """
    CALLS = []

    class Watched:
        __slots__ = ("size", "__dict__")

        def __init__(self, size):
            self.size, self.label = size, "w"

        def __repr__(self):
            CALLS.append("__repr__")
            return "Watched()"

        def __str__(self):
            CALLS.append("__str__")
            return "watched"

        def __eq__(self, other):
            CALLS.append("__eq__")
            return NotImplemented

        def __hash__(self):
            CALLS.append("__hash__")
            return 1

        def __len__(self):
            CALLS.append("__len__")
            return 1

        def __iter__(self):
            CALLS.append("__iter__")
            return iter(())

        def __getattr__(self, name):
            CALLS.append(f"__getattr__ {name}")
            raise AttributeError(name)

        @property
        def area(self):
            CALLS.append("area")
            return 1

    class Items(list):
        def __iter__(self):
            CALLS.append("Items.__iter__")
            return iter(())

    class Odd(Exception):
        def __str__(self):
            CALLS.append("Odd.__str__")
            return "odd"

    def make(size):
        return Watched(size)

    def pack(watched):
        return [watched, {"key": watched}, (watched,), Items([watched])]

    def fail(watched):
        raise Odd(watched)

    def main():
        watched = make(3)
        pack(watched)
        try:
            fail(watched)
        except Odd:
            pass
        return watched
"""


def test_recording_calls_none_of_the_programs_methods(tmp_path):
    """boltons ``test_deferredvalue`` counts the calls its ``__repr__`` makes: recording (holding,
    detaching, building the DAG) must call none of a value's methods. An object is shown by its type,
    identity and fields, read through the type's own descriptors."""
    with program(tmp_path, {"m.py": WATCHED_SRC}) as p:
        graph = p.record(p.module("m").main)
        assert p.module("m").CALLS == []
    watched = "<m.Watched object at ADDR: label='w', size=3>"
    calls = {f"{d['func'].rpartition('.')[2]}#{d['seq']}": d for _, d in graph.nodes(data=True) if d["kind"] == "call"}
    assert unplaced(calls["make#1"]["value"]) == watched
    assert unplaced(calls["pack#3"]["value"]) == (
        f"[{watched}, {{'key': {watched}}}, ({watched},), <m.Items object at ADDR: [{watched}]>]")
    error = graph.nodes["error:4"]
    assert unplaced(error["message"]) == watched
    assert unplaced(error["traceback"].splitlines()[-1]) == f"m.Odd: {watched}"
    assert unplaced(graph.nodes["output"]["value"]) == watched


def test_a_values_own_text_when_the_user_asks_for_it(tmp_path, monkeypatch):
    """``user_repr`` (the pytest plugin's ``--autotrace-user-repr``): values are shown by their own
    ``__repr__`` and exceptions by their ``__str__``, calls autotrace makes and does not record."""
    monkeypatch.setattr(TEXTS, "user_repr", True)
    with program(tmp_path, {"m.py": WATCHED_SRC}) as p:
        graph = p.record(p.module("m").main)
        assert "__repr__" in p.module("m").CALLS
    calls = {f"{d['func'].rpartition('.')[2]}#{d['seq']}": d for _, d in graph.nodes(data=True) if d["kind"] == "call"}
    assert calls["make#1"]["value"] == "Watched()"
    assert calls["pack#3"]["value"] == "[Watched(), {'key': Watched()}, (Watched(),), [Watched()]]"  # Items: list's repr
    assert graph.nodes["error:4"]["message"] == "odd"
    assert graph.nodes["error:4"]["traceback"].splitlines()[-1] == "m.Odd: odd"
    assert not any(d["func"].endswith(("__repr__", "__str__")) for d in calls.values())


@pytest.mark.parametrize("main", ["return add(1, k=2)", "return add(1)", "return add(1, k=2), twice(3)",
                                  "return twice(add(1, k=2))"])
def test_what_a_run_called_is_read_from_its_records_as_its_dag_says(tmp_path, main):
    """A test whose DAG nobody reads is reported by what it called and the parameters those calls read,
    counted from the raw records: the same functions, counts and parameters as the DAG's."""
    from autotrace.recorder import ParamNode, Recorder, RunOutcome, build_graph

    src = f"""
        K = 7  # autotrace: param
        SCALE = 2  # autotrace: param
        def add(x, k=K):
            return x + k
        def twice(x):
            return x * SCALE
        def main():
            {main}
    """
    with program(tmp_path, {"m.py": src}) as p:
        recorder = Recorder()
        with p.runtime.recording(recorder):
            p.module("m").main()
        params = [ParamNode(s.name, s.initial, s.kind) for s in p.project.params]
        graph = build_graph(recorder, params, RunOutcome(0))
        records = recorder.records()
    funcs = [attrs["func"] for _, attrs in graph.nodes(data=True) if attrs["kind"] == "call"]
    assert recorder.called() == sorted(((f, funcs.count(f)) for f in set(funcs)), key=lambda c: (-c[1], c[0]))
    read = sorted(attrs["param"] for node, attrs in graph.nodes(data=True)
                  if attrs["kind"] == "param" and graph.out_degree(node))
    assert recorder.params_read(s.name for s in p.project.params) == read
    assert [(r.index, r.meta.func, r.depth) for r in records] == \
        [(i, graph.nodes[f"call:{i}"]["func"], graph.nodes[f"call:{i}"]["depth"]) for i in range(len(records))]
    assert all(r.parent == (0 if r.index else None) for r in records)
