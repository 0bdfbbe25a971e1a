"""The HTML report of a run (``autotrace report``, and the page every run writes beside patch.diff) and
of a pytest session (``--autotrace-report=FILE.html``), plus the terminal's table and colours.

Runs are made as users make them: the ``autotrace`` command against the scripted LLM server. The
pages are checked as text here and in a real headless Chromium in test_report_browser.py.
"""

from __future__ import annotations

import html
import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from browser import Chromium, Page, find_chromium
from helpers import AUTOTRACE, SHOP, autotrace, child_env, make_shop, run_id_of, suggest, write
from llmserver import ScriptedLLMServer
from markupsafe import escape

from autotrace import graph as g
from autotrace.evaluation import Evaluation, ExampleResult
from autotrace.pool import Candidate
from autotrace.records import RunConfig, RunRecord, StepRecord
from autotrace.report import dag
from autotrace.report.page import run_html
from autotrace.report.run import HEATMAP_ROWS, heat_map, lineage, run_view, started_from
from autotrace.runners.terminal import colour

#: Untrusted text the model sends back: it must reach the page as text, never as markup.
ATTACK = '</pre><script>alert("xss")</script><img src=x onerror=alert(1)>'


@dataclass
class Run:
    shop: Path
    run_id: str
    stderr: str

    @property
    def run_dir(self) -> Path:
        return self.shop / ".autotrace" / "runs" / self.run_id


def _run(parent: Path, reasoning: str = "The quote is too low; raise the price.") -> Run:
    shop = make_shop(parent)
    with ScriptedLLMServer() as server:
        answers = [suggest({"pricing.PRICE_PER_PAGE": 0.1}), suggest({"pricing.PRICE_PER_PAGE": 0.07, "main.MARKUP": 2.0})]
        for answer in answers:
            answer["reasoning"] = reasoning
        server.script(*answers)
        result = autotrace("optimize", "main.py", "--feedback", "judge.py", "--steps", "2", "--target", "-0.5",
                           "--no-measured-step", cwd=shop, base_url=server.base_url)
    assert result.returncode == 0, result.stderr
    return Run(shop, run_id_of(result), result.stderr)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _run(tmp_path_factory.mktemp("report"), reasoning=f"Raise the price. {ATTACK}")


def test_every_run_writes_its_report_beside_the_patch_and_the_last_line_names_it(finished: Run) -> None:
    page = finished.run_dir / "report.html"
    assert (finished.run_dir / "patch.diff").is_file() and page.is_file()
    assert finished.stderr.strip().splitlines()[-1].startswith(f"report: {page}")


def test_the_page_holds_the_plot_heat_map_lineage_diffs_reasoning_cost_dag_and_patch(finished: Run) -> None:
    text = (finished.run_dir / "report.html").read_text()
    plot = re.search(r'<svg class="plot".*?</svg>', text, re.S)
    assert plot and plot.group(0).count("<circle") >= 3 + 3  # 3 steps, and every program run of them
    assert 'class="bestline"' in plot.group(0)
    assert '<table class="heat">' in text and '<svg class="lineage"' in text
    # Step 2's diff against the original, per parameter, and the final patch with its command.
    assert '<span class="del">-1.2</span><span class="add">+2.0</span>' in text
    assert f"git apply .autotrace/runs/{finished.run_id}/patch.diff" in text
    assert '<span class="add">+PRICE_PER_PAGE = 0.07  # autotrace: param' in text
    # Cost per step: the tokens the scripted server counted, and the program runs (1 initial + 3 probes, then 4).
    rows = re.findall(r'<tr(?: class="best")?><td class="num"><a href="#step-(\d)">.*?</tr>', text, re.S)
    assert rows == ["0", "1", "2"]
    runs = re.findall(r'<td class="num">(\d+)</td>\s*<td>', text)
    assert runs == ["1", "4", "4"]
    assert "Execution graph of the best values" in text and "main.quote" in text


def test_model_text_is_escaped_and_the_page_loads_nothing(finished: Run) -> None:
    text = (finished.run_dir / "report.html").read_text()
    assert ATTACK not in text and str(escape(ATTACK)) in text
    assert text.count("<script") == 1  # the page's own
    assert re.search(r'(src|href)="(https?:)?//', text) is None
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)
    policy = html.unescape(csp.group(1)) if csp else ""
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy


