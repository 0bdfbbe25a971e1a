"""Run store and response cache: durability, concurrency, errors, secrets."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest

from autotrace.evaluation import Evaluation, ExampleResult
from autotrace.llm.timings import UNREPORTED
from autotrace.pool import Candidate
from autotrace.records import (
    RECORD_VERSION,
    CandidateRecord,
    MergeNote,
    OtherAnswer,
    RunConfig,
    RunRecord,
    RunSubject,
    RunSummary,
    Scoring,
    StepRecord,
)
from autotrace.store import SCHEMA_VERSION, ResponseCache, RunStore, StoreError

SECRET = "hunter2-not-an-sk-style-key"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / ".autotrace" / "autotrace.db"


def step_record(i: int, prompt: str | None = None) -> StepRecord:
    return StepRecord(
        values={"app.rates.BASE_FEE": str(i)},
        evaluation=Evaluation((ExampleResult(score=i / 10, message=f"step {i} feedback"),)),
        candidate={"app.rates.BASE_FEE": str(i + 1)},
        prompt=({"role": "user", "content": prompt or f"improve {i}"},),
        response='{"BASE_FEE": "1"}',
        prompt_tokens=100 + i,
        completion_tokens=10 + i,
        seconds=0.5,
        rejected={},
    )


def test_run_lifecycle(db: Path) -> None:
    with RunStore(db) as store:
        config = RunConfig(RunSubject(target="app", entry="main", selectors=("app.py::f",)), steps=3,
                           optimizer="optoprime", model="m", params=("app.rates.BASE_FEE",), root="/p", candidates=2,
                           scoring=Scoring(holdout=0.25))
        store.create_run("r1", config)
        store.create_run("r2", RunConfig(RunSubject(target="app")))
        for i in range(3):
            store.add_step("r1", i, step_record(i))
        summary = RunSummary(score=0.2, describe="0.2", values={"app.rates.BASE_FEE": "2"}, evaluations=4,
                             stopped="budget")
        store.finish_run("r1", "done", summary)

        run = store.get_run("r1")
        assert run.status == "done" and run.best_score == 0.2 and run.steps == 3
        assert (run.config, run.best, run.best_describe) == (config, summary, "0.2")
        assert store.get_run("r2").best is None
        assert [(r.id, r.steps) for r in store.list_runs()] == [("r2", 0), ("r1", 3)]
        assert store.get_run("missing") is None

        steps = store.steps("r1")
        assert [s.step for s in steps] == [0, 1, 2]
        assert steps[1] == replace(step_record(1), step=1, created=steps[1].created)

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT score, prompt_tokens FROM steps WHERE step = 2").fetchone() == (0.2, 102)


def test_bad_writes_raise_store_error(db: Path) -> None:
    with RunStore(db) as store:
        store.create_run("r", RunConfig())
        store.add_step("r", 0, step_record(0))
        with pytest.raises(StoreError, match="already recorded"):
            store.add_step("r", 0, step_record(0))
        with pytest.raises(StoreError, match="no run 'ghost'"):
            store.add_step("ghost", 0, step_record(0))
        with pytest.raises(StoreError, match="already exists"):
            store.create_run("r", RunConfig())
        with pytest.raises(StoreError, match="no run 'ghost'"):
            store.finish_run("ghost", "done", RunSummary())


def test_newer_schema_is_refused(db: Path) -> None:
    RunStore(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer"):
        RunStore(db)


WRITER = """
import os, signal, sys, time
from autotrace.evaluation import Evaluation, ExampleResult
from autotrace.records import RunConfig, RunSubject, StepRecord
from autotrace.store import RunStore
store = RunStore(sys.argv[1])
store.create_run("killed", RunConfig(RunSubject(target="app")))
for i in range(int(sys.argv[2])):
    store.add_step("killed", i, StepRecord({}, Evaluation((ExampleResult(score=i),))))
    if sys.argv[3] == "pace":
        time.sleep(0.01)
if sys.argv[3] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_steps_survive_kill_9(db: Path) -> None:
    result = subprocess.run([sys.executable, "-c", WRITER, str(db), "25", "kill"], capture_output=True, timeout=60)
    assert result.returncode == -9, result.stderr.decode()

    with RunStore(db) as store:
        assert [s.step for s in store.steps("killed")] == list(range(25))
        assert store.get_run("killed").status == "running"
        store.add_step("killed", 25, StepRecord({}, Evaluation(())))  # a killed run's store stays writable


