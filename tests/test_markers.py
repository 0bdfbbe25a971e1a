"""Finding parameters: marker comments, selectors, and the errors for marks that name nothing valid."""

from __future__ import annotations

import textwrap

import pytest

from autotrace.markers import MarkerError, Selector, discover, find_params, marker_text


def params_of(tmp_path, source, selected=()):
    path = tmp_path / "m.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return {p.qualname: p for p in find_params(path, tmp_path, [tmp_path], selected)}


def test_marker_text_takes_the_description():
    assert marker_text("# autotrace: param keep between 0 and 1") == "keep between 0 and 1"
    assert marker_text("#autotrace:param") == ""
    assert marker_text("# autotrace: parameters") is None
    assert marker_text("# something else") is None


def test_every_literal_kind(tmp_path):
    found = params_of(tmp_path, '''
        I = 3  # autotrace: param
        F = -0.5  # autotrace: param
        S = "hi"  # autotrace: param
        B = True  # autotrace: param
        N = None  # autotrace: param
        T = (1, "a", (2.0,))  # autotrace: param
        L = [1, 2]  # autotrace: param
        D = {"a": [1], "b": None}  # autotrace: param
        P = """Multi
        line"""  # autotrace: param the prompt
        A: float = 1.5  # autotrace: param
        C = "con" "cat"  # autotrace: param
    ''')
    assert {k: v.initial for k, v in found.items()} == {
        "I": 3, "F": -0.5, "S": "hi", "B": True, "N": None, "T": (1, "a", (2.0,)), "L": [1, 2],
        "D": {"a": [1], "b": None}, "P": "Multi\nline", "A": 1.5, "C": "concat"}
    assert found["P"].description == "the prompt" and found["P"].line == 10
    assert all(p.kind == "literal" for p in found.values())


def test_functions_marked_on_the_def_line_or_above_decorators(tmp_path):
    found = params_of(tmp_path, '''
        import functools

        def plain(x):  # autotrace: param must stay pure
            return x

        # autotrace: param
        @functools.lru_cache
        def cached(x):
            return x

        class Cart:
            RATE = 0.2  # autotrace: param
            # autotrace: param
            def total(self, items):
                return sum(items) * self.RATE

        def unmarked():
            return 1
    ''')
    assert set(found) == {"plain", "cached", "Cart.RATE", "Cart.total"}
    assert found["plain"].kind == "code" and found["plain"].description == "must stay pure"
    assert found["plain"].initial == "def plain(x):  # autotrace: param must stay pure\n    return x\n"
    assert found["cached"].initial.startswith("def cached(x):")  # decorators are not part of the value
    assert found["Cart.total"].initial.startswith("def total(self, items):")


def test_marker_on_first_statement_of_module(tmp_path):
    found = params_of(tmp_path, '''
        # autotrace: param
        def first(x):
            return x
    ''')
    assert set(found) == {"first"}


@pytest.mark.parametrize("source, message", [
    ("X = compute()  # autotrace: param\n", "X = compute() is not a literal"),
    ("X = [1, y]  # autotrace: param\n", "is not a literal"),
    ("X = f'{y}'  # autotrace: param\n", "is not a literal"),
    ("a, b = 1, 2  # autotrace: param\n", "not `NAME = <literal>`"),
    ("print(1)  # autotrace: param\n", "not `NAME = <literal>`"),
    ("def f():\n    x = 1  # autotrace: param\n", "inside a function"),
    ("def f():\n    def g():  # autotrace: param\n        pass\n", "nested function"),
])
def test_marks_that_name_nothing_valid_are_one_line_errors(tmp_path, source, message):
    with pytest.raises(MarkerError) as info:
        params_of(tmp_path, source)
    assert message in str(info.value)
    assert str(info.value).startswith("m.py:") and "\n" not in str(info.value)


def test_selectors_choose_without_markers(tmp_path):
    found = params_of(tmp_path, '''
        RATE = 0.1
        class Cart:
            FEE = 2
            def total(self):
                return 1
        def price():
            return RATE
    ''', selected=["RATE", "Cart.FEE", "Cart.total", "price"])
    assert {k: v.kind for k, v in found.items()} == {
        "RATE": "literal", "Cart.FEE": "literal", "Cart.total": "code", "price": "code"}


def test_selector_naming_nothing_is_an_error(tmp_path):
    with pytest.raises(MarkerError, match=r"selector m.py::MISSING names nothing"):
        params_of(tmp_path, "RATE = 1\n", selected=["MISSING"])
    with pytest.raises(MarkerError, match="expected FILE::NAME"):
        Selector.parse("m.py:RATE", tmp_path)


def test_discover_walks_the_project_and_skips_virtualenvs(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "rates.py").write_text("FEE = 1.0  # autotrace: param\n")
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / "x.py").write_text("Y = 1  # autotrace: param\n")
    (tmp_path / "other.py").write_text("Z = 2\n")
    specs = discover(tmp_path, [tmp_path], [Selector.parse("other.py::Z", tmp_path)])
    assert {(s.key, s.name) for s in specs} == {("pkg/rates.py::FEE", "pkg.rates.FEE"), ("other.py::Z", "other.Z")}


def test_syntax_error_and_undecodable_source(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("X = (  # autotrace: param\n")
    with pytest.raises(MarkerError, match=r"bad.py:\d+: syntax error"):
        find_params(bad, tmp_path, [tmp_path])
    latin = tmp_path / "latin.py"
    latin.write_bytes("X = 'caf\xe9'  # autotrace: param\n".encode("latin-1"))
    with pytest.raises(MarkerError, match="cannot decode"):
        find_params(latin, tmp_path, [tmp_path])
