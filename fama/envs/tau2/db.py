"""Copy-on-write document DB with the official tau2 hash, computed incrementally.

A domain DB is a document of tables (``{"users": {id: record}, ...}``) of plain JSON values,
already normalised to the official typed form (defaults filled, field order, number types).
The base document is parsed and serialised once per process; each episode gets a cheap
``DocumentDB`` view that copies a record only when a tool changes it. The hash equals
``sha256(json.dumps(whole_db, sort_keys=True, default=str))`` but re-serialises only the
records an episode touched.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Record = Any
Tables = dict[str, dict[str, Record]]


def _dump_sorted(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _piece(key: str, record: Record) -> str:
    return f"{json.dumps(key)}: {_dump_sorted(record)}"


def clone(value: Any) -> Any:
    """Deep copy of a JSON-like value (much faster than ``copy.deepcopy``)."""
    if type(value) is dict:
        return {k: clone(v) for k, v in value.items()}
    if type(value) is list:
        return [clone(v) for v in value]
    return value


@dataclass
class _SerialisedTable:
    """One table serialised with sorted keys, with the byte span of each record's piece."""

    sorted_keys: list[str]
    blob: bytes
    spans: dict[str, tuple[int, int]]

    @classmethod
    def build(cls, records: dict[str, Record]) -> _SerialisedTable:
        keys = sorted(records)
        parts: list[bytes] = []
        spans: dict[str, tuple[int, int]] = {}
        pos = 1  # after "{"
        for i, key in enumerate(keys):
            if i:
                parts.append(b", ")
                pos += 2
            piece = _piece(key, records[key]).encode()
            spans[key] = (pos, pos + len(piece))
            parts.append(piece)
            pos += len(piece)
        return cls(keys, b"{" + b"".join(parts) + b"}", spans)


@dataclass
class BaseDocument:
    """The immutable initial DB of a domain, shared by every episode in the process."""

    tables: Tables
    _serialised: dict[str, _SerialisedTable] = field(default_factory=dict, repr=False)
    _initial_hash: str | None = field(default=None, repr=False)

    def serialised(self, table: str) -> _SerialisedTable:
        """The sorted serialisation of one table (built on first use)."""
        cached = self._serialised.get(table)
        if cached is None:
            cached = _SerialisedTable.build(self.tables[table])
            self._serialised[table] = cached
        return cached

    def initial_hash(self) -> str:
        """The official hash of the unmodified document (computed once)."""
        if self._initial_hash is None:
            self._initial_hash = DocumentDB(self).computed_hash()
        return self._initial_hash

    def new_view(self) -> DocumentDB:
        """A fresh, unmodified episode view of this document."""
        return DocumentDB(self)


class DocumentDB:
    """An episode's view of a BaseDocument: reads fall through, writes copy the record first.

    Records returned by ``get`` and ``items`` are shared with the base: never mutate them.
    Use ``get_mut`` (or ``insert``) for anything a tool changes.
    """

    def __init__(self, base: BaseDocument) -> None:
        self._base = base
        self._changed: dict[str, dict[str, Record]] = {name: {} for name in base.tables}

    @property
    def table_names(self) -> list[str]:
        """Table names in the model's field order."""
        return list(self._base.tables)

    def get(self, table: str, key: str) -> Record | None:
        """The current record (read-only), or None."""
        changed = self._changed[table]
        if key in changed:
            return changed[key]
        return self._base.tables[table].get(key)

    def get_mut(self, table: str, key: str) -> Record | None:
        """The current record, copied into this view so it may be mutated; None if absent."""
        changed = self._changed[table]
        if key in changed:
            return changed[key]
        record = self._base.tables[table].get(key)
        if record is None:
            return None
        copy = clone(record)
        changed[key] = copy
        return copy

    def insert(self, table: str, key: str, record: Record) -> None:
        """Add or replace a record."""
        self._changed[table][key] = record

    def contains(self, table: str, key: str) -> bool:
        """Whether the table has this key."""
        return key in self._changed[table] or key in self._base.tables[table]

    def keys(self, table: str) -> Iterator[str]:
        """Keys in DB order: the base file's order, then keys added by this episode."""
        base = self._base.tables[table]
        yield from base
        for key in self._changed[table]:
            if key not in base:
                yield key

    def items(self, table: str) -> Iterator[tuple[str, Record]]:
        """(key, read-only record) pairs in DB order."""
        changed = self._changed[table]
        base = self._base.tables[table]
        for key, record in base.items():
            yield key, changed.get(key, record)
        for key, record in changed.items():
            if key not in base:
                yield key, record

    def size(self, table: str) -> int:
        """Number of records in a table."""
        base = self._base.tables[table]
        return len(base) + sum(1 for key in self._changed[table] if key not in base)

    def to_dict(self) -> Tables:
        """The whole DB as a plain dict (shares records with the base; do not mutate)."""
        return {name: dict(self.items(name)) for name in self.table_names}

    def hash(self) -> str:
        """The official tau2 DB hash: sha256 of the sorted-key JSON of the whole DB."""
        if not any(self._changed.values()):
            return self._base.initial_hash()
        return self.computed_hash()

    def computed_hash(self) -> str:
        """The hash computed from the current records (no shortcut for unchanged views)."""
        digest = hashlib.sha256()
        names = sorted(self.table_names)
        digest.update(b"{")
        for i, name in enumerate(names):
            if i:
                digest.update(b", ")
            digest.update(json.dumps(name).encode() + b": ")
            self._hash_table(digest, name)
        digest.update(b"}")
        return digest.hexdigest()

    def _hash_table(self, digest: Any, name: str) -> None:
        table = self._base.serialised(name)
        changed = self._changed[name]
        if not changed:
            digest.update(table.blob)
            return
        blob = memoryview(table.blob)
        cursor = 0
        closing = len(table.blob) - 1
        has_records = bool(table.sorted_keys)
        for key in sorted(changed):
            piece = _piece(key, changed[key]).encode()
            span = table.spans.get(key)
            if span is not None:
                digest.update(blob[cursor : span[0]])
                digest.update(piece)
                cursor = span[1]
                continue
            index = bisect.bisect_left(table.sorted_keys, key)
            if index < len(table.sorted_keys):
                start = table.spans[table.sorted_keys[index]][0]
                digest.update(blob[cursor:start])
                digest.update(piece + b", ")
                cursor = start
            else:
                digest.update(blob[cursor:closing])
                digest.update((b", " if has_records else b"") + piece)
                has_records = True
                cursor = closing
        digest.update(blob[cursor:])


def full_hash(tables: Tables) -> str:
    """Reference hash by whole-document serialisation (slow; for checks and small DBs)."""
    return hashlib.sha256(_dump_sorted(tables).encode()).hexdigest()
