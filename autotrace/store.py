"""Run history and LLM response cache in one SQLite file (``.autotrace/autotrace.db``).

Every step is committed the moment it is recorded, in WAL mode, so a run killed with ``kill -9``
keeps all finished steps and can be inspected or resumed; readers (``autotrace runs``, a second
terminal) never block the writer. Secrets are scrubbed before anything is written: values under
key-like names (``api_key``, ``authorization`` …) and bearer tokens inside text never reach disk.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from autotrace.llm.appcalls import AppUsageRecord
from autotrace.records import CandidateRecord, RecordError, RunConfig, RunRecord, RunSummary, StepRecord

#: 2 added ``candidates`` (the pool of :mod:`autotrace.pool`); 3 added ``app_usage`` (the program's own
#: model calls, :mod:`autotrace.llm.appcalls`). An older file gains the tables on open.
SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL,
    best_score REAL,
    config TEXT NOT NULL,
    best TEXT
);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL REFERENCES runs(id),
    step INTEGER NOT NULL,
    created REAL NOT NULL,
    status TEXT,
    score REAL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    seconds REAL,
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS candidates (
    run_id TEXT NOT NULL REFERENCES runs(id),
    id INTEGER NOT NULL,
    created REAL NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, id)
);
CREATE TABLE IF NOT EXISTS app_usage (
    run_id TEXT PRIMARY KEY REFERENCES runs(id),
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    created REAL NOT NULL,
    reply TEXT NOT NULL
);
"""

#: Dict keys whose values are credentials, whatever the nesting. Whole-name matches only, so dotted
#: parameter names such as ``app.settings.API_KEY`` (the optimizer's own values) are kept.
_SECRET_KEY = re.compile(
    r"(x[_-])?api[_-]?key|(proxy[_-])?authorization|(client[_-])?secret|password|passwd"
    r"|((access|auth|bearer|refresh)[_-])?token|bearer",
    re.IGNORECASE,
)
#: Credentials embedded in free text: bearer tokens and OpenAI-style keys. Only long token-like runs
#: match, so code that merely builds a header (``f"Bearer {token}"``) is stored unchanged.
_SECRET_TEXT = re.compile(r"((?i:bearer)\s+)[A-Za-z0-9._~+/=-]{16,}|\bsk-[A-Za-z0-9_-]{20,}")
REDACTED = "[redacted]"
_T = TypeVar("_T")


class StoreError(RuntimeError):
    """The run store cannot be used; the message is one line and names the file."""


def state_dir(root: Path) -> Path:
    """Where a project keeps autotrace's state: the run store, the response cache and each run's folder."""
    return root / ".autotrace"