def test_report_command_rewrites_the_same_page_anywhere(finished: Run, tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    result = autotrace("report", finished.run_id, "-o", str(out), cwd=finished.shop)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"report: {out}"
    assert out.read_bytes() == (finished.run_dir / "report.html").read_bytes()


def test_report_of_an_unknown_run_or_to_a_missing_folder_is_one_error_line(finished: Run) -> None:
    result = autotrace("report", "no-such-run", cwd=finished.shop)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["autotrace: error: no run 'no-such-run' (see 'autotrace runs')"]
    result = autotrace("report", finished.run_id, "-o", "missing/page.html", cwd=finished.shop)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["autotrace: error: missing/page.html: no folder missing"]


# -- the pieces, on data built here ------------------------------------------------------------------


def _chain(calls: int) -> nx.DiGraph:
    """A parameter read by ``calls`` calls of one function, each feeding the next, then the output."""
    graph = g.new_graph()
    graph.add_node("param:RATE", kind="param", label="RATE", param="RATE", value="1.5")
    previous = "param:RATE"
    for i in range(calls):
        graph.add_node(f"call:{i}", kind="call", label="app.grow", func="app.grow", seq=i, value=str(i))
        graph.add_edge(previous, f"call:{i}", role="arg:x")
        previous = f"call:{i}"
    graph.add_node("output", kind="output", label="output", value="42")
    graph.add_edge(previous, "output", role="output")
    graph.graph["output"] = "output"
    return graph


def test_a_graph_of_ten_thousand_calls_is_drawn_as_a_summary() -> None:
    small, omitted = dag.summarise(_chain(10_000))
    kinds = [a["kind"] for _, a in small.nodes(data=True)]
    assert len(kinds) <= dag.MAX_NODES and kinds.count("param") == 1 and kinds.count("output") == 1
    (summary,) = [a["label"] for _, a in small.nodes(data=True) if a["kind"] == "summary"]
    kept = kinds.count("call")
    assert summary == f"… {10_000 - kept:,} more calls of app.grow" and omitted == 10_000 - kept
    assert nx.has_path(small, "n0", next(n for n, a in small.nodes(data=True) if a["kind"] == "output"))


def test_calls_off_the_parameters_paths_become_one_box_per_function() -> None:
    """As in a loop ``x = grow(x, RATE)`` inside ``main``: main reads the parameter, each grow call
    returns into main (a nested edge), none is on a path from the parameter."""
    graph = g.new_graph()
    graph.add_node("param:RATE", kind="param", label="RATE", param="RATE", value="1.5")
    graph.add_node("call:0", kind="call", label="app.main", func="app.main", seq=0, value="9")
    graph.add_edge("param:RATE", "call:0", role="reads")
    for i in range(1, 10_001):
        graph.add_node(f"call:{i}", kind="call", label="app.grow", func="app.grow", seq=i, value=str(i))
        graph.add_edge(f"call:{i}", "call:0", role="nested")
    graph.add_node("output", kind="output", label="output", value="9")
    graph.add_edge("call:0", "output", role="output")
    small, omitted = dag.summarise(graph)
    labels = {n: a["label"] for n, a in small.nodes(data=True)}
    assert sorted(labels.values()) == ["RATE", "app.main", "output", "… 10,000 calls of app.grow"]
    assert omitted == 10_000
    box = next(n for n, label in labels.items() if label.startswith("…"))
    assert list(small.successors(box)) == [next(n for n, label in labels.items() if label == "app.main")]


def test_without_graphviz_the_dag_gets_a_plain_layout() -> None:
    drawing = dag.draw(_chain(5), use_graphviz=False)
    assert drawing.engine == "plain" and drawing.svg is None and drawing.layout is not None
    boxes = {b.lines[0]: b for b in drawing.layout.boxes}
    assert boxes["RATE"].x < boxes["app.grow"].x < boxes["output"].x  # left to right along the edges
    assert len(drawing.layout.lines) == 6


@pytest.mark.skipif(dag.graphviz_svg(nx.DiGraph([("n0", "n1")])) is None, reason="Graphviz (dot) is not installed")
def test_with_graphviz_the_dag_is_its_svg_without_comments() -> None:
    drawing = dag.draw(_chain(5))
    assert drawing.engine == "graphviz" and drawing.svg.startswith("<svg") and "<!--" not in drawing.svg
    assert "app.grow" in drawing.svg


def _record(step: int, values: dict[str, str], score: float, **extra: Any) -> StepRecord:
    return StepRecord(values, Evaluation((ExampleResult(score=score, message="m"),)), step=step, **extra)


def test_lineage_follows_the_values_each_step_started_from() -> None:
    records = [_record(0, {"a": "1"}, 0.0), _record(1, {"a": "2"}, 1.0), _record(2, {"a": "3"}, 0.5),
               _record(3, {"a": "2"}, 1.0), _record(4, {"a": "4"}, 2.0)]
    # Step 3 went back to step 1's values: step 4 started from step 1.
    assert lineage(records) == [(), (0,), (1,), (2,), (1,)]



def test_with_a_pool_the_lineage_is_the_step_that_evaluated_each_parent_candidate() -> None:
    # Step 1 evaluated candidates 1 (kept) and 2; step 2 started from 1; step 3 from 2, drawn from the
    # front; step 4 ended with candidate 4, its merge of 1 and 2.
    pool = [Candidate(0, {"a": "1"}, (), 0, {}, "initial"), Candidate(1, {"a": "2"}, (0,), 1, {}, "proposal"),
            Candidate(2, {"a": "3"}, (0,), 1, {}, "proposal"), Candidate(3, {"a": "4"}, (1,), 2, {}, "proposal"),
            Candidate(4, {"a": "5"}, (1, 2), 4, {}, "merge")]
    records = [_record(0, {"a": "1"}, 0.0), _record(1, {"a": "2"}, 1.0, parent=[0]),
               _record(2, {"a": "4"}, 0.5, parent=[1]), _record(3, {"a": "4"}, 0.5, parent=[2]),
               _record(4, {"a": "5"}, 2.0, parent=[3])]
    assert started_from(records, pool) == [(), (0,), (1,), (2,), (1, 2)]
    assert lineage(records, pool) == [(), (0,), (1,), (1,), (1,)]
    assert lineage(records) == [(), (0,), (1,), (2,), (2,)]  # the values alone would say otherwise


def test_a_run_page_from_records_marks_failures_and_the_best_step() -> None:
    failed = _record(1, {"a": "2"}, 0.0)
    failed = replace(failed, evaluation=replace(failed.evaluation, problem="SyntaxError: bad"))
    records = [_record(0, {"a": "1"}, 0.0), failed, _record(2, {"a": "3"}, 2.0, evaluated=[1.0, None, 2.0])]
    view = run_view(RunRecord("r1", 0.0, None, "done", None, 3, RunConfig(), None), records, None, use_graphviz=False)
    assert [s.failed for s in view.steps] == [False, True, False] and view.best_step == 2
    assert view.steps[2].runs == 3 and view.steps[0].runs is None  # not recorded: shown as "–"
    page = run_html(view)
    assert "SyntaxError: bad" in page and '<path class="failed"' in page


def test_the_page_draws_the_judges_mean_with_raising_examples_at_the_failure_score() -> None:
    """The parser of issue 31: the original parses three of six and raises on three (0.5 on the judge);
    a candidate right on one and raising nowhere (0.17) is neither drawn above it nor the best."""
    def parsed(step: int, *scores: float | None) -> StepRecord:
        examples = tuple(ExampleResult(score=s, failed=s is None, example=f"case {i}") for i, s in enumerate(scores))
        return StepRecord({"a": str(step)}, Evaluation(examples), step=step)

    records = [parsed(0, 1.0, 1.0, 1.0, None, None, None), parsed(1, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)]
    view = run_view(RunRecord("r1", 0.0, None, "done", None, 2, RunConfig(), None), records, None, use_graphviz=False)
    assert [s.score for s in view.steps] == [0.5, pytest.approx(1 / 6)]
    assert view.best_step == 0 and [s.best_score for s in view.steps] == [0.5, 0.5]
    assert view.steps[0].describe == "0.5, 3 of 6 raised"
    assert view.heat is not None and view.heat.cells[view.heat.rows.index("case 3")] == (0.0, 0.0)


def test_the_heat_map_of_many_tests_keeps_the_rows_that_changed() -> None:
    def record(step: int, moved: float) -> StepRecord:
        examples = [ExampleResult(example=f"t{i}", score=1.0 if i % 10 else moved) for i in range(100)]
        return StepRecord({"a": str(step)}, Evaluation(examples), step=step)

    heat = heat_map([record(0, 0.0), record(1, 1.0)])
    assert heat is not None and heat.hidden == 100 - HEATMAP_ROWS and len(heat.rows) == HEATMAP_ROWS
    assert {f"t{i}" for i in range(0, 100, 10)} <= set(heat.rows)  # the ten that went from 0 to 1
    assert heat.cells[heat.rows.index("t10")] == (0.0, 1.0)


# -- pytest --autotrace-report=FILE.html -----------------------------------------------------------


@pytest.fixture(scope="module")
def session_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write(tmp_path_factory.mktemp("session"), SHOP)
    env = child_env("PYTEST_", "AUTOTRACE_", drop=("PYTHONPATH",))
    env["STATE_OUT"] = str(root / "state.json")
    page = root / "report.html"
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "autotrace", "-p", "no:cacheprovider",
                             f"--autotrace-report={page}"], cwd=root, env=env, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 1 and page.is_file(), result.stdout + result.stderr  # two tests fail
    return page


