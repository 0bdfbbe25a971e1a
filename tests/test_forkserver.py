"""The warm fork server gives what a spawned worker gives, contains misbehaving candidates as well, leaves no
process behind, and ``--jobs`` does not change a run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from typing import Any

import pytest
from helpers import (
    JUDGE,
    answer,
    forked,
    gone,
    job_for,
    optimize,
    pid_in,
    processes_with,
    project_at,
    running,
    shop,
    wait_until,
)
from inprocess import run
from llmserver import ScriptedLLMServer

from autotrace.runners.executor import Executor
from autotrace.runners.forkserver import _library_imports, fork_supported
from autotrace.runners.outcome import outcome_to_json
from autotrace.runners.program_runs import evaluation_of
from autotrace.runners.sandbox import Limits, evaluate

pytestmark = pytest.mark.skipif(fork_supported() is not None, reason=str(fork_supported()))

EXAMPLES_JUDGE = ("import json\n\ndef examples():\n    return [1, 2, 3]\n\n"
                  "def feedback(output, x):\n    return -abs(output - 3 * x), f'wanted {3 * x}'\n")
PROGRAM = ("import helper\nRATE = 0.5  # autotrace: param\n\n"
           "def price(q):\n    return helper.twice(q) * RATE / 2\n\n"
           "def main(x):\n    print('pricing', x)\n    return price(x)\n")


def without_thread_ids(value: Any) -> Any:
    """An outcome as its JSON (:mod:`autotrace.runners.outcome`) with the recorded thread ids and the
    examples' seconds left out: the only fields that differ between processes."""
    if not isinstance(value, (dict, list)) and hasattr(value, "tag"):
        return without_thread_ids(json.loads(outcome_to_json(value)))
    if isinstance(value, dict):
        return {k: without_thread_ids(v) for k, v in value.items() if k not in ("thread", "seconds")}
    if isinstance(value, list):
        return [without_thread_ids(v) for v in value]
    return value


def test_the_fork_path_gives_the_spawned_workers_results(tmp_path):
    project = project_at(tmp_path, PROGRAM, EXAMPLES_JUDGE)
    jobs = [job_for(tmp_path, project, **{"app.RATE": rate}) for rate in (0.5, 3.0)]
    code = job_for(tmp_path, project)
    code.candidates = {str(tmp_path / "app.py"): {"price": "def price(q):\n    return q * RATE * 6\n"}}
    jobs.append(code)
    spawned = [evaluate(job, Limits(timeout=30)) for job in jobs]
    with Executor(Limits(timeout=30), kind="fork", jobs=1, say=pytest.fail) as executor:
        forked_results = [executor.run(job) for job in jobs]
    assert [without_thread_ids(r) for r in forked_results] == [without_thread_ids(r) for r in spawned]
    assert [evaluation_of(r).score for r in forked_results] == [-5.0, 0.0, 0.0]  # each child saw its own values
    assert "pricing 3" in forked_results[0].output_tail
    assert forked_results[0].examples[0].graph["nodes"]  # recorded in the child


def test_results_come_back_in_the_order_asked_whatever_the_number_of_jobs(tmp_path):
    # The first job sleeps, so with two jobs at once the second finishes first.
    slow = "import time\nRATE = 0.5  # autotrace: param\n\ndef main(x):\n    time.sleep(0.5 if RATE == 0.5 else 0)\n" \
           "    return x * RATE * 2\n"
    project = project_at(tmp_path, slow, EXAMPLES_JUDGE)
    jobs = [job_for(tmp_path, project, **{"app.RATE": rate}) for rate in (0.5, 1.0, 1.5, 3.0)]
    scores = {}
    for count in (1, 2):
        with Executor(Limits(timeout=30), kind="fork", jobs=count, say=pytest.fail) as executor:
            scores[count] = [evaluation_of(r).score for r in executor.run_many(jobs)]
    assert scores[1] == scores[2] == [-4.0, -2.0, 0.0, -6.0]


def test_limits_apply_in_the_forked_child(tmp_path):
    evaluation = forked(tmp_path, "def main():\n    return len(bytearray(8 << 30))\n", Limits(timeout=30, memory=1 << 30))
    assert evaluation.failures == 1 and "MemoryError" in evaluation.message()


def test_a_forking_candidate_leaves_no_process(tmp_path, outside):
    marker = outside / "fork.pid"
    evaluation = forked(tmp_path, f'''
        import os, time
        def main():
            pid = os.fork()
            if pid == 0:
                os.setsid()  # out of the evaluation's process group: only the subreaper's sweep finds it
                time.sleep(60)
                os._exit(0)
            open({str(marker)!r}, "w").write(str(pid))
            return 42
    ''')
    assert evaluation.score == 1.0
    assert gone(pid_in(marker))


