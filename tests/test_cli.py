"""The ``autotrace`` command line end to end: real subprocesses (click's CliRunner where only the
exit path is checked), and real HTTP to the scripted LLM server.

Most tests work on a git-initialised copy of ``examples/fit_constants`` (a quote of 13.2 that the
judge wants to be 30.0; scripted suggestions reach it in two steps).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from helpers import autotrace, make_shop, run_id_of, suggest
from llmserver import RecordedRequest, ScriptedLLMServer

from autotrace.runners.cli import cli

SOURCES = ("main.py", "pricing.py")
# The two steps the scripted model takes, and the source lines they lead to.
STEP_1 = {"pricing.PRICE_PER_PAGE": 0.1}
STEP_2 = {"pricing.PRICE_PER_PAGE": 0.07, "main.MARKUP": 2.0}
PATCHED_LINES = {
    "pricing.py": ("PRICE_PER_PAGE = 0.05  # autotrace: param", "PRICE_PER_PAGE = 0.07  # autotrace: param"),
    "main.py": ("MARKUP = 1.2  # autotrace: param", "MARKUP = 2.0  # autotrace: param"),
}

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in SOURCES}


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("autotrace: error: "), result.stderr
    return lines[0]


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return make_shop(tmp_path)


def optimize(shop: Path, llm_server: ScriptedLLMServer, *extra: str) -> subprocess.CompletedProcess[str]:
    """Two scripted steps: the measured step is off, or its exact estimate would answer the first."""
    llm_server.script(suggest(STEP_1), suggest(STEP_2))
    return autotrace("optimize", "main.py", "--feedback", "judge.py", "--steps", "2", "--target", "-0.5",
                     "--no-measured-step", *extra,
                     cwd=shop, base_url=llm_server.base_url)


@dataclass
class Optimized:
    shop: Path
    before: dict[str, bytes]  # the sources before the run
    result: subprocess.CompletedProcess[str]
    requests: list[RecordedRequest]  # what the model was asked


@pytest.fixture(scope="module")
def optimized(tmp_path_factory: pytest.TempPathFactory) -> Optimized:
    """One run without --apply, shared by the tests that only look at what it left."""
    shop = make_shop(tmp_path_factory.mktemp("optimized"))
    before = snapshot(shop)
    with ScriptedLLMServer() as server:
        result = optimize(shop, server)
    assert result.returncode == 0, result.stderr
    return Optimized(shop, before, result, server.chat_requests)


def test_optimize_writes_a_patch_and_leaves_the_sources_alone(optimized: Optimized) -> None:
    shop, result = optimized.shop, optimized.result
    progress = [line for line in result.stderr.splitlines() if line.startswith("step")]
    assert [line.split()[1] for line in progress] == ["0/2", "1/2", "2/2"]
    assert "score -16.8" in progress[0] and "score -4.8" in progress[1] and "score 0" in progress[2]
    assert "best score: 0" in result.stderr
    for old, new in PATCHED_LINES.values():  # the patch is printed on stdout
        assert f"-{old}" in result.stdout and f"+{new}" in result.stdout

    patch = shop / ".autotrace" / "runs" / run_id_of(result) / "patch.diff"
    assert patch.read_text() == result.stdout
    subprocess.run(["git", "apply", "--check", str(patch)], cwd=shop, check=True)
    assert snapshot(shop) == optimized.before

    # The model saw the run and the judge's message.
    first = optimized.requests[0].json
    prompt = first["messages"][-1]["content"]
    assert "output 13.2 is 16.8 too low" in prompt and "pricing.PRICE_PER_PAGE = 0.05" in prompt
    assert first["model"] == "scripted" and len(optimized.requests) == 2


def test_runs_and_show_list_the_run(optimized: Optimized) -> None:
    shop, run_id = optimized.shop, run_id_of(optimized.result)

    runs = autotrace("runs", cwd=shop)
    assert runs.returncode == 0 and runs.stdout.splitlines()[1].split()[0] == run_id  # under the header
    assert "done" in runs.stdout

    show = autotrace("show", run_id, cwd=shop)
    assert show.returncode == 0, show.stderr
    assert [line.split(":")[0] for line in show.stdout.splitlines() if line.startswith("---")] == [
        "--- step 0", "--- step 1", "--- step 2"]
    assert "pricing.PRICE_PER_PAGE = 0.07" in show.stdout and "output 30.0 is exactly right" in show.stdout

    as_json = json.loads(autotrace("show", run_id, "--json", cwd=shop).stdout)
    assert as_json["run"]["id"] == run_id
    assert [step["values"]["main.MARKUP"] for step in as_json["steps"]] == ["1.2", "1.2", "2.0"]


def test_apply_changes_only_the_values_and_revert_restores(shop: Path, llm_server: ScriptedLLMServer) -> None:
    before = snapshot(shop)
    result = optimize(shop, llm_server, "--apply")
    assert result.returncode == 0, result.stderr
    run_id = run_id_of(result)

    # Byte for byte the old file with just the values swapped: comments and markers stay.
    for name, (old, new) in PATCHED_LINES.items():
        assert before[name].count(old.encode()) == 1
        assert (shop / name).read_bytes() == before[name].replace(old.encode(), new.encode())
    patched = snapshot(shop)

    reverted = autotrace("revert", run_id, cwd=shop)
    assert reverted.returncode == 0, reverted.stderr
    assert snapshot(shop) == before

    applied = autotrace("apply", run_id, cwd=shop)
    assert applied.returncode == 0, applied.stderr
    assert snapshot(shop) == patched
    assert autotrace("revert", run_id, cwd=shop).returncode == 0

    # A file edited since the run: apply refuses and writes no file at all (not even the untouched one).
    with open(shop / "main.py", "a", encoding="utf-8") as handle:
        handle.write("# edited by hand\n")
    edited = snapshot(shop)
    refused = autotrace("apply", run_id, cwd=shop)
    assert refused.returncode == 2
    assert "changed since" in one_error_line(refused) and "main.py" in refused.stderr
    assert snapshot(shop) == edited


def test_run_exports_the_graph_as_json(shop: Path) -> None:
    result = autotrace("run", "main.py", "--feedback", "judge.py", "--graph", "g.json", cwd=shop)

    assert result.returncode == 0, result.stderr
    assert "output: 13.2" in result.stdout and "16.8 too low" in result.stdout
    data = json.loads((shop / "g.json").read_text())
    assert set(data) == {"graph", "nodes", "edges"}
    nodes = {node["id"]: node for node in data["nodes"]}
    kinds = sorted(node["kind"] for node in nodes.values())
    assert kinds == ["call"] * 4 + ["output"] + ["param"] * 3
    calls = {node["func"]: node_id for node_id, node in nodes.items() if node["kind"] == "call"}
    assert set(calls) == {"main.main", "main.quote", "pricing.order_cost", "pricing.printing_cost"}
    assert nodes["output"]["value"] == "13.2" and data["graph"]["output"] == "output"
    edges = {(edge["source"], edge["target"]): edge["role"] for edge in data["edges"]}
    assert edges[("param:pricing.SETUP_FEE", calls["pricing.order_cost"])] == "reads"
    assert edges[("param:main.MARKUP", calls["main.quote"])] == "reads"
    assert edges[(calls["main.main"], "output")] == "output"


def test_run_exports_the_graph_as_dot(shop: Path) -> None:
    result = autotrace("run", "main.py", "--graph", "g.dot", cwd=shop)

    assert result.returncode == 0, result.stderr
    dot = (shop / "g.dot").read_text()
    assert dot.startswith("digraph autotrace {") and '"param:pricing.SETUP_FEE" -> ' in dot
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (apt-get install graphviz) to render the file")
    svg = subprocess.run(["dot", "-Tsvg", "g.dot"], cwd=shop, capture_output=True, text=True, check=True).stdout
    assert "<svg" in svg and "pricing.order_cost" in svg


def _write(name: str, text: str):
    return lambda folder: (folder / name).write_text(text)


def _replace(name: str, old: str, new: str):
    def edit(folder: Path) -> None:
        source = (folder / name).read_text()
        assert old in source
        (folder / name).write_text(source.replace(old, new))
    return edit


BAD_INPUT = {
    "missing target": (lambda folder: None, ["optimize", "nope.py"], "nope.py: no such file"),
    "target syntax error": (_write("main.py", "def main(:\n    return 1\n"), ["optimize", "main.py"],
                            "main.py:1: syntax error"),
    "marker on a non-literal": (_replace("pricing.py", "SETUP_FEE = 1.0", "SETUP_FEE = abs(-1.0)"),
                                ["optimize", "main.py"], "SETUP_FEE = abs(-1.0) is not a literal"),
    "selector naming nothing": (lambda folder: None, ["optimize", "main.py", "--param", "pricing.py::DISCOUNT"],
                                "pricing.py::DISCOUNT names nothing"),
    "judge without feedback": (_write("judge.py", "WANTED = 30.0\n"), ["optimize", "main.py"],
                               "judge must define feedback(output)"),
    "judge that raises": (_write("judge.py", "def feedback(output):\n    return {}['score']\n"),
                          ["optimize", "main.py"], "feedback() raised KeyError: 'score'"),
    "entry that does not exist": (lambda folder: None, ["optimize", "main.py", "--entry", "start"],
                                  "main has no function 'start'"),
    # a wrong type in [tool.autotrace]: one line naming the key, not a traceback (nor "false" read as true)
    "config option of the wrong type": (_write("pyproject.toml", '[tool.autotrace]\nmax_unchanged = "two"\n'),
                                        ["optimize", "main.py"],
                                        "[tool.autotrace] max_unchanged must be a whole number of at least 0, not 'two'"),
    "negative measured runs in the config": (_write("pyproject.toml", "[tool.autotrace]\nmeasured_runs = -1\n"),
                                             ["optimize", "main.py"],
                                             "measured_runs must be a whole number of at least 0, not -1"),
    "config switch given as a string": (_write("pyproject.toml", '[tool.autotrace]\nprobe = "false"\n'),
                                        ["optimize", "main.py"], "probe must be true or false, not 'false'"),
    "no candidates in the config": (_write("pyproject.toml", "[tool.autotrace]\ncandidates = 0\n"),
                                    ["optimize", "main.py"], "candidates must be a whole number of at least 1, not 0"),
    "holdout of all examples in the config": (_write("pyproject.toml", "[tool.autotrace]\nholdout = 1\n"),
                                              ["optimize", "main.py"], "holdout must be a fraction from 0 up to"),
}


def test_the_projects_table_sets_the_defaults_help_shows_and_the_command_line_wins(
    shop: Path, llm_server: ScriptedLLMServer
) -> None:
    (shop / "pyproject.toml").write_text('[tool.autotrace]\nsteps = 3\noptimizer = "opro"\nfeedback = "judge.py"\n')
    shown = " ".join(autotrace("optimize", "main.py", "--help", cwd=shop).stdout.split())
    assert "[default: 3; x>=0]" in shown and "[default: opro]" in shown and "judge.py]" in shown  # long paths wrap
    # the initial values reach the target: the runs end before asking the model anything
    from_table = autotrace("optimize", "main.py", "--target", "-100", cwd=shop, base_url=llm_server.base_url)
    assert from_table.returncode == 0 and "with opro, at most 3 steps" in from_table.stderr, from_table.stderr
    given = autotrace("optimize", "main.py", "--target", "-100", "--steps", "1", "--optimizer", "optoprime",
                      cwd=shop, base_url=llm_server.base_url)
    assert given.returncode == 0 and "with optoprime, at most 1 steps" in given.stderr, given.stderr
    assert llm_server.chat_requests == []


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_error_line_exit_2_and_nothing_written(
    case: str, shop: Path, llm_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare, args, message = BAD_INPUT[case]
    prepare(shop)
    before = snapshot(shop)
    monkeypatch.chdir(shop)
    monkeypatch.setenv("OPENAI_API_KEY", "test")

    # In process, to keep the test fast (evaluations still run in worker processes).
    result = CliRunner().invoke(cli, [*args, "--feedback", "judge.py", "--steps", "2", "--base-url",
                                      llm_server.base_url, "--model", "scripted"], prog_name="autotrace")

    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("autotrace: error: ") and message in lines[0], result.stderr
    assert result.stdout == ""
    assert not (shop / ".autotrace").exists()
    assert snapshot(shop) == before
    assert llm_server.chat_requests == []


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_every_command_has_help() -> None:
    runner = CliRunner()
    commands = list(_commands(cli))
    assert {"optimize", "run", "apply", "revert", "runs", "show", "report", "model"} <= {path[0] for path, _ in commands}
    for path, command in [((), cli), *commands]:
        result = runner.invoke(cli, [*path, "--help"], prog_name="autotrace")
        assert result.exit_code == 0, (path, result.output)
        assert result.output.startswith(f"Usage: autotrace {' '.join(path)}".rstrip()), result.output
        summary = command.help.split("\n\n")[0] if command.help else ""
        assert summary and " ".join(summary.split()) in " ".join(result.output.split())