def test_pytest_writes_an_html_page_per_session_when_the_file_ends_in_html(session_page: Path) -> None:
    text = session_page.read_text()
    assert text.startswith("<!doctype html>")
    for name in ("test_total", "test_average_of_nothing", "test_instrumented"):
        assert f"tests/test_cart.py::{name}</a>" in text
    assert "assert 7.5 == 9.0" in text and "ZeroDivisionError" in text  # the assertion, the traceback
    assert "shop.cart.total" in text  # its DAG
    assert text.index("test_average_of_nothing</a>") < text.index("test_instrumented</a>")  # failures first


# -- terminal --------------------------------------------------------------------------------------


def test_runs_is_an_aligned_table(finished: Run) -> None:
    lines = autotrace("runs", cwd=finished.shop).stdout.splitlines()
    assert lines[0].split() == ["RUN", "STATUS", "BEST", "STEPS", "APP", "CALLS", "STARTED", "TARGET"]
    # best score 0 after 2 steps; the program calls no model
    assert lines[1].split()[:5] == [finished.run_id, "done", "0", "2", "–"]
    for column in ("STATUS", "BEST", "STARTED", "TARGET"):  # left-aligned columns start where their header does
        assert lines[1][lines[0].index(column) - 1] == " " and lines[1][lines[0].index(column)] != " "


