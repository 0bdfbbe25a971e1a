"""A run killed with SIGKILL resumes from its last completed step without asking the LLM again."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from helpers import wait_until
from llmserver import Fault

from autotrace.pool import Candidate
from autotrace.records import RunRecord, Scoring, StepRecord
from autotrace.store import RunStore

PROGRAM = "X = 1.0  # autotrace: param\ndef main():\n    return X * 2\n"
JUDGE = "def feedback(output):\n    return -abs(output - 10), f'output {output}, want 10'\n"


def suggestion(value: float) -> dict:
    return {"reasoning": "move X", "suggestion": {"app.X": value}}


def steps_done(db: Path) -> int:
    """The steps the run in ``db`` stored so far (0 before the run is stored)."""
    if not db.exists():
        return 0
    with RunStore(db) as store:
        return sum(run.steps for run in store.list_runs())


def the_run(db: Path) -> tuple[RunRecord, list[StepRecord], list[Candidate]]:
    """The one run in ``db``: its row, its steps and its pool."""
    with RunStore(db) as store:
        (run,) = store.list_runs()
        return run, store.steps(run.id), [r.candidate for r in store.candidates(run.id)]


def autotrace(tmp_path: Path, base_url: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "OPENAI_API_KEY": "sk-test-secret-key-1234567890"}
    return subprocess.Popen(
        [sys.executable, "-m", "autotrace.runners.cli", "optimize", "app.py", "--feedback", "judge.py",
         "--base-url", base_url, "--model", "scripted", "--no-measured-step", *args],  # every step asks
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_9_then_resume_continues_from_the_last_completed_step(tmp_path, llm_server):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(PROGRAM)
    (tmp_path / "judge.py").write_text(JUDGE)
    db = tmp_path / ".autotrace" / "autotrace.db"
    llm_server.script(suggestion(2.0), suggestion(3.0), Fault.delay(60, then=suggestion(4.0)))

    proc = autotrace(tmp_path, llm_server.base_url, "--steps", "5")
    assert wait_until(lambda: steps_done(db) >= 3, 60)  # step 0 (initial) + steps 1 and 2
    assert steps_done(db) == 3
    assert wait_until(lambda: len(llm_server.chat_requests) >= 3, 60)  # step 3 is waiting for its answer
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    asked_before = len(llm_server.chat_requests)
    assert asked_before == 3  # the third is hanging when the run dies

    run_id = the_run(db)[0].id
    llm_server.script(suggestion(4.0), suggestion(5.0), suggestion(6.0))
    resumed = autotrace(tmp_path, llm_server.base_url, "--steps", "5", "--resume", run_id)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert "resumed" in err
    assert steps_done(db) == 6  # 0..5, each once
    assert len(llm_server.chat_requests) - asked_before == 3  # only steps 3, 4, 5 asked the LLM
    assert "+X = 5.0" in out
    assert b"sk-test-secret-key" not in db.read_bytes()


def test_a_pool_of_several_answers_per_step_resumes_after_kill_9_without_running_a_candidate_again(tmp_path, llm_server):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(PROGRAM)
    (tmp_path / "judge.py").write_text(JUDGE)
    db = tmp_path / ".autotrace" / "autotrace.db"
    hang = Fault.delay(60, then=suggestion(9.0))
    llm_server.script(suggestion(2.0), suggestion(3.0), hang, hang)

    proc = autotrace(tmp_path, llm_server.base_url, "--steps", "3", "--candidates", "2", "--no-probe")
    # step 1 stored, step 2's two questions asked and hanging
    assert wait_until(lambda: steps_done(db) >= 2 and len(llm_server.chat_requests) >= 4, 60)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run, _, pool = the_run(db)
    run_id, before = run.id, sorted(c.values["app.X"] for c in pool)
    assert before == ["1.0", "2.0", "3.0"]  # the initial values and step 1's two answers, on disk

    # step 2 repeats step 1's 3.0 (not run again); step 3 gives 5.0 twice (run once)
    llm_server.script(suggestion(4.0), suggestion(3.0), suggestion(5.0), suggestion(5.0))
    resumed = autotrace(tmp_path, llm_server.base_url, "--steps", "3", "--candidates", "2", "--no-probe",
                        "--resume", run_id)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    run, steps, pool = the_run(db)
    assert [c.id for c in pool] == [0, 1, 2, 3, 4]
    assert sorted(c.values["app.X"] for c in pool) == ["1.0", "2.0", "3.0", "4.0", "5.0"]
    assert run.best is not None and run.best.evaluations == 2  # the resumed run ran 4.0 and 5.0 and nothing else
    assert steps[2].note.startswith("2 proposed, 1 new") and steps[3].note.startswith("2 proposed, 1 new, best 0")
    assert "+X = 5.0" in out


def test_a_best_found_by_a_probe_survives_kill_9_and_resume(tmp_path, llm_server):
    """Step 1's probe (X = 1.1, -7.8) beats the initial values (-8) while the model's answer does worse
    (X = 0.5, -9): the best is no step's result, only a pooled candidate. Resumed, the run keeps it
    (it used to restart from the best stored step, the initial values, and end without a patch)."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(PROGRAM)
    (tmp_path / "judge.py").write_text(JUDGE)
    db = tmp_path / ".autotrace" / "autotrace.db"
    llm_server.script(suggestion(0.5), Fault.delay(60, then=suggestion(9.0)))

    proc = autotrace(tmp_path, llm_server.base_url, "--steps", "3")  # probes on, no measured search
    # step 1 stored, step 2's question asked and hanging
    assert wait_until(lambda: steps_done(db) >= 2 and len(llm_server.chat_requests) >= 2, 60)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run, steps, pool = the_run(db)
    run_id, stored = run.id, [s.values["app.X"] for s in steps]
    pooled = {c.values["app.X"]: c.origin for c in pool}
    assert stored == ["1.0", "0.5"]
    assert pooled["1.1"] == "probe"  # the best so far is on disk only in the pool

    llm_server.script(suggestion(0.2), suggestion(0.3))  # steps 2 and 3 do worse still
    resumed = autotrace(tmp_path, llm_server.base_url, "--steps", "3", "--resume", run_id)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert re.search(r"^step +1/3 .*best -7\.8 .*resumed", err, re.MULTILINE), err  # the command's resume line
    assert "best score: -7.8 " in err
    assert "+X = 1.1" in out
    run = the_run(db)[0]
    assert run.best is not None and run.best.values == {"app.X": "1.1"}