def test_reader_runs_beside_a_writer_process(db: Path) -> None:
    RunStore(db).close()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), "40", "pace"], stderr=subprocess.PIPE)
    seen: list[int] = []
    with RunStore(db) as reader:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            seen.append(len(reader.steps("killed")) if reader.get_run("killed") else 0)
            if seen[-1] == 40:
                break
            time.sleep(0.005)
    assert writer.wait(timeout=30) == 0, writer.stderr.read().decode()
    assert seen[-1] == 40 and seen == sorted(seen)
    assert any(0 < n < 40 for n in seen), "the reader never saw a run in progress"


UNPRIVILEGED_OPEN = """
import os, sys
from autotrace.store import RunStore, StoreError
if os.geteuid() == 0:  # root may write anywhere: become nobody once Python and autotrace are loaded
    os.setgid(65534)
    os.setuid(65534)
try:
    RunStore(sys.argv[1])
except StoreError as exc:
    print(f"StoreError: {exc}")
"""


def test_unwritable_directory_is_a_one_line_store_error() -> None:
    with tempfile.TemporaryDirectory() as folder:  # in /tmp, so an unprivileged user may look inside
        os.chmod(folder, 0o555)
        db = Path(folder) / ".autotrace" / "autotrace.db"
        result = subprocess.run(
            [sys.executable, "-c", UNPRIVILEGED_OPEN, str(db)], capture_output=True, text=True, timeout=60
        )
        os.chmod(folder, 0o755)
    assert result.returncode == 0, result.stderr
    message = result.stdout.strip()
    assert message.startswith("StoreError: cannot open the run store") and "\n" not in message
    assert str(db) in message and "ermission denied" in message


def test_path_under_a_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot open the run store"):
        RunStore(tmp_path / "file" / "autotrace.db")


def test_secrets_never_reach_the_database(db: Path) -> None:
    store = RunStore(db)
    cache = ResponseCache(db)
    store.create_run("r", RunConfig(RunSubject(entry=f"Bearer {SECRET}"), model="m"))
    record = step_record(0, prompt=f"curl -H 'Authorization: Bearer {SECRET}'")
    record.values["app.settings.API_KEY"] = "'kept: a parameter value'"
    code = 'def headers(token):\n    return {"Authorization": f"Bearer {token}"}'
    record.candidate["app.client.headers"] = code
    store.add_step("r", 0, record)
    store.finish_run("r", "done", RunSummary(score=1, describe=f"sk-{SECRET}"))
    cache.put("k", {"text": "ok", "data": {"api_key": SECRET}, "prompt_tokens": 1, "completion_tokens": 1})

    assert store.get_run("r").config.subject.entry == "Bearer [redacted]"
    stored = store.steps("r")[0]
    assert stored.values["app.settings.API_KEY"] == "'kept: a parameter value'"
    assert stored.candidate["app.client.headers"] == code
    assert stored.prompt[0]["content"] == "curl -H 'Authorization: Bearer [redacted]'"
    assert cache.get("k")["data"] == {"api_key": "[redacted]"}
    for file in db.parent.iterdir():  # the main file and the WAL, before any checkpoint
        assert SECRET.encode() not in file.read_bytes(), file.name
    store.close()
    cache.close()


def test_response_cache_shares_the_file(db: Path) -> None:
    with RunStore(db) as store:
        store.create_run("r", RunConfig())
    cache = ResponseCache(db)
    assert cache.get("k") is None
    cache.put("k", {"text": "{}", "data": {}, "prompt_tokens": 3, "completion_tokens": 1})
    cache.put("k", {"text": "{}", "data": {"v": 1}, "prompt_tokens": 3, "completion_tokens": 1})
    cache.close()
    assert ResponseCache(db).get("k")["data"] == {"v": 1}
    assert RunStore(db).get_run("r") is not None


