"""The manifest store: every signed manifest, keyed by the watermark's payload id (SQLite).

When a platform strips the C2PA manifest, the watermark's payload id leads back here; a
resolver also finds manifests by their label (the C2PA manifest id) and, where the mark is
gone, by the content fingerprint (:meth:`ManifestStore.find_by_fingerprint`, through an index
of 16-bit pieces of each frame's perceptual hash). Every lookup is indexed. The store is safe
for many processes at once (WAL journal, a busy timeout and retries) and fails loudly: a write
that cannot be made raises :class:`StoreError`, it is never skipped.

Records are append-only (schema 3): a manifest id or a payload id already held is never given
to another signer's record (``store.conflict``); the same signer's newer record for a payload
id supersedes the older one, which stays as history; a deleted manifest becomes a tombstone
(hidden from every lookup, its payload id still claimed). Every write a resolver makes is
kept in an audit table. ``ManifestStore("postgresql://...")`` opens the PostgreSQL store
(:mod:`veriframe.credentials.store_pg`) with the same interface; any other URL is refused
(``store.unsupported-url``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import re
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from veriframe.errors import StoreError

SCHEMA_VERSION = 3
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
# Schema 3: append-only records (owner, publisher, tombstones, the stored bytes' hash),
# bindings added after publishing, and the audit log of every write.
_SCHEMA_3 = """
ALTER TABLE manifests ADD COLUMN owner TEXT;
ALTER TABLE manifests ADD COLUMN publisher TEXT;
ALTER TABLE manifests ADD COLUMN store_sha256 TEXT;
ALTER TABLE manifests ADD COLUMN deleted_at TEXT;
UPDATE manifests SET owner = signer WHERE owner IS NULL;
CREATE TABLE IF NOT EXISTS bindings (
    alg            TEXT NOT NULL,
    value          TEXT NOT NULL,
    manifest_label TEXT NOT NULL,
    owner          TEXT,
    publisher      TEXT,
    created_at     TEXT NOT NULL,
    replaced_at    TEXT,
    PRIMARY KEY (alg, value, manifest_label)
);
CREATE INDEX IF NOT EXISTS bindings_by_value ON bindings (value);
CREATE TABLE IF NOT EXISTS audit (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             TEXT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    manifest_label TEXT,
    payload_id     TEXT,
    detail         TEXT
);
"""
_COLUMNS = ("payload_id, manifest_label, manifest_store, fmt, key_id, signer, created_at, "
            "content_sha256, fingerprint, title")
_COLUMNS_3 = _COLUMNS + ", owner, publisher"
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/")  # two letters at least: not C:/
POSTGRES_SCHEMES = ("postgresql", "postgres")


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
    # Who the record belongs to (the signer's organisation and issuer, or its subject), and
    # the publishing token that sent it (None when written by `sign` itself).
    owner: str | None = None
    publisher: str | None = None

    @property
    def owner_id(self) -> str:
        """Whose record this is: :attr:`owner`, else the signer (normalised)."""
        return normalize_owner(self.owner or self.signer or "")


def normalize_owner(name: str) -> str:
    """A signer's subject as the store compares it: ``CN=...,O=...`` (RFC 4514, CN and O
    only), so the subject `sign` records and the signer a published manifest names (its
    common name and organisation) compare equal. Text that is no DN is kept as it is."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    if "=" not in name:
        return name
    try:
        parsed = x509.Name.from_rfc4514_string(name)
    except ValueError:
        return name
    parts = [x509.Name([x509.NameAttribute(oid, str(attr.value))]).rfc4514_string()
             for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME)
             for attr in parsed.get_attributes_for_oid(oid)]
    return ",".join(parts) or name


@dataclass(frozen=True)
class AuditEntry:
    """One write (or refused write) of a store: who, what, when; never a token or the bytes."""

    at: str
    actor: str
    action: str
    outcome: str
    manifest_label: str | None
    payload_id: str | None
    detail: str | None

    def to_dict(self) -> dict[str, str | None]:
        """The entry as JSON."""
        return dict(self.__dict__)