def test_the_server_never_holds_the_programs_modules(tmp_path):
    """The judge imports the program's helper: the server drops it, so a changed helper is read again."""
    project = project_at(tmp_path, PROGRAM, "import helper\n" + EXAMPLES_JUDGE)
    with Executor(Limits(timeout=30), kind="fork", jobs=1, say=pytest.fail) as executor:
        first = evaluation_of(executor.run(job_for(tmp_path, project)))
        (tmp_path / "helper.py").write_text("def twice(q):\n    return 4 * q\n")
        second = evaluation_of(executor.run(job_for(tmp_path, project)))
    assert (first.score, second.score) == (-5.0, -4.0)


def test_a_judge_that_starts_a_thread_falls_back_to_spawning_and_says_so_once(tmp_path):
    threaded = "import threading, time\nthreading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n" + JUDGE
    project = project_at(tmp_path, "ANSWER = 41  # autotrace: param\ndef main():\n    return ANSWER + 1\n", threaded)
    said: list[str] = []
    with Executor(Limits(timeout=30), kind="fork", jobs=2, say=said.append) as executor:
        scores = [evaluation_of(r).score for r in executor.run_many(
            [job_for(tmp_path, project, **{"app.ANSWER": v}) for v in (41, 0, 41)])]
    assert scores == [1.0, 0.0, 1.0]
    assert len(said) == 1 and "the judge started a thread" in said[0] and "freshly started process" in said[0]


def test_a_run_is_the_same_whatever_the_number_of_jobs_and_leaves_no_process(tmp_path, monkeypatch, capfd):
    # MARKUP 2.5 gives 27.5; then the probe PRICE 0.055 reaches the target: with two jobs the MARKUP probe
    # ran beside it and is dropped uncounted. The run in this process, its evaluations on the fork server.
    tag = f"AUTOTRACE_TEST_RUN={uuid.uuid4().hex}"
    monkeypatch.setenv(*tag.split("="))
    runs = {}
    for jobs in (1, 2):
        (tmp_path / str(jobs)).mkdir()
        with ScriptedLLMServer() as server:
            server.script(answer(MARKUP=2.5), answer(MARKUP=9.0))
            runs[jobs] = run(shop(tmp_path / str(jobs)), server, steps=5, target_score=-0.5, measured_step=False,
                             jobs=jobs, isolated=True)
        assert runs[jobs].result.reached_target
    same = [(s.values, s.describe, s.candidate, s.note, s.evaluated) for s in runs[1].steps]
    assert same == [(s.values, s.describe, s.candidate, s.note, s.evaluated) for s in runs[2].steps]
    assert runs[2].steps[-1].note.endswith("probe shop.PRICE = 0.055 is the best so far")
    assert runs[1].diff == runs[2].diff  # the same patch
    assert "evaluating each candidate in a freshly started process" not in capfd.readouterr().err
    assert wait_until(lambda: processes_with(tag) == []), processes_with(tag)


@pytest.mark.parametrize("config, expected", [
    ("jobs = 0", "config: jobs must be a whole number of at least 1 (got 0)"),
    ("executor = 'threads'", "config: executor must be one of fork, spawn, ray (got 'threads')"),
])
def test_bad_jobs_or_executor_in_the_config_is_one_line_and_no_run(tmp_path, llm_server, config, expected):
    shop(tmp_path)
    (tmp_path / "pyproject.toml").write_text(f"[tool.autotrace]\n{config}\n")
    result = optimize(tmp_path, llm_server, "--steps", "1")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].endswith(expected)
    assert not (tmp_path / ".autotrace").exists()


def test_the_server_and_its_children_die_when_autotrace_is_killed(tmp_path, outside):
    """SIGKILL to the optimizing process must leave neither the fork server, nor a runaway candidate, nor
    the detached child the candidate started in a session of its own."""
    marker, detached = outside / "child.pid", outside / "detached.pid"
    project_at(tmp_path, f"import os, subprocess, sys\ndef main():\n"
                         f"    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],"
                         f" start_new_session=True)\n"
                         f"    open({str(detached)!r}, 'w').write(str(child.pid))\n"
                         f"    open({str(marker)!r}, 'w').write(str(os.getpid()))\n"
                         "    while True:\n        pass\n")
    driver = textwrap.dedent(f'''
        from pathlib import Path
        from autotrace.project import Project
        from autotrace.runners.program_runs import make_job
        from autotrace.runners.executor import Executor
        from autotrace.runners.sandbox import Limits
        root = Path({str(tmp_path)!r})
        job = make_job(Project.load(root / "app.py"), root / "app.py", "main", root / "judge.py", {{}})
        Executor(Limits(timeout=300), kind="fork", jobs=1).run(job)
    ''')
    parent = subprocess.Popen([sys.executable, "-c", driver])
    child, grandchild = pid_in(marker, timeout=60), pid_in(detached)
    server = child
    while True:  # up the confined process's parents to the fork server (its parent is the driver)
        with open(f"/proc/{server}/stat") as handle:
            above = int(handle.read().rpartition(")")[2].split()[1])
        if above == parent.pid:
            break
        server = above
    assert server != child and running(grandchild)
    parent.kill()
    parent.wait()
    assert gone(server) and gone(child) and gone(grandchild)