def _in_terminal(args: list[str], cwd: Path, **env: str) -> str:
    """Run the command with stdout and stderr on a pseudo-terminal; what it wrote there."""
    main, child = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | env
    process = subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=child, stderr=child, env=environ)
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert process.wait(timeout=60) == 0
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal_and_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule the progress lines (stderr) and 'show' (stdout) follow."""
    main, child = pty.openpty()
    read, write_end = os.pipe()
    with open(child, "w") as terminal, open(write_end, "w") as pipe:
        monkeypatch.delenv("NO_COLOR", raising=False)
        assert colour(terminal) is True and colour(pipe) is False
        monkeypatch.setenv("NO_COLOR", "1")
        assert colour(terminal) is False
        monkeypatch.setenv("NO_COLOR", "")  # set but empty does not count (no-color.org)
        assert colour(terminal) is True
    os.close(main)
    os.close(read)


def test_show_is_coloured_on_a_terminal_only_and_never_with_no_color(finished: Run) -> None:
    command = [str(AUTOTRACE), "show", finished.run_id]
    assert "\x1b[1m--- step 0:" in _in_terminal(command, finished.shop)
    assert "\x1b[" not in _in_terminal(command, finished.shop, NO_COLOR="1")
    piped = subprocess.run(command, cwd=finished.shop, capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0 and "--- step 0:" in piped.stdout and "\x1b[" not in piped.stdout


# -- in a real browser -----------------------------------------------------------------------------

# Debian's chromium, driven over the DevTools protocol (tests/browser.py); CI installs it (.ci/run).
needs_chromium = pytest.mark.skipif(find_chromium() is None,
                                    reason="no chromium on the PATH (Debian: apt-get install chromium; CI installs it)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Page]:
    with Chromium() as page:
        yield page


@needs_chromium
def test_the_run_page_in_chromium(finished: Run, browser: Page, tmp_path: Path) -> None:
    browser.open(finished.run_dir / "report.html")
    assert browser.errors == []  # a blocked script (a wrong CSP hash) or a broken one would be logged here
    assert browser.evaluate("document.querySelectorAll('svg.plot circle').length") >= 6
    assert browser.evaluate("document.querySelectorAll('pre.diff span.add').length") >= 3
    assert browser.evaluate("document.querySelector('svg.plot').getBoundingClientRect().width") > 300
    # The model's text is on the page as text: nothing it holds became an element.
    assert browser.evaluate("document.scripts.length") == 1 and browser.evaluate("document.images.length") == 0
    assert ATTACK in browser.evaluate("document.getElementById('step-1').textContent")
    # The page's script runs (its CSP hash is right): following a link to a step opens it.
    assert browser.evaluate("document.getElementById('step-1').open") is False
    browser.evaluate("location.hash = '#step-1'")
    assert browser.evaluate("new Promise(r => setTimeout(() => r(document.getElementById('step-1').open), 100))")
    png = browser.screenshot(tmp_path / "run.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    assert browser.errors == []


@needs_chromium
def test_the_session_page_in_chromium(session_page: Path, browser: Page, tmp_path: Path) -> None:
    browser.open(session_page)
    assert browser.errors == []
    assert browser.evaluate("document.querySelectorAll('details[open]').length") == 2  # the two failures
    assert browser.evaluate("document.querySelectorAll('.dag svg').length") >= 2
    png = browser.screenshot(tmp_path / "session.png")
    assert png.startswith(b"\x89PNG") and browser.errors == []