#: A step as the autotrace before :class:`StepRecord` wrote it (step 1 of a real ``--candidates 2`` run of
#: examples/fit_constants, made with commit 469646d; its prompt and graph shortened).
STEP_BEFORE_RECORDS = {
    "values": {"main.MARKUP": "1.2", "pricing.PRICE_PER_PAGE": "0.1", "pricing.SETUP_FEE": "1.0"},
    "score": -4.8, "describe": "-4.8", "feedback": "output 25.2 is 4.8 too low",
    "examples": [{"score": -4.8, "failed": False, "message": "output 25.2 is 4.8 too low", "example": None,
                  "output": "25.2", "graph": None, "held_out": False}],
    "problem": None, "holdout": [], "candidate": {"pricing.PRICE_PER_PAGE": "0.1"}, "rejected": {},
    "reasoning": "raise the price", "prompt": [{"role": "user", "content": "#Instruction\nChange the variables"}],
    "response": '{"reasoning": "raise the price", "suggestion": {"pricing.PRICE_PER_PAGE": 0.1}}',
    "prompt_tokens": 1788, "completion_tokens": 64, "cached": False, "seconds": 4.45,
    "note": "2 proposed, 2 new, best -4.8; front 1", "sensitivity": "- main.MARKUP: raising it by 10% ...",
    "runs": 5, "evaluated": [-15.48, -15.6, -16.68, -8.0, -4.8], "status": "ok", "parent": [0], "front": [5],
    "other_answers": [{"response": '{"suggestion": {"main.MARKUP": 2.0}}', "error": None,
                       "candidate": {"main.MARKUP": "2.0"}}],
    "merge": None,
}
#: The first stored layout (commit efc4f30): no holdout, program runs, pool or other answers yet.
STEP_FIRST_LAYOUT = {
    "values": {"main.MARKUP": "1.2"}, "score": None, "describe": "failed", "feedback": "SyntaxError",
    "examples": [], "problem": "SyntaxError", "candidate": {}, "rejected": {"main.MARKUP": "not a number"},
    "reasoning": "", "prompt": [], "response": "", "prompt_tokens": 0, "completion_tokens": 0, "cached": False,
    "seconds": 0.1, "note": "", "status": "failed",
}


def test_a_store_written_before_the_typed_records_opens_and_reads_back_unchanged(db: Path) -> None:
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:  # schema version 1: no candidates table
        conn.executescript(
            "CREATE TABLE runs (id TEXT PRIMARY KEY, created REAL NOT NULL, finished REAL, status TEXT NOT NULL,"
            " best_score REAL, config TEXT NOT NULL, best TEXT);"
            "CREATE TABLE steps (run_id TEXT NOT NULL REFERENCES runs(id), step INTEGER NOT NULL, created REAL NOT NULL,"
            " status TEXT, score REAL, prompt_tokens INTEGER, completion_tokens INTEGER, seconds REAL,"
            " record TEXT NOT NULL, PRIMARY KEY (run_id, step));"
            "CREATE TABLE responses (key TEXT PRIMARY KEY, created REAL NOT NULL, reply TEXT NOT NULL);"
            "PRAGMA user_version = 1;")
        conn.execute("INSERT INTO runs VALUES ('old', 1.0, 2.0, 'done', -4.8, '{\"target\": \"main.py\"}',"
                     " '{\"describe\": \"-4.8\"}')")
        for step, record in enumerate((STEP_FIRST_LAYOUT, STEP_BEFORE_RECORDS)):
            conn.execute("INSERT INTO steps (run_id, step, created, record) VALUES ('old', ?, 3.0, ?)",
                         (step, json.dumps(record)))
    with RunStore(db) as store:
        run = store.get_run("old")
        assert (run.status, run.steps, run.best_describe, run.config.subject.target) == ("done", 2, "-4.8", "main.py")
        assert (run.config.scoring, run.config.candidates, run.best.values) == (None, 1, {})
        first, second = store.steps("old")
        # the JSON layout is the one written before, plus the server's timings, unreported in an old store
        assert second.to_record() == {**STEP_BEFORE_RECORDS, "timings": UNREPORTED.to_json()}
        assert (second.step, second.score, second.runs, second.parent, second.other_answers[0].candidate) == (
            1, -4.8, 5, (0,), {"main.MARKUP": "2.0"})
        assert (first.status, first.feedback, first.runs, first.parent, first.rejected) == (
            "failed", "SyntaxError", None, (), {"main.MARKUP": "not a number"})
        row = CandidateRecord(Candidate(0, {"main.MARKUP": "1.2"}, (), 0, {"a": 0.5}, "initial", (0.5, 0.0)),
                              first.evaluation)
        store.add_candidate("old", row)  # the table version 2 added
        assert store.candidates("old") == [row]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.parametrize("column", ["config", "best", "candidate"])
