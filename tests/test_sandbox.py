"""Candidate code that misbehaves is reported as feedback; the evaluation always comes back."""

from __future__ import annotations

import textwrap

import pytest
from helpers import JUDGE, evaluating, gone, pid_in, running

from autotrace.project import Project
from autotrace.runners.program_runs import make_job, run_evaluation
from autotrace.runners.sandbox import Limits


def evaluate(tmp_path, body: str, limits: Limits = Limits(timeout=20), **values):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(textwrap.dedent(body))
    (tmp_path / "judge.py").write_text(JUDGE)
    project = Project.load(tmp_path / "app.py")
    job = make_job(project, tmp_path / "app.py", "main", tmp_path / "judge.py", values)
    return run_evaluation(job, limits)


def test_a_good_program_is_judged(tmp_path):
    evaluation = evaluate(tmp_path, "ANSWER = 41  # autotrace: param\ndef main():\n    return ANSWER + 1\n")
    assert evaluation.problem is None and evaluation.score == 1.0 and evaluation.message() == "ok"


def test_candidate_values_are_used(tmp_path):
    evaluation = evaluate(tmp_path, "ANSWER = 41  # autotrace: param\ndef main():\n    return ANSWER + 1\n",
                          **{"app.ANSWER": 1})
    assert evaluation.score == 0.0 and evaluation.message() == "got 2"


def forked(tmp_path, body: str, limits: Limits = Limits(timeout=20), **values):
    """The same evaluation on the fork path (skipped where forking is unsafe)."""
    from autotrace.runners.forkserver import fork_supported

    if fork_supported() is not None:
        pytest.skip(str(fork_supported()))
    from helpers import forked as on_the_fork_path

    return on_the_fork_path(tmp_path, body, limits, **values)


@pytest.mark.parametrize("run", [evaluate, forked], ids=["spawn", "fork"])
def test_infinite_loop_times_out_and_the_group_is_killed(tmp_path, outside, run):
    marker, slept = outside / "child.pid", outside / "slept"
    body = f'''
        import os, subprocess, sys
        def main():
            sleep = "import time; time.sleep(60); open({str(slept)!r}, 'w').close()"
            child = subprocess.Popen([sys.executable, "-c", sleep])
            open({str(marker)!r}, "w").write(str(child.pid))
            while True:
                pass
    '''
    # The timeout covers the evaluation's start too: on a loaded machine a spawned interpreter may not
    # reach main() within 3 s, and then there is no grandchild to check; the loop is then given longer.
    for timeout in (3, 30):
        evaluation = run(tmp_path, body, Limits(timeout=timeout))
        assert evaluation.problem.startswith(f"timed out after {timeout} s")
        if marker.exists():
            break
    assert gone(pid_in(marker))  # the grandchild died with the group ...
    assert not slept.exists()  # ... killed, not waited for through its 60 s


@pytest.mark.parametrize("body, expected", [
    ("def main():\n    return len(bytearray(8 << 30))\n", "MemoryError"),
    ("def main():\n    return main()\n", "RecursionError"),
    ("def main():\n    raise SystemExit(3)\n", "SystemExit"),
    ("def main():\n    raise KeyboardInterrupt\n", "KeyboardInterrupt"),
])
def test_runaway_candidates_become_feedback(tmp_path, body, expected):
    evaluation = evaluate(tmp_path, body, Limits(timeout=30, memory=1 << 30))
    assert evaluation.failures == 1
    assert expected in evaluation.message()


@pytest.mark.parametrize("body, expected", [
    ("import os\ndef main():\n    print('bye', flush=True)\n    os._exit(7)\n", "exit code 7"),
    ("import ctypes\ndef main():\n    ctypes.string_at(0)\n", "SIGSEGV"),
])
@pytest.mark.parametrize("run", [evaluate, forked], ids=["spawn", "fork"])
def test_crashes_are_reported_with_the_output_tail(tmp_path, body, expected, run):
    evaluation = run(tmp_path, body, Limits(timeout=30, output=4 << 20))
    assert evaluation.problem is not None and expected in evaluation.problem
    if "bye" in body:
        assert evaluation.problem.endswith("last output:\nbye")


def test_megabytes_of_output_hit_the_output_limit(tmp_path):
    evaluation = evaluate(tmp_path, "def main():\n    while True:\n        print('x' * 10000)\n",
                          Limits(timeout=30, output=4 << 20))
    assert evaluation.failures == 1 and "File too large" in evaluation.message()


def test_forked_child_does_not_outlive_the_evaluation(tmp_path, outside):
    marker = outside / "fork.pid"
    evaluate(tmp_path, f'''
        import os, time
        def main():
            pid = os.fork()
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            open({str(marker)!r}, "w").write(str(pid))
            return 42
    ''')
    assert gone(pid_in(marker))


def test_program_that_does_not_import_is_feedback(tmp_path):
    evaluation = evaluate(tmp_path, "import does_not_exist\ndef main():\n    return 42\n")
    assert "ModuleNotFoundError" in evaluation.problem


def test_in_process_mode_gives_the_same_answer(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text("ANSWER = 41  # autotrace: param\ndef main():\n    return ANSWER + 1\n")
    (tmp_path / "judge.py").write_text(JUDGE)
    project = Project.load(tmp_path / "app.py")
    for value, score in ((41, 1.0), (0, 0.0), (41, 1.0)):
        job = make_job(project, tmp_path / "app.py", "main", tmp_path / "judge.py", {"app.ANSWER": value})
        assert run_evaluation(job, Limits(), isolated=False).score == score


def test_worker_dies_when_autotrace_is_killed(tmp_path, outside):
    """SIGKILL to the optimizing process must not leave a runaway candidate behind, nor the detached child
    it started in a session of its own."""
    marker, detached = outside / "worker.pid", outside / "detached.pid"
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(f"import os, subprocess, sys\ndef main():\n"
                                     f"    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],"
                                     f" start_new_session=True)\n"
                                     f"    open({str(detached)!r}, 'w').write(str(child.pid))\n"
                                     f"    open({str(marker)!r}, 'w').write(str(os.getpid()))\n"
                                     "    while True:\n        pass\n")
    (tmp_path / "judge.py").write_text(JUDGE)
    parent = evaluating(tmp_path)
    worker, grandchild = pid_in(marker), pid_in(detached)
    assert running(grandchild)
    parent.kill()
    parent.wait()
    assert gone(worker) and gone(grandchild)


def test_a_code_candidate_replaces_the_function_and_later_lines_keep_their_numbers(tmp_path):
    body = textwrap.dedent('''
        def double(x):  # autotrace: param
            return x * 3

        def main():
            return double(21)

        def later():
            raise ValueError("line 9")
    ''')
    candidate = "def double(x):  # autotrace: param\n    y = x\n    z = y * 2\n    return z\n"
    evaluation = evaluate(tmp_path, body, **{"app.double": candidate})
    assert evaluation.score == 1.0 and evaluation.message() == "ok"
    assert (tmp_path / "app.py").read_text() == body  # evaluated without touching the file
    (tmp_path / "app.py").write_text(body.replace("return double(21)", "return later()"))
    evaluation = evaluate(tmp_path, body.replace("return double(21)", "return later()"), **{"app.double": candidate})
    assert 'app.py", line 9, in later' in evaluation.message()