def scrub(value: Any) -> Any:
    """A copy of ``value`` (JSON-able data) with credentials replaced by ``[redacted]``."""
    if isinstance(value, dict):
        return {k: REDACTED if _SECRET_KEY.fullmatch(str(k)) else scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return _SECRET_TEXT.sub(lambda m: f"{m.group(1)}{REDACTED}" if m.group(1) else REDACTED, value)
    return value


def _dumps(value: Any) -> str:
    return json.dumps(scrub(value), ensure_ascii=False, default=str)


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the database at ``path`` with the current schema.

    Autocommit mode makes each write its own transaction, which is what "committed immediately"
    needs; WAL lets readers run beside the writer; ``busy_timeout`` waits out short locks instead of
    failing with "database is locked".
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open the run store {path}: {_reason(exc)}") from None
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable against process crashes
        conn.execute("PRAGMA foreign_keys = ON")
        _migrate(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"cannot open the run store {path}: {_reason(exc)}") from None
    except StoreError:
        conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION` in one transaction (idempotent if two processes race)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path} has schema version {version}, newer than this autotrace's {SCHEMA_VERSION}")
    if version < SCHEMA_VERSION:
        try:
            conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA user_version = {SCHEMA_VERSION};COMMIT;")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _reason(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in text:
        text += " (is the directory writable?)"
    return " ".join(text.split())


class RunStore:
    """Optimization runs and their steps. One instance per thread of use is not needed: calls are locked."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn = connect(self.path)
        self._lock = threading.Lock()

    def create_run(self, run_id: str, config: RunConfig) -> None:
        """Start a run in status ``running``, started as ``config`` says."""
        self._write(
            "INSERT INTO runs (id, created, status, config) VALUES (?, ?, 'running', ?)",
            (run_id, time.time(), _dumps(config.to_json())),
            conflict=f"run {run_id!r} already exists",
        )

    def get_run(self, run_id: str) -> RunRecord | None:
        rows = self._runs("WHERE r.id = ?", (run_id,))
        return rows[0] if rows else None

    def list_runs(self) -> list[RunRecord]:
        """All runs, newest first, each with its config, best result and step count."""
        return self._runs("", ())

    def add_step(self, run_id: str, step: int, record: StepRecord) -> None:
        """Record one optimizer step; it is on disk when this returns.

        ``record`` is kept whole as JSON (:meth:`StepRecord.to_record`); the fields worth querying
        (status, score, token counts, seconds) are also columns.
        """
        self._write(
            "INSERT INTO steps (run_id, step, created, status, score, prompt_tokens, completion_tokens,"
            " seconds, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                step,
                time.time(),
                record.status,
                _number(record.score),
                record.prompt_tokens,
                record.completion_tokens,
                record.seconds,
                _dumps(record.to_record()),
            ),
            conflict=f"step {step} of run {run_id!r} is already recorded",
        )

    def steps(self, run_id: str) -> list[StepRecord]:
        """The run's step records in step order, with their ``step`` and ``created``."""
        rows = self._read("SELECT step, created, record FROM steps WHERE run_id = ? ORDER BY step", (run_id,))
        return [StepRecord.from_record(json.loads(r["record"]), r["step"], r["created"]) for r in rows]

    def add_candidate(self, run_id: str, record: CandidateRecord) -> None:
        """Record one evaluated candidate of the run's pool; it is on disk when this returns, so a killed
        run resumes with its whole pool. Recording it again replaces the record (a probe's values kept as
        a measured step's result)."""
        candidate_id = record.candidate.id
        self._write(
            "INSERT OR REPLACE INTO candidates (run_id, id, created, record) VALUES (?, ?, ?, ?)",
            (run_id, candidate_id, time.time(), _dumps(record.to_record())),
            conflict=f"candidate {candidate_id} of run {run_id!r} is already recorded",
        )

    def candidates(self, run_id: str) -> list[CandidateRecord]:
        """The run's pool in the order its candidates were evaluated."""
        rows = self._read("SELECT id, record FROM candidates WHERE run_id = ? ORDER BY id", (run_id,))
        return [self._typed(CandidateRecord.from_record, r["record"], f"candidate {r['id']} of run {run_id!r}")
                for r in rows]

    def set_app_usage(self, run_id: str, record: AppUsageRecord) -> None:
        """Record what the program's own model calls of the run cost (replacing what was recorded: a
        resumed run stores its sum)."""
        self._write("INSERT OR REPLACE INTO app_usage (run_id, record) VALUES (?, ?)",
                    (run_id, json.dumps(record.to_json())), conflict=f"app usage of run {run_id!r}")

    def app_usage(self, run_id: str) -> AppUsageRecord | None:
        """The program's model calls of the run; None when it made none through autotrace's proxy."""
        rows = self._read("SELECT record FROM app_usage WHERE run_id = ?", (run_id,))
        return AppUsageRecord.from_json(json.loads(rows[0]["record"])) if rows else None

    def finish_run(self, run_id: str, status: str, summary: RunSummary) -> None:
        """Close the run with a final ``status`` and how it ended (its best score is also a column)."""
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE runs SET status = ?, finished = ?, best_score = ?, best = ? WHERE id = ?",
                (status, time.time(), _number(summary.score), _dumps(summary.to_json()), run_id),
            )
        if cursor.rowcount == 0:
            raise StoreError(f"no run {run_id!r} in {self.path}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _runs(self, where: str, args: tuple) -> list[RunRecord]:
        query = (
            "SELECT r.*, (SELECT COUNT(*) FROM steps s WHERE s.run_id = r.id) AS steps"
            f" FROM runs r {where} ORDER BY r.created DESC, r.rowid DESC"
        )
        return [
            RunRecord(id=r["id"], created=r["created"], finished=r["finished"], status=r["status"],
                      best_score=r["best_score"], steps=r["steps"],
                      config=self._typed(RunConfig.from_json, r["config"], f"the config of run {r['id']!r}"),
                      best=self._typed(RunSummary.from_json, r["best"], f"the summary of run {r['id']!r}")
                      if r["best"] else None)
            for r in self._read(query, args)
        ]

    def _typed(self, read: Callable[[Any, str], _T], text: str, what: str) -> _T:
        """``text`` (a column's JSON) read by ``read``; a record this autotrace cannot read is a
        :class:`StoreError` naming the file."""
        try:
            return read(json.loads(text), what)
        except json.JSONDecodeError:
            raise StoreError(f"{self.path}: {what} is not JSON") from None
        except RecordError as exc:
            raise StoreError(f"{self.path}: {exc}") from None

    def _read(self, sql: str, args: tuple) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def _write(self, sql: str, args: tuple, *, conflict: str) -> None:
        try:
            with self._lock:
                self._conn.execute(sql, args)
        except sqlite3.IntegrityError as exc:
            problem = f"no run {args[0]!r}" if "FOREIGN KEY" in str(exc) else conflict
            raise StoreError(f"{problem} in {self.path}") from None
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to the run store {self.path}: {_reason(exc)}") from None


class ResponseCache:
    """LLM replies by request hash, in the run store's file; lets a rerun skip identical calls."""

    def __init__(self, store_path: Path) -> None:
        self.path = Path(store_path)
        self._conn = connect(self.path)
        self._lock = threading.Lock()

    def get(self, key: str) -> dict | None:
        with self._lock:
            row = self._conn.execute("SELECT reply FROM responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row["reply"]) if row else None

    def put(self, key: str, reply: dict) -> None:
        try:
            with self._lock:
                self._conn.execute(
                    "INSERT OR REPLACE INTO responses (key, created, reply) VALUES (?, ?, ?)",
                    (key, time.time(), _dumps(reply)),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to the response cache {self.path}: {_reason(exc)}") from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _number(value: Any) -> float | None:
    """Scores are numbers or absent; anything else (e.g. a failed evaluation's text) is not indexed."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
