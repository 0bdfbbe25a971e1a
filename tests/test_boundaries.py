"""What crosses a process boundary, each a typed value with one codec: the worker's job, the fork server's
messages; and the job's paths moved field by field (a private copy, a Ray node), nothing else."""

from __future__ import annotations

import json
import shutil
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import job_for, project_at

from autotrace.evaluation import ExampleResult
from autotrace.params import ParamKind
from autotrace.runners.fork_messages import Ended, Fork, ProtocolError, Ready, Unsafe, Warm, decode, encode
from autotrace.runners.job import Job, JobError, PathMap
from autotrace.runners.outcome import Examples, SetupFailed, outcome_from_json
from autotrace.runners.ray_executor import _evaluate_on_node, moved_back
from autotrace.runners.sandbox import Limits

PROGRAM = """\
RATE = 2.0  # autotrace: param

def price(q):  # autotrace: param
    return q * RATE

def main():
    return price(21)
"""


def test_a_job_reads_back_as_it_was_written_with_its_typed_plans_and_params(tmp_path: Path) -> None:
    project = project_at(tmp_path, PROGRAM)
    job = job_for(tmp_path, project, **{"app.RATE": 3.0})
    job.candidates = {str(tmp_path / "app.py"): {"price": "def price(q):\n    return q * RATE * 6\n"}}
    assert Job.from_json(job.to_json()) == job
    assert {p.kind for p in job.params} == {ParamKind.LITERAL, ParamKind.CODE} and job.rewrites
    plan = job.plans[str(tmp_path / "app.py")]
    assert plan.module == "app" and plan.param_names == frozenset({"app.RATE", "app.price"})


@pytest.mark.parametrize("change, error", [
    (lambda d: d.pop("entry"), "job has no 'entry'"),
    (lambda d: d.update(seed="0"), "job.seed must be a whole number, not '0'"),
    (lambda d: d.update(record="yes"), "job.record must be true or false"),
    (lambda d: d.update(search_roots="/x"), "job.search_roots must be a list of strings"),
    (lambda d: d["params"][0].update(kind="constant"), "params[0].kind must be one of literal, code"),
    (lambda d: d["params"].append(3), "params[2] must be a JSON object, not int"),
    (lambda d: d["values"].update({"app.RATE": 3.0}), "job.values['app.RATE'] must be a string, not 3.0"),
    (lambda d: next(iter(d["plans"].values())).pop("module"), "has no 'module'"),
    (lambda d: next(iter(d["plans"].values())).update(param_names=[1]), "param_names must be a list of strings"),
])
def test_a_broken_job_is_one_clear_error(tmp_path: Path, change, error: str) -> None:
    data = json.loads(job_for(tmp_path, project_at(tmp_path, PROGRAM)).to_json())
    change(data)
    with pytest.raises(JobError, match=error.replace("[", r"\[").replace("(", r"\(")):
        Job.from_json(json.dumps(data))


@pytest.mark.parametrize("text", ["", "[1]", "{"])
def test_what_is_no_json_object_is_no_job(text: str) -> None:
    with pytest.raises(JobError, match="job"):
        Job.from_json(text)


def test_moving_a_job_moves_its_files_and_never_a_value_or_a_candidate(tmp_path: Path) -> None:
    project = project_at(tmp_path, PROGRAM)
    here = str(tmp_path / "app.py")
    source = f"def price(q):\n    return len({here!r}) * q  # names {tmp_path}\n"
    job = replace(job_for(tmp_path, project, **{"app.price": source}), values={"app.RATE": repr(str(tmp_path))})
    copy = tmp_path.parent / "copy"
    moved = job.moved(PathMap(tmp_path, copy))
    assert moved.judge == str(copy / "judge.py") and moved.search_roots == (str(copy),)
    assert list(moved.plans) == [str(copy / "app.py")] and list(moved.candidates) == [str(copy / "app.py")]
    assert moved.candidates[str(copy / "app.py")] == job.candidates[here]  # the source, untouched
    assert moved.values == job.values and moved.root == job.root  # the root names paths in the feedback
    assert job.moved(PathMap(tmp_path, copy), root=True).root == str(copy)
    assert job.moved(PathMap(tmp_path, copy)).moved(PathMap(copy, tmp_path)) == job
    assert PathMap(tmp_path, copy).path("/elsewhere/x.py") == "/elsewhere/x.py"