def test_a_run_stored_without_its_scoring_still_resumes(tmp_path, llm_server):
    """A store written before the run's scoring was recorded: resumed with the settings as given."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(PROGRAM)
    (tmp_path / "judge.py").write_text(JUDGE)
    db = tmp_path / ".autotrace" / "autotrace.db"
    llm_server.script(suggestion(2.0))
    first = autotrace(tmp_path, llm_server.base_url, "--steps", "1", "--no-probe")
    assert first.wait(timeout=120) == 0, first.stderr.read()
    run = the_run(db)[0]
    run_id = run.id
    assert run.config.scoring == Scoring(holdout=0.0, tests=None, keyword=None, holdout_tests=None, repeats=1,
                                         noisy=False, failure_score=None)
    with sqlite3.connect(db) as conn:  # what a store written before the scoring was recorded holds
        conn.execute("update runs set config = json_remove(config, '$.scoring')")
    llm_server.script(suggestion(5.0))
    resumed = autotrace(tmp_path, llm_server.base_url, "--steps", "2", "--no-probe", "--resume", run_id)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert "resumed" in err and "as it was started" not in err and "+X = 5.0" in out


def test_the_pooled_best_is_chosen_as_the_loop_chose_it():
    from autotrace.engine import pooled_best
    from autotrace.evaluation import Evaluation, ExampleResult
    from autotrace.pool import Candidate

    def scored(score: float) -> Evaluation:
        return Evaluation((ExampleResult(score=score),))

    scores = {0: -8.0, 1: -9.0, 2: -7.8, 3: -7.8, 4: -7.8, 5: -5.0, 6: -5.0, 7: -6.0}
    origins = ["initial", "proposal", "probe", "probe", "proposal", "probe", "measured", "merge"]
    pool = [Candidate(i, {"app.X": str(i)}, (), i, {}, origin) for i, origin in enumerate(origins)]  # type: ignore[arg-type]
    evaluated = {i: scored(score) for i, score in scores.items()}
    assert pooled_best(pool[:2], evaluated).id == 0
    assert pooled_best(pool[:5], evaluated).id == 2  # a probe that ranks higher; equals after it do not replace it
    # a measured step's result (its search's tidier spelling of an equal point) replaces it; a worse merge does not
    assert pooled_best(pool, evaluated).id == 6
    assert pooled_best([], evaluated) is None
