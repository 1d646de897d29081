"""The manifest store: every signed manifest, keyed by the watermark's payload id (SQLite).

When a platform strips the C2PA manifest, the watermark's payload id leads back here; a
resolver also finds manifests by their label (the C2PA manifest id) and, where the mark is
gone, by the content fingerprint (:meth:`ManifestStore.find_by_fingerprint`, through an index
of 16-bit pieces of each frame's perceptual hash). Every lookup is indexed. The store is safe
for many processes at once (WAL journal, a busy timeout and retries) and fails loudly: a write
that cannot be made raises :class:`StoreError`, it is never skipped.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from veriframe.errors import StoreError

SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 10_000
RETRIES = 8
BAND_BITS = 16  # a frame's 64-bit coarse hash is indexed as four 16-bit bands
BANDS = 64 // BAND_BITS
CANDIDATES = 64  # fingerprints compared in full per query, the most band hits first

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS manifests (
    payload_id     TEXT NOT NULL,
    manifest_label TEXT NOT NULL,
    manifest_store BLOB NOT NULL,
    fmt            TEXT NOT NULL,
    key_id         TEXT,
    signer         TEXT,
    created_at     TEXT NOT NULL,
    content_sha256 TEXT,
    fingerprint    TEXT,
    title          TEXT,
    PRIMARY KEY (payload_id, manifest_label)
);
CREATE INDEX IF NOT EXISTS manifests_by_payload ON manifests (payload_id, created_at);
"""
# Schema 2: lookups by manifest label, and the fingerprint band index.
_SCHEMA_2 = """
CREATE INDEX IF NOT EXISTS manifests_by_label ON manifests (manifest_label);
CREATE TABLE IF NOT EXISTS fingerprint_bands (
    band   INTEGER NOT NULL,
    value  INTEGER NOT NULL,
    record INTEGER NOT NULL,  -- the manifests row (rowid)
    PRIMARY KEY (band, value, record)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fingerprint_bands_by_record ON fingerprint_bands (record);
"""
_COLUMNS = ("payload_id, manifest_label, manifest_store, fmt, key_id, signer, created_at, "
            "content_sha256, fingerprint, title")


@dataclass(frozen=True)
class StoreRecord:
    """One signed manifest and what identifies the content it was made for."""

    payload_id: str
    manifest_label: str
    manifest_store: bytes
    fmt: str
    key_id: str | None
    signer: str | None
    created_at: str | None  # ISO 8601; filled with the current time by put() when None
    content_sha256: str | None
    fingerprint: str | None
    title: str | None


def fingerprint_bands(fingerprint: str | None) -> set[tuple[int, int]]:
    """The (band, value) index keys of a fingerprint: every 16-bit band of every frame's
    coarse hash. Empty for no fingerprint or one this version cannot read."""
    if not fingerprint:
        return set()
    from veriframe.errors import VeriframeError
    from veriframe.watermark.fingerprint import coarse_hashes

    try:
        hashes = coarse_hashes(fingerprint)
    except VeriframeError:
        return set()
    mask = (1 << BAND_BITS) - 1
    return {(b, (h >> (b * BAND_BITS)) & mask) for h in hashes for b in range(BANDS)}


def _row_record(row: tuple[object, ...]) -> StoreRecord:
    return StoreRecord(
        payload_id=str(row[0]), manifest_label=str(row[1]),
        manifest_store=bytes(row[2]),  # type: ignore[call-overload]
        fmt=str(row[3]), key_id=_opt(row[4]), signer=_opt(row[5]), created_at=_opt(row[6]),
        content_sha256=_opt(row[7]), fingerprint=_opt(row[8]), title=_opt(row[9]),
    )


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def _corrupt(path: Path, exc: BaseException) -> StoreError:
    return StoreError(
        "store.corrupt",
        f"the manifest store {path} is damaged or not a veriframe store ({exc})",
        "move it aside (keep it for recovery) and sign again; a new store is created",
    )


