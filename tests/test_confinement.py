"""Hostile candidates: whatever a candidate does, every project file is byte-identical afterwards (content
and mode), no process it started is left running, and its feedback says what it tried.

Each runs in real worker processes, under Landlock where the kernel has it and under the private-copy
protection (``AUTOTRACE_CONFINE=copy``, what runs where Landlock is missing) everywhere, and each attack
both ways an evaluation can start: a freshly spawned worker, and a child of the warm fork server (the
default on Linux).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest
from helpers import child_env, wait_until
from inprocess import run_cli
from llmserver import ScriptedLLMServer

from autotrace.evaluation import Evaluation
from autotrace.project import Project
from autotrace.runners.confine import MODE_ENV, landlock_abi
from autotrace.runners.executor import Executor
from autotrace.runners.forkserver import fork_supported
from autotrace.runners.guard import Baseline, guarded
from autotrace.runners.program_runs import evaluation_of, make_job, run_evaluation
from autotrace.runners.sandbox import Limits
from autotrace.runners.worker import Job

APP = '''\
def act():  # autotrace: param
    return 42


def main():
    return act()
'''
JUDGE = "def feedback(output):\n    return (1.0, 'ok') if output == 42 else (0.0, f'got {output!r}')\n"
HELPER = "VALUE = 1\n"

MODES = [pytest.param("landlock", marks=pytest.mark.skipif(landlock_abi() < 1, reason="no Landlock here")), "copy"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "copy":
        monkeypatch.setenv(MODE_ENV, "copy")
    else:
        monkeypatch.delenv(MODE_ENV, raising=False)
    return request.param


WAYS = ["spawn", pytest.param("fork", marks=pytest.mark.skipif(fork_supported() is not None,
                                                            reason=str(fork_supported())))]


@pytest.fixture(params=WAYS)
def way(request: pytest.FixtureRequest) -> str:
    """How the evaluation's worker starts: spawned, or forked by the warm fork server."""
    return request.param


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'victim'\n")
    (root / "app.py").write_text(APP)
    (root / "judge.py").write_text(JUDGE)
    (root / "pkg" / "helper.py").write_text(HELPER)
    (root / "notes.txt").write_text("the user's notes\n")
    return root


def fingerprint(root: Path) -> dict[str, tuple[str, int]]:
    """Every file beneath ``root`` (caches aside): its content hash and mode."""
    found = {}
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        found[str(path.relative_to(root))] = (hashlib.sha256(path.read_bytes()).hexdigest(),
                                              stat.S_IMODE(path.stat().st_mode))
    return found