def test_a_traceback_has_only_its_frames_files_moved(tmp_path: Path) -> None:
    node, driver = tmp_path / "node", tmp_path / "driver"
    text = (f'Traceback (most recent call last):\n  File "{node}/app.py", line 3, in main\n'
            f"    return open('{node}/data.txt')\nValueError: {node} is wrong\n")
    moved = PathMap(node, driver).traceback(text)
    assert f'File "{driver}/app.py", line 3' in moved
    assert f"open('{node}/data.txt')" in moved and f"ValueError: {node} is wrong" in moved  # the program's text


def test_an_outcome_from_a_node_has_its_tracebacks_moved_back_and_the_output_kept(tmp_path: Path) -> None:
    node, driver = tmp_path / "node", tmp_path / "driver"
    frame = f'Traceback (most recent call last):\n  File "{node}/app.py", line 1, in main\nKeyError: 1\n'
    examples = Examples(examples=(ExampleResult(failed=True, message=frame, output=f"{node}/out"),
                                  ExampleResult(score=1.0, message=f"{node} fine", output=f"{node}/out")))
    back = moved_back(examples, PathMap(node, driver))
    assert isinstance(back, Examples)
    assert f'File "{driver}/app.py"' in back.examples[0].message
    assert [e.output for e in back.examples] == [f"{node}/out"] * 2  # what the program returned
    assert back.examples[1].message == f"{node} fine"  # the judge's own words
    failed = moved_back(SetupFailed("importing app raised KeyError: 1", frame), PathMap(node, driver))
    assert isinstance(failed, SetupFailed) and f'File "{driver}/app.py"' in failed.traceback


def test_a_ray_task_evaluates_the_job_in_its_copy_of_the_project(tmp_path: Path, monkeypatch) -> None:
    """What runs on a node, run here in a copy of the project: the job's files are the copy's, the result
    is the same as at home, and a traceback names the driver's files."""
    driver = tmp_path / "driver"
    driver.mkdir()
    body = PROGRAM + textwrap.dedent("""
        def fails():
            raise KeyError('%s')
    """ % driver)  # noqa: UP031
    project = project_at(driver, body)
    node = tmp_path / "node"
    shutil.copytree(driver, node)
    job = job_for(driver, project)
    (driver / "app.py").write_text("raise SystemExit('the node must not read the driver files')\n")
    monkeypatch.chdir(node)
    out = outcome_from_json(_evaluate_on_node(job.to_json(), str(driver), {"timeout": 60.0}))
    assert isinstance(out, Examples) and out.examples[0].output == "42.0", out
    failing = replace(job, entry="fails")
    out = outcome_from_json(_evaluate_on_node(failing.to_json(), str(driver), {"timeout": 60.0}))
    assert isinstance(out, Examples) and out.examples[0].failed
    assert f'File "{driver / "app.py"}"' in out.examples[0].message
    assert f"KeyError: '{driver}'" in out.examples[0].message  # the program's own text: not moved


@pytest.mark.parametrize("message", [
    Warm(("/p", "/q"), "/p/judge.py", True), Warm((), None, False), Ready(), Unsafe("the judge started a thread"),
    Fork(3, "/tmp/f", "/p", 60.0, 1 << 30, 64 << 20), Fork(4, "/tmp/g", "/p", 1, None, 10),
    Ended(3, -9, True), Ended(4, 0, False),
])
def test_every_fork_server_message_reads_back_as_it_was_written(message) -> None:
    line = encode(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode(line) == message


@pytest.mark.parametrize("line, error", [
    (b"{nope\n", "no JSON"),
    (b'{"ready": true}\n', "not a fork-server message"),
    (b'["ended"]\n', "not a fork-server message"),
    (b'{"message": "ended", "id": 1, "returncode": 0}\n', "'ended' without 'timed_out'"),
    (b'{"message": "ended", "id": "1", "returncode": 0, "timed_out": false}\n', "id must be a whole number"),
    (b'{"message": "fork", "id": 1, "folder": "/f", "cwd": "/", "timeout": "60", "memory": null, "output": 1}',
     "timeout must be a number"),
    (b'{"message": "warm", "search_roots": "/p", "judge": null, "rewrites": true}', "a list of strings"),
    (b'{"message": "ready", "extra": 1}', "unknown fields: extra"),
])
def test_a_line_that_is_no_message_is_one_clear_error(line: bytes, error: str) -> None:
    with pytest.raises(ProtocolError, match=error):
        decode(line)


def test_limits_cross_to_the_fork_server_as_they_are() -> None:
    limits = Limits(timeout=2.5, memory=None)
    request = decode(encode(Fork(1, "/f", "/", limits.timeout, limits.memory, limits.output)))
    assert isinstance(request, Fork)
    assert Limits(timeout=request.timeout, memory=request.memory, output=request.output) == limits