def store_location(location: str | os.PathLike[str]) -> tuple[str, str]:
    """``("sqlite", path)`` or ``("postgresql", url)`` for a store argument.

    A URL of any other scheme is refused with ``store.unsupported-url`` (it was once taken for
    a file path). ``pathlib.Path`` folds ``//`` to ``/``: a PostgreSQL URL that went through a
    ``Path`` is restored.
    """
    text = os.fspath(location)
    match = _URL.match(text)
    if match is None:
        return "sqlite", text
    scheme = match.group(1).lower()
    if scheme in POSTGRES_SCHEMES:
        rest = text[match.end():].lstrip("/")
        return "postgresql", f"postgresql://{rest}"
    raise StoreError(
        "store.unsupported-url",
        f"{scheme}:// is not a manifest store this veriframe can use",
        "give a file path (SQLite) or a postgresql://user@host/database URL",
    )


def rank_near(rows: Iterable[Any], fingerprint: str, *, max_distance: float, limit: int,
              record_of: Callable[[Any], StoreRecord]) -> list[tuple[StoreRecord, float]]:
    """Candidate rows (the fingerprint in column 8) within ``max_distance`` of
    ``fingerprint``, nearest first, at most ``limit`` (shared by both back ends)."""
    from veriframe.errors import VeriframeError
    from veriframe.watermark.fingerprint import fingerprint_distance

    found = []
    for row in rows:
        if row is None or not row[8]:
            continue
        try:
            distance = fingerprint_distance(fingerprint, str(row[8]))
        except VeriframeError:
            continue
        if distance <= max_distance:
            found.append((record_of(row), distance))
    found.sort(key=lambda item: item[1])
    return found[:limit]