class ManifestStore:
    """A SQLite manifest store at ``path`` (created on first write).

    ``keep_open``: keep one read connection per thread instead of opening one per lookup (for
    a service answering many lookups; each read still sees every committed write).
    """

    def __init__(self, path: str | os.PathLike[str], *, keep_open: bool = False) -> None:
        self.path = Path(path)
        self._keep_open = keep_open
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"ManifestStore({str(self.path)!r})"

    # ----------------------------------------------------------------------------------------
    def _connect(self, *, create: bool) -> sqlite3.Connection:
        if self.path.is_dir():
            raise StoreError(
                "store.unwritable", f"the manifest store {self.path} is a directory",
                "set VERIFRAME_STORE to a file path",
            )
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    "store.unwritable",
                    f"cannot create the folder for the manifest store {self.path}: "
                    f"{exc.strerror}",
                    "check the permissions, or set VERIFRAME_STORE to a writable path",
                ) from None
        # Readers open read-write when they can (a WAL reader needs the -shm file), else
        # read-only (a verifier may not own the store).
        modes = ("rwc",) if create else ("rw", "ro")
        try:
            conn = _open_first(self.path, modes)
        except sqlite3.Error as exc:
            raise StoreError(
                "store.unwritable" if create else "store.unreadable",
                f"cannot open the manifest store {self.path}: {exc}",
                "check the path and its permissions",
            ) from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if create:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
                if not mode or str(mode[0]).lower() != "wal":
                    raise sqlite3.OperationalError(f"journal mode is {mode}")
                conn.execute("PRAGMA synchronous = NORMAL")
            self._check_schema(conn, create=create)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if _is_busy(exc):
                raise
            if "readonly" in str(exc).lower() or "unable to open" in str(exc).lower():
                raise StoreError(
                    "store.unwritable",
                    f"the manifest store {self.path} cannot be written: {exc}",
                    "check its permissions, or set VERIFRAME_STORE to a writable path",
                ) from None
            raise _corrupt(self.path, exc) from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_schema(self, conn: sqlite3.Connection, *, create: bool) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version == 1 and create:
            self._migrate_1_to_2(conn)
            return
        if version == 1:
            return  # readable as it is; the indexes come with the next write
        if version > SCHEMA_VERSION:
            raise StoreError(
                "store.newer-schema",
                f"the manifest store {self.path} has schema {version}; this veriframe knows "
                f"{SCHEMA_VERSION}",
                "upgrade veriframe",
            )
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if version == 0 and tables - {"manifests"}:
            raise StoreError(
                "store.corrupt",
                f"{self.path} is an SQLite file but not a veriframe manifest store",
                "set VERIFRAME_STORE to another path",
            )
        if not create:
            if not tables:
                return  # empty: nothing to read
            raise StoreError(
                "store.corrupt", f"the manifest store {self.path} has no schema version",
                "move it aside and sign again",
            )
        with _write(conn):
            if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                for stmt in filter(None, (s.strip() for s in (_SCHEMA + _SCHEMA_2).split(";"))):
                    conn.execute(stmt)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _migrate_1_to_2(self, conn: sqlite3.Connection) -> None:
        """Add the label index and the fingerprint band index, filled from existing rows."""
        with _write(conn):
            if conn.execute("PRAGMA user_version").fetchone()[0] == 1:
                for stmt in filter(None, (s.strip() for s in _SCHEMA_2.split(";"))):
                    conn.execute(stmt)
                rows = conn.execute("SELECT rowid, fingerprint FROM manifests").fetchall()
                for record, fp in rows:
                    _insert_bands(conn, record, fp)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _open(self, *, create: bool) -> Iterator[sqlite3.Connection]:
        if self._keep_open and not create:
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._connect(create=False)
                self._local.conn = conn
            try:
                yield conn
            except sqlite3.DatabaseError:
                self._local.conn = None
                conn.close()
                raise
            return
        conn = self._connect(create=create)
        try:
            yield conn
        finally:
            conn.close()

    def _retry(self, op: Callable[[], T]) -> T:
        """Run ``op``, retrying with jittered back-off while the database is locked."""
        delay = 0.02
        for attempt in range(RETRIES):
            try:
                return op()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or attempt == RETRIES - 1:
                    raise StoreError(
                        "store.busy" if _is_busy(exc) else "store.unwritable",
                        f"the manifest store {self.path} could not be used: {exc}",
                        "another process holds it for too long; try again",
                    ) from None
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)
            except sqlite3.DatabaseError as exc:
                raise _corrupt(self.path, exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    # ----------------------------------------------------------------------------------------
    def put(self, record: StoreRecord) -> StoreRecord:
        """Store ``record`` (idempotent per payload_id + manifest_label); return what was stored."""
        if not record.payload_id or not record.manifest_store:
            raise StoreError(
                "store.bad-record", "a store record needs a payload id and manifest bytes",
                "this is a bug in the caller",
            )
        rec = record if record.created_at else _replace_created(record, _now())

        def op() -> StoreRecord:
            with self._open(create=True) as conn, _write(conn):
                conn.execute(
                    "INSERT INTO manifests (payload_id, manifest_label, manifest_store, fmt, "
                    "key_id, signer, created_at, content_sha256, fingerprint, title) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (payload_id, manifest_label) DO UPDATE SET "
                    "manifest_store=excluded.manifest_store, fmt=excluded.fmt, "
                    "key_id=excluded.key_id, signer=excluded.signer, "
                    "content_sha256=excluded.content_sha256, "
                    "fingerprint=excluded.fingerprint, title=excluded.title",
                    (
                        rec.payload_id.lower(), rec.manifest_label,
                        sqlite3.Binary(rec.manifest_store), rec.fmt, rec.key_id,
                        rec.signer, rec.created_at, rec.content_sha256, rec.fingerprint,
                        rec.title,
                    ),
                )
                _insert_bands(conn, _rowid(conn, rec), rec.fingerprint)
            return rec

        return self._retry(op)

    def get(self, payload_id: str) -> StoreRecord | None:
        """The newest record for ``payload_id`` (hex), or None."""
        return self._newest("payload_id", payload_id.lower())

    def get_by_label(self, manifest_label: str) -> StoreRecord | None:
        """The record of the manifest labelled ``manifest_label`` (a C2PA manifest id), or None."""
        return self._newest("manifest_label", manifest_label)

    def labels(self, payload_id: str, *, limit: int = 10) -> list[str]:
        """The manifest labels recorded for ``payload_id``, newest first (no manifest bytes
        are read: what a resolver's binding lookup answers)."""
        if not self.path.exists():
            return []

        def op() -> list[str]:
            with self._open(create=False) as conn:
                if not _has_table(conn):
                    return []
                rows = conn.execute(
                    "SELECT manifest_label FROM manifests WHERE payload_id = ? "
                    "ORDER BY created_at DESC LIMIT ?", (payload_id.lower(), limit)).fetchall()
            return [str(r[0]) for r in rows]

        return self._retry(op)

    def _newest(self, column: str, value: str) -> StoreRecord | None:
        """The newest record whose indexed ``column`` equals ``value``."""
        if not self.path.exists():
            return None

        def op() -> StoreRecord | None:
            with self._open(create=False) as conn:
                if not _has_table(conn):
                    return None
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM manifests WHERE {column} = ? "
                    "ORDER BY created_at DESC LIMIT 1", (value,),
                ).fetchone()
            return None if row is None else _row_record(row)

        return self._retry(op)

    def find_by_fingerprint(
        self, fingerprint: str, *, max_distance: float, limit: int = 10
    ) -> list[tuple[StoreRecord, float]]:
        """Stored manifests whose content fingerprint is within ``max_distance`` of
        ``fingerprint``, nearest first (at most ``limit``).

        Candidates are the records sharing a 16-bit band of a frame's coarse hash with the
        query (the :data:`CANDIDATES` with the most shared bands); each is then compared in
        full with :func:`veriframe.watermark.fingerprint_distance`.
        """
        from veriframe.errors import VeriframeError
        from veriframe.watermark.fingerprint import fingerprint_distance

        keys = fingerprint_bands(fingerprint)
        if not keys or not self.path.exists():
            return []

        def op() -> list[tuple[StoreRecord, float]]:
            with self._open(create=False) as conn:
                if not _has_table(conn) or conn.execute(
                        "SELECT 1 FROM sqlite_master WHERE name='fingerprint_bands'"
                ).fetchone() is None:
                    return []
                hits: dict[int, int] = {}
                for band, value in keys:
                    for (record,) in conn.execute(
                            "SELECT record FROM fingerprint_bands WHERE band = ? AND value = ?",
                            (band, value)):
                        hits[record] = hits.get(record, 0) + 1
                best = sorted(hits, key=lambda k: -hits[k])[:CANDIDATES]
                rows = [conn.execute(f"SELECT {_COLUMNS} FROM manifests WHERE rowid = ?",
                                     (record,)).fetchone() for record in best]
            found = []
            for row in rows:
                if row is None or not row[8]:
                    continue
                try:
                    distance = fingerprint_distance(fingerprint, str(row[8]))
                except VeriframeError:
                    continue
                if distance <= max_distance:
                    found.append((_row_record(row), distance))
            found.sort(key=lambda item: item[1])
            return found[:limit]

        return self._retry(op)

    def put_many(self, records: list[StoreRecord]) -> int:
        """Store many records in one transaction (bulk loads); returns how many."""
        def op() -> int:
            with self._open(create=True) as conn, _write(conn):
                for rec in records:
                    conn.execute(
                        f"INSERT OR REPLACE INTO manifests ({_COLUMNS}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (rec.payload_id.lower(), rec.manifest_label,
                         sqlite3.Binary(rec.manifest_store), rec.fmt, rec.key_id,
                         rec.signer, rec.created_at or _now(), rec.content_sha256,
                         rec.fingerprint, rec.title))
                    _insert_bands(conn, _rowid(conn, rec), rec.fingerprint)
            return len(records)

        return self._retry(op)

    def count(self) -> int:
        """How many manifests the store holds."""
        if not self.path.exists():
            return 0

        def op() -> int:
            with self._open(create=False) as conn:
                if not _has_table(conn):
                    return 0
                return int(conn.execute("SELECT COUNT(*) FROM manifests").fetchone()[0])

        return self._retry(op)