def signalling_judge(action: str) -> str:
    """A judge that, imported by the fork server at its warm-up, does ``action`` in the server when the
    server forks an evaluation (an at-fork hook: it runs while the fork is under way, where a signal
    that raised would land inside the interpreter's at-fork callbacks)."""
    body = "".join(f"        {line}\n" for line in action.splitlines())
    return ("import os, signal, sys, time\n_SERVER = os.getpid()\n\n"
            "def _in_the_server_while_it_forks():\n"
            "    if sys.argv[0].endswith('forkserver.py') and os.getpid() == _SERVER:\n"
            f"{body}\n"
            "os.register_at_fork(after_in_parent=_in_the_server_while_it_forks)\n") + JUDGE


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_server_signalled_while_it_forks_stops_without_a_word(tmp_path, capfd, signum):
    """A signal reaching the server (SIGTERM: autotrace ended) while it forks must not print "Exception
    ignored in ... SystemExit" with a traceback into the terminal: the server stops, and autotrace alone
    says, in one line, that it evaluates by spawning instead."""
    judge = signalling_judge(f"os.kill(_SERVER, {int(signum)})")
    project = project_at(tmp_path, "ANSWER = 41  # autotrace: param\ndef main():\n    return ANSWER + 1\n", judge)
    said: list[str] = []
    with Executor(Limits(timeout=30), kind="fork", jobs=1, say=said.append) as executor:
        assert evaluation_of(executor.run(job_for(tmp_path, project))).score == 1.0
    assert len(said) == 1 and "the fork server ended" in said[0], said
    assert capfd.readouterr().err == ""  # the server writes to this process's stderr


def test_autotrace_killed_while_the_server_forks_leaves_no_traceback(tmp_path):
    """The user's terminal after ``kill`` of a run: the server learns of autotrace's end by SIGTERM
    (PDEATHSIG), here while it forks an evaluation, and ends without printing anything."""
    shop(tmp_path)
    (tmp_path / "judge.py").write_text(signalling_judge(
        "parent = os.getppid()\nos.kill(parent, signal.SIGTERM)\nwhile os.getppid() == parent:\n    time.sleep(0.01)")
        + "\ndef feedback(output):\n    return -abs(output - 30), 'wanted 30'\n")
    with ScriptedLLMServer() as server:
        result = optimize(tmp_path, server, "--steps", "2", installed=True)
    assert result.returncode == -signal.SIGTERM
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr


def test_the_programs_libraries_are_imported_once_in_the_warm_up_and_its_own_modules_never(tmp_path, monkeypatch):
    """A library the program imports is imported by the server before it forks: each child finds it warm
    (here its import writes outside the project, which a confined child may not). The program's own
    modules are left to each child."""
    lib, imports = tmp_path / "lib", tmp_path / "imports.log"
    lib.mkdir()
    (lib / "warmlib.py").write_text(f"import os\nwith open({str(imports)!r}, 'a') as log:\n"
                                    "    log.write(f'{os.getpid()}\\n')\nVALUE = 42\n")
    monkeypatch.setenv("PYTHONPATH", str(lib))
    (tmp_path / "project").mkdir()
    project = project_at(tmp_path / "project", "import warmlib\nimport helper\n\ndef main():\n    return warmlib.VALUE\n")
    with Executor(Limits(timeout=30), kind="fork", jobs=1, say=pytest.fail) as executor:
        scores = [evaluation_of(executor.run(job_for(tmp_path / "project", project))).score for _ in range(2)]
    assert scores == [1.0, 1.0] and len(imports.read_text().splitlines()) == 1
    monkeypatch.syspath_prepend(str(lib))
    monkeypatch.syspath_prepend(str(tmp_path / "project"))
    assert _library_imports([str(tmp_path / "project" / "app.py")], [str(tmp_path / "project")]) == ["warmlib"]


@pytest.mark.parametrize("rewrites", [False, True])
def test_the_server_warms_libcst_only_for_evaluations_that_rewrite_source(rewrites):
    """Without a rewrite (no code parameter, the cache on) the children read the rewritten modules from the
    cache, autotrace's own when Python writes no bytecode: the server need not pay for LibCST's import."""
    code = ("import sys\nfrom autotrace.runners.forkserver import _warm\n"
            f"assert _warm([], None, {rewrites}) is None\nprint('libcst' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(rewrites)