def redact_url(url: str) -> str:
    """A database URL without its password (for messages and logs)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def store_sha256(data: bytes) -> str:
    """The hash an append-only store compares manifest bytes by."""
    return hashlib.sha256(data).hexdigest()


def check_append(rec: StoreRecord, *,
                 same_label: Sequence[tuple[str, str, str | None, bytes | None, bool]],
                 same_payload_owners: set[str]) -> bool:
    """The append-only rule, shared by both back ends.

    ``same_label``: (payload_id, owner, store_sha256, bytes, deleted) of the records already
    holding the record's manifest id; ``same_payload_owners``: the owners of every record
    (tombstones included) of its payload id. True: an identical record is already there
    (nothing to write); raises ``store.conflict`` where the record would replace or shadow
    another one, or publish a deleted manifest again.
    """
    digest = store_sha256(rec.manifest_store)
    for payload_id, _owner, sha, data, deleted in same_label:
        held = sha or (store_sha256(data) if data is not None else None)
        if payload_id == rec.payload_id.lower() and held == digest and not deleted:
            return True
        if deleted:
            raise StoreError(
                "store.conflict", f"the manifest {rec.manifest_label[:80]} was deleted here",
                "a deleted manifest is not published again: sign again")
        raise StoreError(
            "store.conflict",
            f"the manifest {rec.manifest_label[:80]} is already stored with other content",
            "a stored manifest is never replaced: sign again to make a new manifest",
        )
    others = {o for o in same_payload_owners if o != rec.owner_id}
    if others:
        raise StoreError(
            "store.conflict",
            f"the payload id {rec.payload_id[:32]} already belongs to another signer's manifest",
            "a payload id is never reassigned to another signer",
        )
    return False


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
        owner=_opt(row[10]) if len(row) > 10 else None,
        publisher=_opt(row[11]) if len(row) > 11 else None,
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

    A ``postgresql://`` URL opens a :class:`~veriframe.credentials.store_pg.PostgresStore`
    instead (the same methods); another URL scheme is refused with ``store.unsupported-url``.
    """

    backend = "sqlite"

    def __new__(cls, path: str | os.PathLike[str], **kwargs: object) -> ManifestStore:
        if cls is ManifestStore and store_location(path)[0] == "postgresql":
            from veriframe.credentials.store_pg import PostgresStore

            return super().__new__(PostgresStore)
        return super().__new__(cls)

    def __init__(self, path: str | os.PathLike[str], *, keep_open: bool = False) -> None:
        self.path = Path(store_location(path)[1])
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
        if version in (1, 2) and create:
            self._migrate(conn)
            return
        if version in (1, 2):
            return  # readable as it is (see _live); the migration comes with the next write
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
                for stmt in _statements(_SCHEMA + _SCHEMA_2 + _SCHEMA_3):
                    conn.execute(stmt)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Versioned migrations, each in the one write transaction: 1 -> 2 adds the label
        index and the fingerprint band index (filled from existing rows); 2 -> 3 makes the
        records append-only (owner, publisher, tombstones), adds bindings and the audit log."""
        with _write(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 1:
                for stmt in _statements(_SCHEMA_2):
                    conn.execute(stmt)
                rows = conn.execute("SELECT rowid, fingerprint FROM manifests").fetchall()
                for record, fp in rows:
                    _insert_bands(conn, record, fp)
                version = 2
            if version == 2:
                for stmt in _statements(_SCHEMA_3):
                    conn.execute(stmt)
                version = 3
            conn.execute(f"PRAGMA user_version = {version}")

    def schema_version(self) -> int:
        """The schema version of the store on disk (0: not created yet)."""
        if not self.path.exists():
            return 0

        def op() -> int:
            with self._open(create=False) as conn:
                return int(conn.execute("PRAGMA user_version").fetchone()[0])

        return self._retry(op)

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
    def _live(self, conn: sqlite3.Connection) -> str:
        """The SQL condition of a record that is not a tombstone (none before schema 3).
        Kept per kept-open connection once the schema is the newest (it cannot change)."""
        if getattr(self._local, "live_conn", None) is conn:
            return " AND deleted_at IS NULL"
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION and self._keep_open:
            self._local.live_conn = conn
        return " AND deleted_at IS NULL" if version >= 3 else ""

    def put(self, record: StoreRecord) -> StoreRecord:
        """Append ``record``; return what is stored.

        Idempotent for the same manifest id with the same bytes; ``store.conflict`` where it
        would replace a stored manifest, or take a payload id that another signer's record
        (a tombstone included) holds. The same signer's new manifest for a payload id is
        appended: the newest is what lookups answer, the older ones stay as history.
        """
        if not record.payload_id or not record.manifest_store:
            raise StoreError(
                "store.bad-record", "a store record needs a payload id and manifest bytes",
                "this is a bug in the caller",
            )
        rec = record if record.created_at else _replace_created(record, _now())

        def op() -> StoreRecord:
            with self._open(create=True) as conn, _write(conn):
                same_label = conn.execute(
                    "SELECT payload_id, owner, store_sha256, manifest_store, "
                    "deleted_at IS NOT NULL FROM manifests WHERE manifest_label = ?",
                    (rec.manifest_label,)).fetchall()
                owners = {normalize_owner(str(r[0] or "")) for r in conn.execute(
                    "SELECT COALESCE(owner, signer) FROM manifests WHERE payload_id = ?",
                    (rec.payload_id.lower(),))}
                if check_append(rec, same_label=[(str(r[0]), str(r[1] or ""), r[2],
                                                  bytes(r[3]), bool(r[4])) for r in same_label],
                                same_payload_owners=owners):
                    return rec
                conn.execute(
                    f"INSERT INTO manifests ({_COLUMNS_3}, store_sha256) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        rec.payload_id.lower(), rec.manifest_label,
                        sqlite3.Binary(rec.manifest_store), rec.fmt, rec.key_id,
                        rec.signer, rec.created_at, rec.content_sha256, rec.fingerprint,
                        rec.title, rec.owner_id, rec.publisher,
                        store_sha256(rec.manifest_store),
                    ),
                )
                _insert_bands(conn, _rowid(conn, rec), rec.fingerprint)
            return rec

        return self._retry(op)

    def get(self, payload_id: str) -> StoreRecord | None:
        """The newest live record for ``payload_id`` (hex), or None."""
        return self._newest("payload_id", payload_id.lower())

    def get_by_label(self, manifest_label: str) -> StoreRecord | None:
        """The live record of the manifest labelled ``manifest_label`` (a C2PA manifest id)."""
        return self._newest("manifest_label", manifest_label)

    def history(self, payload_id: str) -> list[tuple[StoreRecord, str | None]]:
        """Every record of ``payload_id``, oldest first, with its deletion time (or None)."""
        if not self.path.exists():
            return []

        def op() -> list[tuple[StoreRecord, str | None]]:
            with self._open(create=False) as conn:
                if not _has_table(conn) or not self._live(conn):
                    return []
                rows = conn.execute(
                    f"SELECT {_COLUMNS_3}, deleted_at FROM manifests WHERE payload_id = ? "
                    "ORDER BY created_at, rowid", (payload_id.lower(),)).fetchall()
            return [(_row_record(r), _opt(r[12])) for r in rows]

        return self._retry(op)

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
                    "SELECT manifest_label FROM manifests WHERE payload_id = ?"
                    f"{self._live(conn)} ORDER BY created_at DESC, rowid DESC LIMIT ?",
                    (payload_id.lower(), limit)).fetchall()
            return [str(r[0]) for r in rows]

        return self._retry(op)

    def _newest(self, column: str, value: str) -> StoreRecord | None:
        """The newest live record whose indexed ``column`` equals ``value``."""
        if not self.path.exists():
            return None

        def op() -> StoreRecord | None:
            with self._open(create=False) as conn:
                if not _has_table(conn):
                    return None
                live = self._live(conn)
                cols = _COLUMNS_3 if live else _COLUMNS
                row = conn.execute(
                    f"SELECT {cols} FROM manifests WHERE {column} = ?{live} "
                    "ORDER BY created_at DESC, rowid DESC LIMIT 1", (value,),
                ).fetchone()
            return None if row is None else _row_record(row)

        return self._retry(op)

    def delete(self, manifest_label: str, *, owner: str | None = None) -> StoreRecord | None:
        """Make the manifest ``manifest_label`` a tombstone: hidden from every lookup, its
        payload id still claimed, its bytes kept. None when there is no live such manifest;
        ``store.forbidden`` when ``owner`` is given and is not the record's owner."""

        def op() -> StoreRecord | None:
            with self._open(create=True) as conn, _write(conn):
                row = conn.execute(
                    f"SELECT {_COLUMNS_3} FROM manifests WHERE manifest_label = ? "
                    "AND deleted_at IS NULL", (manifest_label,)).fetchone()
                if row is None:
                    return None
                rec = _row_record(row)
                if owner is not None and rec.owner_id != owner:
                    raise _not_owner(manifest_label)
                conn.execute("UPDATE manifests SET deleted_at = ? WHERE manifest_label = ?",
                             (_now(), manifest_label))
                conn.execute("UPDATE bindings SET replaced_at = ? WHERE manifest_label = ? "
                             "AND replaced_at IS NULL", (_now(), manifest_label))
            return rec

        return self._retry(op)

    def bind(self, alg: str, value: str, manifest_label: str, *, owner: str | None,
             publisher: str | None, replace: bool = False) -> None:
        """Associate the soft-binding ``value`` of ``alg`` with a stored manifest.

        ``store.not-found`` for an unknown manifest (or, with ``replace``, a value never
        bound); ``store.conflict`` where the value already points to another signer's
        manifest (or, for the watermark algorithm, is another signer's payload id);
        ``store.forbidden`` where ``owner`` does not own the manifest. ``replace`` points the
        value to this manifest instead (the old association stays as history).
        """

        def op() -> None:
            with self._open(create=True) as conn, _write(conn):
                row = conn.execute(
                    "SELECT COALESCE(owner, signer) FROM manifests WHERE manifest_label = ? "
                    "AND deleted_at IS NULL", (manifest_label,)).fetchone()
                if row is None:
                    raise _no_manifest(manifest_label)
                target_owner = normalize_owner(str(row[0] or ""))
                if owner is not None and target_owner != owner:
                    raise _not_owner(manifest_label)
                current = conn.execute(
                    "SELECT b.manifest_label, COALESCE(b.owner, '') FROM bindings b "
                    "WHERE b.alg = ? AND b.value = ? AND b.replaced_at IS NULL",
                    (alg, value)).fetchall()
                payload_owners = _payload_owners_for_value(conn, alg, value)
                _check_binding(alg, value, manifest_label, target_owner, replace=replace,
                               current=[(str(r[0]), str(r[1])) for r in current],
                               payload_owners=payload_owners)
                if any(str(r[0]) == manifest_label for r in current):
                    return  # already so
                now = _now()
                if replace:
                    conn.execute("UPDATE bindings SET replaced_at = ? WHERE alg = ? AND "
                                 "value = ? AND replaced_at IS NULL", (now, alg, value))
                conn.execute(
                    "INSERT INTO bindings (alg, value, manifest_label, owner, publisher, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (alg, value, "
                    "manifest_label) DO UPDATE SET replaced_at = NULL, created_at = "
                    "excluded.created_at", (alg, value, manifest_label, target_owner,
                                            publisher, now))

        self._retry(op)

    def bound_labels(self, alg: str, value: str, *, limit: int = 10) -> list[str]:
        """The manifests a binding value was associated with (:meth:`bind`), newest first."""
        if not self.path.exists():
            return []

        def op() -> list[str]:
            with self._open(create=False) as conn:
                if not _has_table(conn) or not self._live(conn):
                    return []
                rows = conn.execute(
                    "SELECT manifest_label FROM bindings WHERE alg = ? AND value = ? AND "
                    "replaced_at IS NULL ORDER BY created_at DESC LIMIT ?",
                    (alg, value, limit)).fetchall()
            return [str(r[0]) for r in rows]

        return self._retry(op)

    def watermark_labels(self, payload_id: str, alg: str, value: str, *,
                         limit: int = 10) -> list[str]:
        """What a watermark binding lookup answers: the payload id's live manifests, newest
        first, then the manifests its binding value was associated with (one statement: it is
        the resolver's hot path)."""
        if not self.path.exists():
            return []

        def op() -> list[str]:
            with self._open(create=False) as conn:
                if not _has_table(conn):
                    return []
                if not self._live(conn):  # before schema 3: no bindings table
                    return self.labels(payload_id, limit=limit)
                rows = conn.execute(
                    "SELECT manifest_label FROM (SELECT * FROM (SELECT manifest_label, 0 AS "
                    "src, created_at AS c, rowid AS r FROM manifests WHERE payload_id = ? AND "
                    "deleted_at IS NULL ORDER BY created_at DESC, rowid DESC LIMIT ?) UNION ALL "
                    "SELECT * FROM (SELECT manifest_label, 1, created_at, 0 FROM bindings "
                    "WHERE alg = ? AND value = ? AND replaced_at IS NULL "
                    "ORDER BY created_at DESC LIMIT ?)) ORDER BY src, c DESC, r DESC",
                    (payload_id.lower(), limit, alg, value, limit)).fetchall()
            return list(dict.fromkeys(str(r[0]) for r in rows))[:limit]

        return self._retry(op)

    def audit(self, *, actor: str, action: str, outcome: str,
              manifest_label: str | None = None, payload_id: str | None = None,
              detail: str | None = None) -> None:
        """Append one entry to the audit log (who, what, when; never a secret)."""

        def op() -> None:
            with self._open(create=True) as conn, _write(conn):
                conn.execute(
                    "INSERT INTO audit (at, actor, action, outcome, manifest_label, "
                    "payload_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (_now(), actor, action, outcome, manifest_label, payload_id, detail))

        self._retry(op)

    def audit_log(self, *, limit: int = 100) -> list[AuditEntry]:
        """The newest audit entries, newest first."""
        if not self.path.exists():
            return []

        def op() -> list[AuditEntry]:
            with self._open(create=False) as conn:
                if not _has_table(conn) or not self._live(conn):
                    return []
                rows = conn.execute(
                    "SELECT at, actor, action, outcome, manifest_label, payload_id, detail "
                    "FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
            return [AuditEntry(*(None if v is None else str(v) for v in r))  # type: ignore[arg-type]
                    for r in rows]

        return self._retry(op)

    def ping(self) -> None:
        """Raise :class:`StoreError` unless the store can be read now."""
        self.count()

    def find_by_fingerprint(
        self, fingerprint: str, *, max_distance: float, limit: int = 10
    ) -> list[tuple[StoreRecord, float]]:
        """Stored manifests whose content fingerprint is within ``max_distance`` of
        ``fingerprint``, nearest first (at most ``limit``).

        Candidates are the records sharing a 16-bit band of a frame's coarse hash with the
        query (the :data:`CANDIDATES` with the most shared bands); each is then compared in
        full with :func:`veriframe.watermark.fingerprint_distance`.
        """

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
                live = self._live(conn)
                rows = [conn.execute(f"SELECT {_COLUMNS} FROM manifests WHERE rowid = ?{live}",
                                     (record,)).fetchone() for record in best]
            return rank_near(rows, fingerprint, max_distance=max_distance, limit=limit,
                             record_of=_row_record)

        return self._retry(op)

    def put_many(self, records: list[StoreRecord]) -> int:
        """Store many new records in one transaction (bulk loads, no conflict check: a record
        whose payload id and manifest id are already stored is skipped); returns how many."""
        def op() -> int:
            with self._open(create=True) as conn, _write(conn):
                for rec in records:
                    conn.execute(
                        f"INSERT OR IGNORE INTO manifests ({_COLUMNS_3}, store_sha256) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (rec.payload_id.lower(), rec.manifest_label,
                         sqlite3.Binary(rec.manifest_store), rec.fmt, rec.key_id,
                         rec.signer, rec.created_at or _now(), rec.content_sha256,
                         rec.fingerprint, rec.title, rec.owner_id, rec.publisher,
                         store_sha256(rec.manifest_store)))
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


def _statements(script: str) -> list[str]:
    return [st for st in (x.strip() for x in script.split(";")) if st]


def _no_manifest(label: str) -> StoreError:
    return StoreError("store.not-found", f"no manifest {label[:80]} is stored here",
                      "publish the manifest first")


def _not_owner(label: str) -> StoreError:
    return StoreError("store.forbidden",
                      f"the manifest {label[:80]} belongs to another signer",
                      "only the signer of a manifest can change what points to it")


def _payload_owners_for_value(conn: sqlite3.Connection, alg: str, value: str) -> set[str]:
    payload = _binding_payload(alg, value)
    if payload is None:
        return set()
    return {normalize_owner(str(r[0] or "")) for r in conn.execute(
        "SELECT COALESCE(owner, signer) FROM manifests WHERE payload_id = ?", (payload,))}


def _binding_payload(alg: str, value: str) -> str | None:
    """The payload id a watermark binding value names (None for other algorithms)."""
    from veriframe.credentials.manifest import SOFT_BINDING_ALG

    if alg != SOFT_BINDING_ALG:
        return None
    import base64
    import binascii

    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    return raw.hex() if len(raw) == 8 else None


def _check_binding(alg: str, value: str, label: str, owner: str, *, replace: bool,
                   current: list[tuple[str, str]], payload_owners: set[str]) -> None:
    """The append-only rule for bindings, shared by both back ends."""
    if payload_owners - {owner}:
        raise StoreError("store.conflict",
                         "that watermark value is another signer's payload id",
                         "a binding never points another signer's mark elsewhere")
    if any(o != owner for _, o in current):
        raise StoreError("store.conflict",
                         "that binding value already points to another signer's manifest",
                         "a binding is never taken from another signer")
    if replace and not current:
        raise StoreError("store.not-found", "that binding value is not bound to a manifest",
                         "create it with POST /bindings")
    if not replace and current and all(lab != label for lab, _ in current):
        raise StoreError("store.conflict",
                         "that binding value already points to another manifest",
                         "use PUT /bindings to point it elsewhere")