def test_a_record_written_by_a_newer_autotrace_is_refused_with_one_line(db: Path, column: str) -> None:
    with RunStore(db) as store:
        store.create_run("r", RunConfig(RunSubject(target="app.py")))
        store.finish_run("r", "done", RunSummary(score=1.0))
        store.add_candidate("r", CandidateRecord(Candidate(0, {}, (), 0, {}, "initial"), Evaluation(())))
    newer = RECORD_VERSION + 1
    with sqlite3.connect(db) as conn:
        if column == "candidate":
            conn.execute("UPDATE candidates SET record = json_set(record, '$.version', ?)", (newer,))
        else:
            conn.execute(f"UPDATE runs SET {column} = json_set({column}, '$.version', ?)", (newer,))
    with RunStore(db) as store, pytest.raises(StoreError) as raised:
        store.candidates("r") if column == "candidate" else store.get_run("r")
    message = str(raised.value)
    assert "\n" not in message and str(db) in message and f"record version {newer}" in message
    assert "newer autotrace" in message


def test_run_config_summary_and_candidate_rows_read_back_equal_through_their_json() -> None:
    config = RunConfig(RunSubject("app.py", "judge.py", "main", ("a.py::f",)), 4, "opro", "m", ("app.X",), "/p", 3,
                       Scoring(tests="/p/tests", repeats=5, noisy=True))
    summary = RunSummary(-1.5, "-1.5", 0.5, {"app.X": "2"}, True, 9, "budget", "no gain")
    row = CandidateRecord(Candidate(3, {"app.X": "2"}, (0, 1), 2, {"a": 1.0, "b": None}, "merge", (0.5, -1.0)),
                          Evaluation((ExampleResult(score=1.0, example="a"), ExampleResult(failed=True, example="b"))))
    assert RunConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    assert RunSummary.from_json(json.loads(json.dumps(summary.to_json()))) == summary
    assert CandidateRecord.from_record(json.loads(json.dumps(row.to_record()))) == row


def test_a_step_record_reads_back_equal_through_its_json() -> None:
    evaluation = Evaluation((ExampleResult(score=0.5, message="m", example="'a'", output="b"),), None,
                            (ExampleResult(score=1.0, held_out=True),))
    record = StepRecord({"app.X": "2"}, evaluation, candidate={"app.X": "2"}, rejected={"app.Y": "not a number"},
                        reasoning="r", prompt=[{"role": "user", "content": "q"}], response="a", prompt_tokens=3,
                        completion_tokens=1, cached=True, seconds=0.25, note="n", sensitivity="s",
                        evaluated=[0.5, None], parent=[1], front=[1, 2],
                        other_answers=[OtherAnswer("b", "bad", {"app.X": "3"})], merge=MergeNote("merged", "c"),
                        step=4, created=5.0)
    assert StepRecord.from_record(json.loads(json.dumps(record.to_record())), 4, 5.0) == record
    assert (record.runs, record.status, record.describe) == (2, "ok", "0.5, val 1")


def test_a_runs_scoring_reads_back_and_a_run_stored_before_it_has_none() -> None:
    scoring = Scoring(holdout=0.25, tests="/p/tests", keyword="fast", holdout_tests="slow", seed=5)
    assert Scoring.from_json(json.loads(json.dumps(scoring.to_json()))) == scoring
    run = RunRecord("r", 0.0, None, "done", None, 1, RunConfig.from_json({"scoring": scoring.to_json()}), None)
    assert run.scoring == scoring
    assert RunConfig.from_json({"target": "app.py"}).scoring is None  # an older store's run


def test_a_resume_keeps_the_stored_scoring_and_refuses_another_typed_value() -> None:
    stored = Scoring(tests="/p/tests", holdout_tests="slow")
    defaults = Scoring(tests="/p/tests")
    assert stored.resumed(defaults, set(), "r") is stored  # not given again: the stored one
    assert stored.restored(defaults) == ["--holdout-tests 'slow'"]
    assert stored.resumed(Scoring(tests="/p/tests", holdout_tests="slow"), {"holdout_tests"}, "r") is stored
    with pytest.raises(ValueError, match=r"^run r was started with --holdout-tests 'slow', not no --holdout-tests"):
        stored.resumed(defaults, {"holdout_tests"}, "r")
    with pytest.raises(ValueError, match=r"^run r was started with no -k, not -k 'x'"):
        stored.resumed(Scoring(tests="/p/tests", keyword="x"), {"keyword"}, "r")
    with pytest.raises(ValueError, match=r"^run r optimized the tests in /p/tests, not the tests in /q"):
        stored.resumed(Scoring(tests="/q"), set(), "r")
    with pytest.raises(ValueError, match=r"^run r was started with --holdout 0\.2, not --holdout 0\.3"):
        Scoring(holdout=0.2).resumed(Scoring(holdout=0.3), {"holdout"}, "r")
