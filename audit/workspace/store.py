"""The workspace's SQLite state: one file, schema versioned by recorded migrations.

Every write for one unit of work (a day's sample, a call's transcript, a call's
flags) happens in one transaction, and uses upserts keyed on natural ids, so a
rerun updates rows instead of adding them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd

from audit.errors import AuditError, LockError

# Each entry moves the schema one version up. Never edit a released entry: append.
MIGRATIONS: list[str] = [
    # 1: runs, calls, samples, per-call stage status, problems
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        day TEXT NOT NULL,
        command TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL DEFAULT 'started',
        summary TEXT
    );
    CREATE TABLE calls (
        call_id TEXT PRIMARY KEY,
        day TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        agent_name TEXT,
        team TEXT,
        start TEXT NOT NULL,
        duration REAL NOT NULL,
        audio_path TEXT NOT NULL,
        caller TEXT,
        topic_hint TEXT,
        direction TEXT,
        is_new INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX calls_day ON calls(day, agent_id);
    CREATE TABLE samples (
        day TEXT NOT NULL,
        call_id TEXT NOT NULL REFERENCES calls(call_id),
        band TEXT,
        reason TEXT NOT NULL,
        PRIMARY KEY (day, call_id)
    );
    CREATE TABLE stage_status (
        call_id TEXT NOT NULL,
        stage TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (call_id, stage)
    );
    CREATE TABLE problems (
        day TEXT NOT NULL,
        stage TEXT NOT NULL,
        item TEXT NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (day, stage, item)
    );
    """,
    # 2: transcripts cached by content, flags, scores, reviews
    """
    CREATE TABLE transcripts (
        cache_key TEXT PRIMARY KEY,
        audio_sha256 TEXT NOT NULL,
        engine TEXT NOT NULL,
        model TEXT NOT NULL,
        options TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE call_transcripts (
        call_id TEXT PRIMARY KEY,
        cache_key TEXT NOT NULL REFERENCES transcripts(cache_key)
    );
    CREATE TABLE flags (
        flag_key TEXT PRIMARY KEY,
        call_id TEXT NOT NULL,
        category TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        severity TEXT NOT NULL,
        points REAL NOT NULL,
        speaker TEXT,
        start REAL,
        end REAL,
        evidence TEXT,
        rulepack TEXT
    );
    CREATE INDEX flags_call ON flags(call_id);
    CREATE TABLE call_scores (
        call_id TEXT PRIMARY KEY,
        topic TEXT,
        total REAL,
        dimensions TEXT NOT NULL,
        measures TEXT NOT NULL,
        rulepack TEXT
    );
    CREATE TABLE reviews (
        flag_key TEXT PRIMARY KEY,
        decision TEXT,
        followup TEXT,
        note TEXT,
        reviewed_at TEXT NOT NULL
    );
    """,
    # 3: how sure each flag is; review-only flags cost no points until a reviewer confirms them
    """
    ALTER TABLE flags ADD COLUMN confidence REAL NOT NULL DEFAULT 1.0;
    ALTER TABLE flags ADD COLUMN review_only INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: a flag is an episode of close hits of one rule (audit/detect/episodes.py)
    """
    ALTER TABLE flags ADD COLUMN hits INTEGER NOT NULL DEFAULT 1;
    """,
    # 5: review and appeal states with their history (audit/workspace/review_states.py)
    """
    ALTER TABLE reviews ADD COLUMN state TEXT NOT NULL DEFAULT 'pending';
    UPDATE reviews SET state = CASE decision WHEN 'confirm' THEN 'confirmed' WHEN 'dismiss' THEN 'dismissed'
                                              WHEN 'case' THEN 'case' ELSE 'pending' END;
    CREATE TABLE review_events (
        id INTEGER PRIMARY KEY,
        flag_key TEXT NOT NULL,
        action TEXT NOT NULL,
        state TEXT NOT NULL,
        by TEXT NOT NULL,
        reason TEXT,
        at TEXT NOT NULL
    );
    CREATE INDEX review_events_flag ON review_events(flag_key, id);
    INSERT INTO review_events (flag_key, action, state, by, reason, at)
        SELECT flag_key, decision, state, '(before review history)', NULL, reviewed_at FROM reviews WHERE decision IS NOT NULL;
    """,
    # 6: acoustic measures as their own stage's output: rules run on them without the audio
    """
    CREATE TABLE call_measures (
        call_id TEXT PRIMARY KEY,
        made_from TEXT NOT NULL,
        body TEXT NOT NULL
    );
    """,
    # 7: which rules applied to a call (score forms leave the others' items out: N/A)
    """
    ALTER TABLE call_scores ADD COLUMN applicable TEXT;
    """,
    # 8: people and roles (audit/workspace/accounts.py): accounts with argon2 password hashes,
    # sign-in sessions (only a hash of the cookie's token is kept), failed sign-ins per name and
    # address (throttling), and each review event's account and its role at the time
    """
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        agent_id TEXT,
        team TEXT,
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        changed_at TEXT NOT NULL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        created REAL NOT NULL,
        last_seen REAL NOT NULL,
        expires REAL NOT NULL
    );
    CREATE INDEX sessions_account ON sessions(account_id);
    CREATE TABLE signin_failures (
        name TEXT NOT NULL,
        address TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX signin_failures_key ON signin_failures(name, address, at);
    ALTER TABLE review_events ADD COLUMN account_id INTEGER REFERENCES accounts(id);
    ALTER TABLE review_events ADD COLUMN role TEXT;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def plain(value):
    """A value read from a DataFrame as plain Python: numpy scalars unwrapped, NaN/None -> None (JSON, templates)."""
    value = value.item() if hasattr(value, "item") else value
    return None if value is None or (isinstance(value, float) and value != value) else value


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


class Store:
    """Thin wrapper over one SQLite file. Use `with store.tx():` around a unit of work."""

    def __init__(self, path: Path, read_only: bool = False):
        """read_only: look, never write (a dry run): no migration, no journal files, no locks
        taken, so every file of the workspace stays byte for byte as it was."""
        self.path = Path(path)
        self._depth = 0  # open transactions (nested ones are savepoints)
        if read_only:
            if not self.path.exists():
                raise AuditError(f"no workspace database at {self.path}")
            # immutable: no lock or -shm file is made; but a write-ahead log still holding commits
            # (another process has the workspace open) must be read, so then plain read-only
            live = Path(f"{self.path}-wal").exists()
            uri = f"{self.path.resolve().as_uri()}?mode=ro" + ("" if live else "&immutable=1")
            self.db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            if self.version != SCHEMA_VERSION:
                raise AuditError(f"{self.path} is at schema {self.version}, this callaudit reads {SCHEMA_VERSION}: run a command that writes first")
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.migrate()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        current = self.version
        if current > SCHEMA_VERSION:
            raise AuditError(
                f"{self.path} has schema version {current}, newer than this callaudit ({SCHEMA_VERSION}); upgrade callaudit"
            )
        for version in range(current, SCHEMA_VERSION):
            with self.tx():
                for stmt in MIGRATIONS[version].split(";"):
                    if stmt.strip():
                        self.db.execute(stmt)
                self.db.execute(f"PRAGMA user_version = {version + 1}")

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction; rolled back on any exception. Inside another one it is a savepoint:
        it undoes only its own work (one refused review in a workbook import, not the others)."""
        depth = self._depth
        self.db.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT sp{depth}")
        self._depth += 1
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK" if depth == 0 else f"ROLLBACK TO sp{depth}")
            if depth:
                self.db.execute(f"RELEASE sp{depth}")
            raise
        else:
            self.db.execute("COMMIT" if depth == 0 else f"RELEASE sp{depth}")
        finally:
            self._depth = depth

    # ---- calls and samples -------------------------------------------------

    def upsert_calls(self, calls: pd.DataFrame) -> None:
        rows = [
            (
                r.call_id, str(r.day), r.agent_id, r.agent_name, r.team, str(r.start), float(r.duration),
                r.audio_path, r.caller, r.topic, r.direction, int(bool(r.is_new)),
            )
            for r in calls.itertuples(index=False)
        ]
        self.db.executemany(
            """INSERT INTO calls (call_id, day, agent_id, agent_name, team, start, duration, audio_path,
                   caller, topic_hint, direction, is_new) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
               ON CONFLICT(call_id) DO UPDATE SET day=excluded.day, agent_id=excluded.agent_id,
                   agent_name=excluded.agent_name, team=excluded.team, start=excluded.start,
                   duration=excluded.duration, audio_path=excluded.audio_path, caller=excluded.caller,
                   topic_hint=excluded.topic_hint, direction=excluded.direction, is_new=excluded.is_new""",
            rows,
        )

    def replace_sample(self, day: str, sampled: pd.DataFrame) -> None:
        """The day's sample is replaced as a whole (same seed -> same rows)."""
        self.db.execute("DELETE FROM samples WHERE day = ?", (day,))
        self.db.executemany(
            "INSERT INTO samples (day, call_id, band, reason) VALUES (?,?,?,?)",
            [(day, r.call_id, r.band, r.reason) for r in sampled.itertuples(index=False)],
        )

    def record_problem(self, day: str, stage: str, item: str, message: str) -> None:
        self.db.execute(
            """INSERT INTO problems (day, stage, item, message) VALUES (?,?,?,?)
               ON CONFLICT(day, stage, item) DO UPDATE SET message=excluded.message""",
            (day, stage, item, message),
        )

    def clear_problems(self, day: str, stage: str) -> None:
        self.db.execute("DELETE FROM problems WHERE day = ? AND stage = ?", (day, stage))

    def problems(self, day: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT stage, item, message FROM problems WHERE day = ? ORDER BY stage, item", (day,)
        ).fetchall()

    def sampled_calls(self, day: str) -> pd.DataFrame:
        return pd.read_sql_query(
            """SELECT c.*, s.band, s.reason FROM samples s JOIN calls c USING (call_id)
               WHERE s.day = ? ORDER BY c.agent_id, c.start, c.call_id""",
            self.db,
            params=(day,),
        )

    # ---- per-call stage status ---------------------------------------------

    def set_status(self, call_id: str, stage: str, status: str, error: str | None = None) -> None:
        self.db.execute(
            """INSERT INTO stage_status (call_id, stage, status, error, updated_at) VALUES (?,?,?,?,?)
               ON CONFLICT(call_id, stage) DO UPDATE SET status=excluded.status, error=excluded.error,
                   updated_at=excluded.updated_at""",
            (call_id, stage, status, error, now()),
        )

    def status(self, call_id: str, stage: str) -> str | None:
        row = self.db.execute(
            "SELECT status FROM stage_status WHERE call_id = ? AND stage = ?", (call_id, stage)
        ).fetchone()
        return row[0] if row else None

    # ---- transcripts (cached by audio content + model + options) -----------

    def has_transcript(self, cache_key: str) -> bool:
        return self.db.execute("SELECT 1 FROM transcripts WHERE cache_key = ?", (cache_key,)).fetchone() is not None

    def put_transcript(self, cache_key: str, body: dict) -> None:
        self.db.execute(
            """INSERT INTO transcripts (cache_key, audio_sha256, engine, model, options, body, created_at)
               VALUES (?,?,?,?,?,?,?) ON CONFLICT(cache_key) DO UPDATE SET body=excluded.body,
               created_at=excluded.created_at""",
            (
                cache_key, body["audio_sha256"], body["engine"], body["model"],
                json.dumps(body["options"], sort_keys=True), json.dumps(body, ensure_ascii=False), now(),
            ),
        )

    def link_transcript(self, call_id: str, cache_key: str) -> None:
        self.db.execute(
            """INSERT INTO call_transcripts (call_id, cache_key) VALUES (?,?)
               ON CONFLICT(call_id) DO UPDATE SET cache_key=excluded.cache_key""",
            (call_id, cache_key),
        )

    def transcript_body_by_key(self, cache_key: str) -> dict | None:
        row = self.db.execute("SELECT body FROM transcripts WHERE cache_key = ?", (cache_key,)).fetchone()
        return json.loads(row[0]) if row else None

    def transcript_body(self, call_id: str) -> dict | None:
        row = self.db.execute(
            "SELECT t.body FROM call_transcripts c JOIN transcripts t USING (cache_key) WHERE c.call_id = ?",
            (call_id,),
        ).fetchone()
        return json.loads(row[0]) if row else None

    # ---- measures ------------------------------------------------------------

    def transcript_key(self, call_id: str) -> str | None:
        row = self.db.execute("SELECT cache_key FROM call_transcripts WHERE call_id = ?", (call_id,)).fetchone()
        return row[0] if row else None

    def put_measures(self, call_id: str, made_from: str, body: dict) -> None:
        """A call's acoustic measures; `made_from` names the transcript and measuring version behind them."""
        self.db.execute(
            """INSERT INTO call_measures (call_id, made_from, body) VALUES (?,?,?)
               ON CONFLICT(call_id) DO UPDATE SET made_from=excluded.made_from, body=excluded.body""",
            (call_id, made_from, json.dumps(body, ensure_ascii=False)),
        )

    def measures_made_from(self, call_id: str) -> str | None:
        row = self.db.execute("SELECT made_from FROM call_measures WHERE call_id = ?", (call_id,)).fetchone()
        return row[0] if row else None

    def measures_body(self, call_id: str) -> dict | None:
        row = self.db.execute("SELECT body FROM call_measures WHERE call_id = ?", (call_id,)).fetchone()
        return json.loads(row[0]) if row else None

    # ---- scores and flags ------------------------------------------------

    def put_score(self, score, measures) -> None:
        """Replace a call's flags and score (reviews are kept: they hang on flag_key)."""
        self.db.execute("DELETE FROM flags WHERE call_id = ?", (score.call_id,))
        self.db.executemany(
            """INSERT INTO flags (flag_key, call_id, category, rule_id, severity, points, speaker, start, end,
                   evidence, rulepack, confidence, review_only, hits) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)
               ON CONFLICT(flag_key) DO UPDATE SET evidence=excluded.evidence, end=excluded.end,
                   confidence=excluded.confidence, review_only=excluded.review_only, hits=excluded.hits""",
            [
                (f.key, f.call_id, f.category, f.rule_id, f.severity, f.points, f.speaker, f.start, f.end,
                 f.evidence, score.rulepack, f.confidence, int(f.review_only), f.hits)
                for f in score.flags
            ],
        )
        measures_d = measures.to_dict()
        measures_d.pop("activity", None)  # large; recomputable from the audio
        self.db.execute(
            """INSERT INTO call_scores (call_id, topic, total, dimensions, measures, rulepack, applicable) VALUES (?,?,?,?,?,?,?)
               ON CONFLICT(call_id) DO UPDATE SET topic=excluded.topic, total=excluded.total,
                   dimensions=excluded.dimensions, measures=excluded.measures, rulepack=excluded.rulepack,
                   applicable=excluded.applicable""",
            (
                score.call_id, score.topic, score.total, json.dumps(score.dimensions, ensure_ascii=False),
                json.dumps({**measures_d, "long_call": score.long_call}, ensure_ascii=False), score.rulepack,
                json.dumps(list(score.applicable)),
            ),
        )

    def score_rulepack(self, call_id: str) -> str | None:
        row = self.db.execute("SELECT rulepack FROM call_scores WHERE call_id = ?", (call_id,)).fetchone()
        return row[0] if row else None

    def flags_for(self, call_ids: list[str]) -> list[dict]:
        if not call_ids:
            return []
        marks = ",".join("?" * len(call_ids))
        rows = self.db.execute(
            f"SELECT * FROM flags WHERE call_id IN ({marks}) ORDER BY call_id, start", call_ids  # noqa: S608
        ).fetchall()
        return [dict(r) for r in rows]

    def scored_calls(self, first: str, last: str, team: str | None = None) -> pd.DataFrame:
        """Sampled and scored calls of the days first..last (ISO dates), with their sample band and
        stored machine score (dimensions and measures as JSON text)."""
        q = """SELECT c.call_id, c.day, c.agent_id, c.agent_name, c.team, c.start, c.duration, c.caller, c.audio_path,
                      s.band, s.reason, cs.topic, cs.total, cs.dimensions, cs.measures, cs.applicable
               FROM samples s JOIN calls c USING (call_id) JOIN call_scores cs USING (call_id)
               WHERE s.day BETWEEN ? AND ?""" + (" AND c.team = ?" if team else "")
        return pd.read_sql_query(q, self.db, params=[first, last] + ([team] if team else []))

    def call_scores(self, call_ids: list[str]) -> pd.DataFrame:
        """The stored machine scores of these calls (those scored; in no particular order)."""
        marks = ",".join("?" * len(call_ids))
        return pd.read_sql_query(
            f"""SELECT cs.call_id, cs.topic, cs.total, cs.dimensions, cs.measures, cs.applicable, c.team
                FROM call_scores cs LEFT JOIN calls c USING (call_id) WHERE cs.call_id IN ({marks})""",  # noqa: S608
            self.db, params=list(call_ids))

    def flags_with_reviews(self, call_ids: list[str]) -> pd.DataFrame:
        """These calls' flags with their review (decision, followup, note; None when not reviewed)."""
        cols = ["flag_key", "call_id", "category", "rule_id", "severity", "points", "speaker", "start", "end",
                "evidence", "confidence", "review_only", "hits", "decision", "state", "followup", "note"]
        if not call_ids:
            return pd.DataFrame(columns=cols)
        marks = ",".join("?" * len(call_ids))
        return pd.read_sql_query(
            f"""SELECT {", ".join("r." + c if c in ("decision", "state", "followup", "note") else "f." + c for c in cols)}
                FROM flags f LEFT JOIN reviews r USING (flag_key) WHERE f.call_id IN ({marks})
                ORDER BY f.call_id, f.start""",  # noqa: S608 (placeholders only)
            self.db, params=list(call_ids))

    def topics_by_day(self, first: str, last: str, team: str | None = None) -> pd.DataFrame:
        """day, topic of every scored call of the days first..last."""
        q = "SELECT c.day, cs.topic FROM call_scores cs JOIN calls c USING (call_id) WHERE c.day BETWEEN ? AND ?"
        q += " AND c.team = ?" if team else ""
        return pd.read_sql_query(q, self.db, params=[first, last] + ([team] if team else []))

    def rule_precision(self) -> pd.DataFrame:
        """Per rule, over all flags so far: how many were reviewed, confirmed, dismissed."""
        return pd.read_sql_query(
            """SELECT f.rule_id, f.category, COUNT(*) AS flags,
                      SUM(CASE WHEN r.decision IS NOT NULL THEN 1 ELSE 0 END) AS reviewed,
                      SUM(CASE WHEN r.decision IN ('confirm', 'case') THEN 1 ELSE 0 END) AS confirmed,
                      SUM(CASE WHEN r.decision = 'dismiss' THEN 1 ELSE 0 END) AS dismissed
               FROM flags f LEFT JOIN reviews r USING (flag_key) GROUP BY f.rule_id, f.category ORDER BY f.rule_id""",
            self.db)

    def coverage(self, first: str, last: str, team: str | None = None) -> tuple[int, int]:
        """(calls indexed, calls sampled) on the days first..last."""
        t, params = (" AND c.team = ?", [first, last, team]) if team else ("", [first, last])
        indexed = self.db.execute(f"SELECT COUNT(*) FROM calls c WHERE c.day BETWEEN ? AND ?{t}", params).fetchone()[0]
        sampled = self.db.execute(
            f"SELECT COUNT(*) FROM samples s JOIN calls c USING (call_id) WHERE s.day BETWEEN ? AND ?{t}", params).fetchone()[0]
        return int(indexed), int(sampled)

    # ---- reviews -----------------------------------------------------------

    def flag_keys(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT flag_key FROM flags")}

    def put_review_note(self, flag_key: str, followup: str | None, note: str | None) -> None:
        """Record a follow-up and note; a None leaves what was there (decisions go through `transition`)."""
        self.db.execute(
            """INSERT INTO reviews (flag_key, followup, note, reviewed_at) VALUES (?,?,?,?)
               ON CONFLICT(flag_key) DO UPDATE SET
                 followup=COALESCE(excluded.followup, reviews.followup),
                 note=COALESCE(excluded.note, reviews.note), reviewed_at=excluded.reviewed_at""",
            (flag_key, followup, note, now()),
        )

    def review_state(self, flag_key: str) -> str:
        return self.review_of(flag_key)[1]

    def review_of(self, flag_key: str) -> tuple[str | None, str]:
        """(the reviewer's decision or None, the flag's review state)."""
        row = self.db.execute("SELECT decision, state FROM reviews WHERE flag_key = ?", (flag_key,)).fetchone()
        return (row[0], row[1]) if row else (None, "pending")

    def transition(self, flag_key: str, action: str, by: str, reason: str | None = None,
                   seen_state: str | None = None, actor=None) -> str:
        """Move a flag through the review flow (confirm, dismiss, case, appeal, upheld, overturned),
        keeping the event; returns the new state. Refuses what the flow does not allow (ReviewError).

        seen_state: the state the person saw when deciding; if someone else moved the flag since,
        nothing is written (ReviewConflict names who and what), so no decision silently replaces another.

        actor: the signed-in account (audit.workspace.accounts.Account) deciding; what its role may do
        is checked here (ReviewForbidden), and the event records the account and its role, not a typed
        name (`by` is then ignored). None is the trusted local path (the CLI, or the page on loopback
        before any account exists): `by` as given, recorded with the role "local"."""
        from audit.workspace.review_states import (
            DECISIONS, LOCAL_ROLE, ReviewConflict, ReviewError, authorize, next_state,
        )

        if actor is not None:
            by = actor.name
        if not by or not by.strip():
            raise ReviewError(f"flag {flag_key}: say who decides (--by)")
        with self.tx():
            row = self.db.execute("SELECT f.call_id, c.agent_id, c.team FROM flags f LEFT JOIN calls c USING (call_id) "
                                  "WHERE f.flag_key = ?", (flag_key,)).fetchone()
            if row is None:
                raise ReviewError(f"flag {flag_key} is not in the workspace")
            if actor is not None:
                authorize(flag_key, action, actor.role, actor.agent_id, actor.team, row["agent_id"], row["team"])
            current = self.review_state(flag_key)
            if seen_state is not None and current != seen_state:
                last = self.db.execute("SELECT by, at FROM review_events WHERE flag_key = ? ORDER BY id DESC LIMIT 1",
                                       (flag_key,)).fetchone()
                raise ReviewConflict(flag_key, current, last[0] if last else "", last[1] if last else "")
            state = next_state(flag_key, current, action)
            at = now()
            decision = action if action in DECISIONS else None
            self.db.execute(
                """INSERT INTO reviews (flag_key, decision, state, reviewed_at) VALUES (?,?,?,?)
                   ON CONFLICT(flag_key) DO UPDATE SET decision=COALESCE(excluded.decision, reviews.decision),
                     state=excluded.state, reviewed_at=excluded.reviewed_at""",
                (flag_key, decision, state, at),
            )
            self.db.execute(
                "INSERT INTO review_events (flag_key, action, state, by, reason, at, account_id, role) VALUES (?,?,?,?,?,?,?,?)",
                (flag_key, action, state, by.strip(), reason, at, actor.id if actor is not None else None,
                 actor.role if actor is not None else LOCAL_ROLE))
        return state

    def review_history(self, flag_key: str) -> list[dict]:
        return [dict(r) for r in self.db.execute(
            "SELECT action, state, by, role, account_id, reason, at FROM review_events WHERE flag_key = ? ORDER BY id",
            (flag_key,))]

    def appeals(self, call_ids: list[str]) -> pd.DataFrame:
        """Every appeal made on these calls' flags: the flag, the appeal event and how it ended."""
        marks = ",".join("?" * len(call_ids))
        return pd.read_sql_query(
            f"""SELECT f.flag_key, f.call_id, f.category, f.rule_id, f.evidence, r.state,
                       a.by AS appealed_by, a.reason AS appeal_reason, a.at AS appealed_at,
                       e.by AS resolved_by, e.reason AS resolution_reason, e.at AS resolved_at
                FROM review_events a JOIN flags f USING (flag_key) JOIN reviews r USING (flag_key)
                LEFT JOIN review_events e ON e.flag_key = a.flag_key AND e.id > a.id AND e.action IN ('upheld', 'overturned')
                WHERE a.action = 'appeal' AND f.call_id IN ({marks}) ORDER BY a.at""",  # noqa: S608
            self.db, params=list(call_ids))

    def call(self, call_id: str) -> dict | None:
        """One call of the index with its sample band and reason (None when unknown)."""
        row = self.db.execute(
            """SELECT c.*, s.band, s.reason FROM calls c LEFT JOIN samples s USING (call_id)
               WHERE c.call_id = ?""", (call_id,)).fetchone()
        return dict(row) if row else None

    def flag(self, flag_key: str) -> dict | None:
        row = self.db.execute("SELECT * FROM flags WHERE flag_key = ?", (flag_key,)).fetchone()
        return dict(row) if row else None

    def last_scored_day(self) -> str | None:
        row = self.db.execute("SELECT MAX(c.day) FROM call_scores JOIN calls c USING (call_id)").fetchone()
        return row[0] if row else None

    def call_day(self, call_id: str) -> str | None:
        row = self.db.execute("SELECT day FROM calls WHERE call_id = ?", (call_id,)).fetchone()
        return row[0] if row else None

    # ---- accounts, sessions, failed sign-ins (audit/workspace/accounts.py decides; this only stores) ----

    _ACCOUNT = "id, name, role, agent_id, team, disabled, created_at, changed_at"

    def add_account(self, name: str, role: str, agent_id: str | None, team: str | None, password_hash: str) -> int:
        try:
            cur = self.db.execute(
                "INSERT INTO accounts (name, role, agent_id, team, password_hash, created_at, changed_at) VALUES (?,?,?,?,?,?,?)",
                (name, role, agent_id, team, password_hash, now(), now()))
        except sqlite3.IntegrityError as exc:
            raise AuditError(f"an account named {name!r} exists already") from exc
        return int(cur.lastrowid)

    def accounts(self) -> list[dict]:
        """Every account (never its password hash), by name."""
        return [dict(r) for r in self.db.execute(f"SELECT {self._ACCOUNT} FROM accounts ORDER BY name")]  # noqa: S608

    def account(self, name: str) -> dict | None:
        row = self.db.execute(f"SELECT {self._ACCOUNT} FROM accounts WHERE name = ?", (name,)).fetchone()  # noqa: S608
        return dict(row) if row else None

    def password_hash(self, account_id: int) -> str | None:
        row = self.db.execute("SELECT password_hash FROM accounts WHERE id = ?", (account_id,)).fetchone()
        return row[0] if row else None

    def count_accounts(self) -> int:
        """Accounts, disabled ones included."""
        return int(self.db.execute("SELECT COUNT(*) FROM accounts").fetchone()[0])

    def update_account(self, account_id: int, *, password_hash: str | None = None, disabled: bool | None = None) -> None:
        if password_hash is not None:
            self.db.execute("UPDATE accounts SET password_hash = ?, changed_at = ? WHERE id = ?", (password_hash, now(), account_id))
        if disabled is not None:
            self.db.execute("UPDATE accounts SET disabled = ?, changed_at = ? WHERE id = ?", (int(disabled), now(), account_id))

    def add_session(self, token_hash: str, account_id: int, at: float, expires: float) -> None:
        self.db.execute("INSERT INTO sessions (token_hash, account_id, created, last_seen, expires) VALUES (?,?,?,?,?)",
                        (token_hash, account_id, at, at, expires))

    def session(self, token_hash: str) -> dict | None:
        """A session with its account (None when unknown)."""
        row = self.db.execute(
            f"""SELECT s.created, s.last_seen, s.expires, {", ".join("a." + c.strip() for c in self._ACCOUNT.split(","))}
                FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = ?""",  # noqa: S608
            (token_hash,)).fetchone()
        return dict(row) if row else None

    def touch_session(self, token_hash: str, at: float) -> None:
        self.db.execute("UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (at, token_hash))

    def end_sessions(self, token_hash: str | None = None, account_id: int | None = None, before: float | None = None) -> None:
        """End one session (sign-out), every session of an account (new password, disabled), or those
        that expired or sat idle since `before`."""
        if token_hash is not None:
            self.db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
        if account_id is not None:
            self.db.execute("DELETE FROM sessions WHERE account_id = ?", (account_id,))
        if before is not None:
            self.db.execute("DELETE FROM sessions WHERE expires <= ? OR last_seen <= ?", (before, before))

    def signin_failures(self, name: str, address: str, since: float) -> list[float]:
        """When sign-ins as `name` from `address` failed since `since`, oldest first."""
        return [r[0] for r in self.db.execute(
            "SELECT at FROM signin_failures WHERE name = ? AND address = ? AND at > ? ORDER BY at", (name, address, since))]

    def record_signin_failure(self, name: str, address: str, at: float) -> None:
        self.db.execute("INSERT INTO signin_failures (name, address, at) VALUES (?,?,?)", (name, address, at))

    def clear_signin_failures(self, name: str | None = None, address: str | None = None, before: float | None = None) -> None:
        if name is not None:
            self.db.execute("DELETE FROM signin_failures WHERE name = ? AND address = ?", (name, address))
        if before is not None:
            self.db.execute("DELETE FROM signin_failures WHERE at <= ?", (before,))

    # ---- runs --------------------------------------------------------------

    def start_run(self, day: str, command: str) -> int:
        cur = self.db.execute(
            "INSERT INTO runs (day, command, started_at) VALUES (?,?,?)", (day, command, now())
        )
        return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str, summary: dict) -> None:
        self.db.execute(
            "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE id = ?",
            (now(), status, json.dumps(summary, ensure_ascii=False, default=str), run_id),
        )


@dataclass
class RunLock:
    """An exclusive lock file beside the database, so two nightly runs never share a workspace.

    A lock whose process no longer runs is stale and is taken over."""

    path: Path

    def __enter__(self) -> "RunLock":
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    pid = int(self.path.read_text().split()[0])
                except (ValueError, IndexError, FileNotFoundError):
                    pid = -1
                if pid > 0 and _alive(pid):
                    raise LockError(
                        f"another callaudit run (pid {pid}) holds {self.path}; wait for it, "
                        f"or delete the file if that process is gone"
                    )
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{os.getpid()} {now()}\n")
            return self
        raise LockError(f"could not take {self.path}")

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
