"""The pytest plugin's report as a typed value: one codec, its version and field types checked on read."""

from __future__ import annotations

import json

import pytest

from autotrace.suite_report import (
    REPORT_VERSION,
    CollectError,
    ReportError,
    ReportParam,
    SuiteReport,
    TestResult,
    report_from_json,
    report_to_json,
)

REPORT = SuiteReport(
    root="/p", search_roots=("/p/src", "/p"), params=(ReportParam("shop.FEE", "src/shop.py::FEE", "literal", "fee"),),
    values={"shop.FEE": "0.5"}, instrumented=3, exitstatus=1,
    tests=(TestResult("t.py::test_a", "passed", duration=0.25, params=("shop.FEE",), calls=3,
                      called=(("shop.price", 2), ("t.test_a", 1))),
           TestResult("t.py::test_b", "failed", when="call", message="AssertionError: no", source="def test_b(): ...",
                      graph={"graph": {}, "nodes": [{"id": "output"}], "edges": []}, held_out=True)),
    errors=(CollectError("t2.py", "SyntaxError"),), notes=("a note",), undone=("restored a.txt",))


def test_a_report_reads_back_as_written() -> None:
    text = report_to_json(REPORT)
    assert json.loads(text)["version"] == REPORT_VERSION
    assert report_from_json(text) == REPORT
    assert report_from_json(text.encode()) == REPORT


def test_another_version_is_refused() -> None:
    data = json.loads(report_to_json(REPORT))
    data["version"] = 1
    with pytest.raises(ReportError, match=r"^a pytest report of version 1, expected \d+: written by another version"):
        report_from_json(json.dumps(data))
    del data["version"]
    with pytest.raises(ReportError, match="version None"):
        report_from_json(json.dumps(data))


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(root=3), r"^the report: root: int '3', expected str$"),
    (lambda d: d["tests"][0].update(calls=True), r"^test 't.py::test_a': calls: bool 'True', expected int$"),
    (lambda d: d["tests"][0].update(outcome="fine"), r"outcome 'fine' is none of passed, failed"),
    (lambda d: d["tests"][0].update(called=[["f"]]), r"called holds \['f'\], not \[function, count\]"),
    (lambda d: d["tests"][1].update(graph=[]), r"^test 't.py::test_b': graph: list, expected an object$"),
    (lambda d: d["tests"][0].pop("nodeid"), r"^test None: no 'nodeid'$"),
    (lambda d: d.update(notes="a note"), r"^notes: expected a list of strings$"),
    (lambda d: d.update(values={"shop.FEE": 0.5}), r"^values\['shop.FEE'\]: float"),
])
def test_a_malformed_report_says_what_is_wrong(change, message) -> None:
    data = json.loads(report_to_json(REPORT))
    change(data)
    with pytest.raises(ReportError, match=message):
        report_from_json(json.dumps(data))


def test_text_that_is_no_report_is_refused() -> None:
    with pytest.raises(ReportError, match="^not a pytest report"):
        report_from_json("{")
    with pytest.raises(ReportError, match="^the report: list, expected an object$"):
        report_from_json("[]")
