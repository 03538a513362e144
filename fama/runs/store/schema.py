"""The run store's SQLite schema, its version and the in-place upgrades of older files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fama.runs.store.records import StoreError

SCHEMA_VERSION = 3  # 2: messages.invalid_tool_calls; 3: llm_calls.finish_reason, usage_missing

LABELS_SCHEMA = """
CREATE TABLE IF NOT EXISTS episode_labels (
    episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    category TEXT NOT NULL,
    is_primary INTEGER NOT NULL,
    rationale TEXT NOT NULL,
    evidence_steps TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (episode_id, idx)
);
"""

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    prompt_refs TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS episodes (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    task_id TEXT NOT NULL,
    trial INTEGER NOT NULL,
    domain TEXT NOT NULL,
    split TEXT,
    status TEXT NOT NULL,
    termination TEXT,
    reward REAL,
    reward_info TEXT NOT NULL,
    steps INTEGER NOT NULL,
    tool_errors INTEGER NOT NULL,
    error_detail TEXT,
    started_at TEXT NOT NULL,
    duration_s REAL NOT NULL,
    agent_kind TEXT NOT NULL,
    extra TEXT NOT NULL,
    UNIQUE (run_id, task_id, trial)
);
CREATE TABLE IF NOT EXISTS messages (
    episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    tool_calls TEXT,
    tool_call_id TEXT,
    name TEXT,
    requestor TEXT,
    error INTEGER,
    invalid_tool_calls TEXT,
    PRIMARY KEY (episode_id, idx)
);
CREATE TABLE IF NOT EXISTS llm_calls (
    episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    node TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    finish_reason TEXT,
    usage_missing INTEGER,
    PRIMARY KEY (episode_id, idx)
);
CREATE TABLE IF NOT EXISTS node_timings (
    episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    node TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    PRIMARY KEY (episode_id, idx)
);
"""
    + LABELS_SCHEMA
)

# version -> the statements that upgrade a file of that version to the next one
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE messages ADD COLUMN invalid_tool_calls TEXT",),
    2: (
        "ALTER TABLE llm_calls ADD COLUMN finish_reason TEXT",
        "ALTER TABLE llm_calls ADD COLUMN usage_missing INTEGER",
        # before version 3 a call without server usage was stored with zero tokens
        "UPDATE llm_calls SET usage_missing = 1 WHERE input_tokens = 0 AND output_tokens = 0",
    ),
}


def prepare(conn: sqlite3.Connection, path: Path, *, create: bool) -> None:
    """Check the schema version; create the tables in a new file, upgrade an older one."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == 0:
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[
            0
        ]
        if tables or not create:
            raise StoreError(f"{path} is an SQLite file but not a FAMA run store")
    elif version > SCHEMA_VERSION or (version < SCHEMA_VERSION and version not in MIGRATIONS):
        raise StoreError(
            f"{path}: run store schema version {version}, this FAMA reads version {SCHEMA_VERSION}"
        )
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    if version == 0:
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return
    while version < SCHEMA_VERSION:
        with conn:
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            version += 1
            conn.execute(f"PRAGMA user_version = {version}")