def _open_first(path: Path, modes: tuple[str, ...]) -> sqlite3.Connection:
    last: sqlite3.Error | None = None
    for mode in modes:
        try:
            return sqlite3.connect(
                f"file:{urllib.parse.quote(str(path))}?mode={mode}",
                uri=True,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
            )
        except sqlite3.OperationalError as exc:
            last = exc
    assert last is not None
    raise last


@contextmanager
def _write(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taken at once (``BEGIN IMMEDIATE``); rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _rowid(conn: sqlite3.Connection, rec: StoreRecord) -> int:
    row = conn.execute("SELECT rowid FROM manifests WHERE payload_id = ? AND manifest_label = ?",
                       (rec.payload_id.lower(), rec.manifest_label)).fetchone()
    return int(row[0])


def _insert_bands(conn: sqlite3.Connection, record: int, fingerprint: str | None) -> None:
    conn.execute("DELETE FROM fingerprint_bands WHERE record = ?", (record,))
    conn.executemany(
        "INSERT OR IGNORE INTO fingerprint_bands (band, value, record) VALUES (?, ?, ?)",
        [(band, value, record) for band, value in fingerprint_bands(fingerprint)])


def _has_table(conn: sqlite3.Connection) -> bool:
    return conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='manifests'"
    ).fetchone() is not None


def _is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _replace_created(record: StoreRecord, created_at: str) -> StoreRecord:
    from dataclasses import replace

    return replace(record, created_at=created_at)