def holding(token: str) -> list[int]:
    """The pids of the processes running now whose command line holds ``token``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                if handle.read().rpartition(b")")[2].split()[0] in (b"Z", b"X"):
                    continue
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                command = handle.read()
        except OSError:
            continue
        if token.encode() in command:
            found.append(int(name))
    return found


def job_of(root: Path, candidate: str) -> Job:
    """The job evaluating ``candidate`` as the code parameter ``act``."""
    project = Project.load(root / "app.py")
    return make_job(project, root / "app.py", "main", root / "judge.py",
                    {"app.act": "def act():  # autotrace: param\n" + textwrap.indent(textwrap.dedent(candidate), "    ")})


def evaluate(root: Path, candidate: str, limits: Limits = Limits(timeout=30), way: str = "spawn") -> Evaluation:
    """Evaluate ``candidate`` as the code parameter ``act``, in a spawned worker or a forked one."""
    if way == "spawn":
        return run_evaluation(job_of(root, candidate), limits)
    said: list[str] = []
    with Executor(limits, kind="fork", jobs=1, say=said.append) as executor:
        result = executor.run(job_of(root, candidate))
    assert said == []  # forked indeed: the executor did not fall back to spawning
    return evaluation_of(result)


WRITES = {
    "write": "open({judge!r}, 'w').write('')\nreturn 42\n",
    "truncate": "import os\nos.truncate({app!r}, 0)\nreturn 42\n",
    "delete": "import os\nos.remove({judge!r})\nreturn 42\n",
    "rename": "import os\nos.rename({judge!r}, {judge!r} + '.bak')\nreturn 42\n",
    "chmod": "import os\nos.chmod({judge!r}, 0)\nreturn 42\n",
    "wipe beside itself": ("import glob, os\n"
                           "for name in glob.glob(os.path.join(os.path.dirname(__file__), '*.py')):\n"
                           "    try:\n        open(name, 'w').write('')\n    except OSError:\n        pass\n"
                           "return 42\n"),
    "shell rm": "import subprocess\nsubprocess.run(['rm', '-rf', {pkg!r}, {notes!r}])\nreturn 42\n",
    "shell chmod": "import subprocess\nsubprocess.run(['chmod', '000', {judge!r}, {notes!r}])\nreturn 42\n",
    "through a symlink": ("import os, tempfile\nlink = os.path.join(tempfile.mkdtemp(), 'link')\n"
                          "os.symlink({judge!r}, link)\nopen(link, 'w').write('')\nreturn 42\n"),
    "mkdir and create": "import os\nos.mkdir({root!r} + '/planted')\nreturn 42\n",
    "pycache plant": ("import os\nos.makedirs({root!r} + '/pkg/__pycache__', exist_ok=True)\n"
                      "open({root!r} + '/pkg/__pycache__/helper.cpython-311.pyc', 'wb').write(b'x')\nreturn 42\n"),
}


@pytest.mark.parametrize("attack", sorted(WRITES))
def test_a_candidate_cannot_change_project_files(project: Path, mode: str, way: str, attack: str) -> None:
    before = fingerprint(project)
    paths = {"judge": str(project / "judge.py"), "app": str(project / "app.py"), "pkg": str(project / "pkg"),
             "notes": str(project / "notes.txt"), "root": str(project)}
    evaluation = evaluate(project, WRITES[attack].format(**paths), way=way)
    assert fingerprint(project) == before
    assert not (project / "planted").exists()
    assert evaluation.problem is None, evaluation.problem
    if not (attack == "shell rm" and mode == "landlock"):  # rm's own "Permission denied" is all there is then
        assert "the program tried to" in evaluation.message(), evaluation.message()


def test_the_feedback_names_the_file_it_tried_to_write(project: Path, mode: str, way: str) -> None:
    evaluation = evaluate(project, f"open({str(project / 'judge.py')!r}, 'w').write('')\nreturn 42\n", way=way)
    assert re.search(r"tried to (write|change) judge\.py: (denied|wrote it; restored)", evaluation.message())


def test_a_candidate_cannot_write_the_users_home(project: Path, mode: str, way: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("# the user's shell\n")
    monkeypatch.setenv("HOME", str(home))
    evaluate(project, "import os\nopen(os.path.expanduser('~/.bashrc'), 'a').write('evil')\n"
                      "open(os.path.expanduser('~/new'), 'w').write('evil')\nreturn 42\n", way=way)
    # Without Landlock it is the audit hook that refuses these writes: Python's own file calls, which is
    # all this candidate makes (a subprocess would get past it: see runners/attempts.py).
    assert (home / ".bashrc").read_text() == "# the user's shell\n"
    assert not (home / "new").exists()


SPAWNS = {
    "detached child": ("import subprocess, sys\n"
                       "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', {token!r}],\n"
                       "                 start_new_session=True)\nreturn 42\n"),
    "double-forked daemon": ("import os, sys\n"
                             "if os.fork() == 0:\n"
                             "    os.setsid()\n"
                             "    if os.fork() == 0:\n"
                             "        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', {token!r}])\n"
                             "    os._exit(0)\n"
                             "return 42\n"),
    "child then abrupt exit": ("import os, subprocess, sys\n"
                               "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', {token!r}],\n"
                               "                 start_new_session=True)\n"
                               "time = __import__('time'); time.sleep(0.5)\nos._exit(0)\n"),
}


@pytest.mark.parametrize("attack", sorted(SPAWNS))
def test_no_process_outlives_the_evaluation(project: Path, mode: str, way: str, attack: str) -> None:
    token = f"autotrace-test-{secrets.token_hex(6)}"
    before = fingerprint(project)
    evaluate(project, SPAWNS[attack].format(token=token), way=way)
    assert wait_until(lambda: holding(token) == []), holding(token)
    assert fingerprint(project) == before


def test_a_timed_out_candidate_leaves_no_detached_child(project: Path, mode: str, way: str) -> None:
    token = f"autotrace-test-{secrets.token_hex(6)}"
    evaluation = evaluate(project, SPAWNS["detached child"].format(token=token).replace("return 42", "while True:\n    pass"),
                          Limits(timeout=3), way=way)
    assert evaluation.problem.startswith("timed out")
    assert wait_until(lambda: holding(token) == []), holding(token)


def test_candidates_evaluated_at_once_leave_the_project_as_it_was(project: Path, mode: str, way: str) -> None:
    """``--jobs 2``: one candidate chmods the judge through a shell (Landlock does not cover chmod, and
    without Landlock nothing stops a shell) while others run beside it."""
    judge = str(project / "judge.py")
    before = fingerprint(project)
    slow = "import subprocess, time\nsubprocess.run(['chmod', '000', {judge!r}])\ntime.sleep(2)\nreturn 42\n"
    candidates = [slow.format(judge=judge), "return 42\n", "import time\ntime.sleep(3)\nreturn 42\n"]
    said: list[str] = []
    with Executor(Limits(timeout=60), kind=way, jobs=2, say=said.append) as executor:
        results = executor.run_many([job_of(project, c) for c in candidates])
    assert said == []
    assert fingerprint(project) == before
    assert [evaluation_of(r).score for r in results] == [1.0, 1.0, 1.0]
    # Undone by whichever evaluation ended first after the change; said as maybe another's when others ran.
    assert any("tried to chmod judge.py: undone" in evaluation_of(r).message() for r in results)


def test_evaluations_at_once_share_one_snapshot_of_the_project(project: Path, mode: str, tmp_path: Path) -> None:
    """The second evaluation starts while the first one's change is there and ends after the first undid
    it: with a snapshot of its own it would put the change back."""
    judge = project / "judge.py"
    before = fingerprint(project)
    shared = Baseline()
    first = guarded(project, tmp_path / "first", baseline=shared)
    second = guarded(project, tmp_path / "second", baseline=shared)
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    _, first_notes = first.__enter__()
    os.chmod(judge, 0)  # the first evaluation's candidate
    _, second_notes = second.__enter__()
    first.__exit__(None, None, None)
    second.__exit__(None, None, None)
    assert fingerprint(project) == before
    assert first_notes == ["tried to chmod judge.py: undone (this program's doing, or another's evaluated at "
                           "the same time)"]
    assert second_notes == []


@pytest.mark.skipif(landlock_abi() < 4, reason="needs Landlock ABI 4 (TCP rules)")
def test_without_network_a_candidate_cannot_connect(project: Path, way: str, llm_server: ScriptedLLMServer) -> None:
    port = int(llm_server.base_url.rsplit(":", 1)[1].split("/")[0])
    connect = f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=5)\nexcept OSError as exc:\n    return repr(exc)\nreturn 42\n"
    assert evaluate(project, connect, way=way).score == 1.0  # the network is open by default
    closed = evaluate(project, connect, Limits(timeout=30, network=False), way=way)
    assert closed.score == 0.0 and "PermissionError" in closed.message()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_optimize_goes_on_when_the_model_proposes_wiping_the_project(project: Path, mode: str,
                                                                      llm_server: ScriptedLLMServer) -> None:
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / "app.py").write_text(APP.replace("return 42", "return 41"))
    before = fingerprint(project)
    wipe = textwrap.dedent('''\
        def act():
            import glob, os
            for name in glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "*.py")):
                try:
                    open(name, "w").write("")
                except OSError:
                    pass
            return 41
        ''')
    llm_server.script({"reasoning": "start over", "suggestion": {"app.act": wipe}},
                      {"reasoning": "fix it", "suggestion": {"app.act": "def act():\n    return 42\n"}})
    env = child_env("OPENAI_")
    env["OPENAI_API_KEY"] = "test"
    result = run_cli("optimize", "app.py", "--feedback", "judge.py", "--steps", "2", "--no-probe", "--base-url",
                     llm_server.base_url, "--model", "scripted", cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    assert "freshly started process" not in result.stderr  # the default way: forked by the warm server
    assert re.search(r"^best score: 1(\.0)? ", result.stderr, re.MULTILINE), result.stderr
    assert fingerprint(project) == before | {k: v for k, v in fingerprint(project).items() if k.startswith(".autotrace")}
    second = llm_server.chat_requests[1].json["messages"][-1]["content"]
    assert "tried to" in second and "app.py" in second


def test_a_tests_run_cannot_change_the_project_or_leave_a_process(tmp_path: Path, mode: str) -> None:
    """``--tests``: the candidate runs inside the user's pytest session, confined the same way."""
    from autotrace.runners.tests_eval import SuiteEvaluator

    token = f"autotrace-test-{secrets.token_hex(6)}"
    root = tmp_path / "suite"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'suite'\n")
    (root / "calc.py").write_text("def answer():  # autotrace: param\n    return 41\n")
    (root / "tests" / "test_calc.py").write_text("from calc import answer\n\n\ndef test_answer():\n    assert answer() == 42\n")
    evaluator = SuiteEvaluator([root / "tests"], limits=Limits(timeout=60))
    project, _ = evaluator.prepare()
    before = fingerprint(root)
    hostile = textwrap.dedent(f'''\
        def answer():
            import glob, os, subprocess, sys
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", {token!r}], start_new_session=True)
            subprocess.run(["chmod", "000", {str(root / "calc.py")!r}])
            for name in glob.glob({str(root)!r} + "/**/*.py", recursive=True):
                try:
                    open(name, "w").write("")
                except OSError:
                    pass
            return 42
        ''')
    evaluation = evaluator(project, {project.params[0].name: hostile})
    assert fingerprint(root) == before
    assert wait_until(lambda: holding(token) == []), holding(token)
    said = evaluation.examples[0].message
    assert ("tried to chmod calc.py: undone" if mode == "landlock" else "tried to change calc.py") in said, said
    assert evaluation.score is not None  # the run itself went on and was scored


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = child_env("OPENAI_", "AUTOTRACE_")
    return run_cli(*args, cwd=cwd, env={**environ, "OPENAI_API_KEY": "test", **env})


def test_no_network_in_the_config_must_be_true_or_false(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.autotrace]\nno_network = 'yes'\n")
    result = cli("optimize", "app.py", "--feedback", "judge.py", "--base-url", "http://127.0.0.1:9/v1", cwd=project)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].endswith("[tool.autotrace] no_network must be true or false, not 'yes'")


def test_no_network_without_landlock_is_a_clear_error(project: Path) -> None:
    result = cli("optimize", "app.py", "--feedback", "judge.py", "--no-network", "--base-url", "http://127.0.0.1:9/v1",
                 cwd=project, AUTOTRACE_CONFINE="copy")
    assert result.returncode != 0
    assert result.stderr.strip() == ("autotrace: error: --no-network needs Linux Landlock ABI 4 or later "
                                     "(Linux 6.7+); AUTOTRACE_CONFINE=copy turns Landlock off")
