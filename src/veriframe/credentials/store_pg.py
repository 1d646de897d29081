"""The manifest store on PostgreSQL: one database for several resolver replicas.

``ManifestStore("postgresql://user@host/db")`` opens it (this class: the same methods and the
same append-only rules as the SQLite store). Every write is one transaction that takes
advisory locks on the payload id and the manifest id before it checks what is held, so two
replicas publishing at once cannot both win; a record is acknowledged only after its commit.
A lost connection (a fail-over, a restarted server) is reopened and the call retried once:
that is safe because every write is idempotent (the same manifest again is a no-op).

Near-match fingerprint search stays indexed: the same band table as SQLite (every 16-bit
quarter of each frame's 64-bit coarse hash, a B-tree primary key ``(band, value, record)``),
queried in one statement that counts shared bands per record. A ``bit(64)`` column cannot be
searched by Hamming distance through any built-in index; the bands make the pigeonhole
principle do it (a frame hash within 3 bits of the query shares at least one band exactly).

Migrations are versioned in ``veriframe_schema``; each runs in one transaction under an
advisory lock, so replicas starting together migrate once.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from veriframe.credentials.store import (
    CANDIDATES,
    AuditEntry,
    ManifestStore,
    StoreRecord,
    _binding_payload,
    _check_binding,
    _no_manifest,
    _not_owner,
    _now,
    _replace_created,
    check_append,
    fingerprint_bands,
    normalize_owner,
    rank_near,
    redact_url,
    store_location,
    store_sha256,
)
from veriframe.errors import StoreError

T = TypeVar("T")
PG_SCHEMA_VERSION = 2
CONNECT_TIMEOUT_S = 5
_LOCK_MIGRATE = 0x7665726966  # advisory lock id for migrations ("verif")

# Versioned migrations: (version, statements). Never edit one that has shipped; add another.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, """
CREATE TABLE manifests (
    id             BIGSERIAL PRIMARY KEY,
    payload_id     TEXT NOT NULL,
    manifest_label TEXT NOT NULL,
    manifest_store BYTEA NOT NULL,
    fmt            TEXT NOT NULL,
    key_id         TEXT,
    signer         TEXT,
    created_at     TEXT NOT NULL,
    content_sha256 TEXT,
    fingerprint    TEXT,
    title          TEXT,
    UNIQUE (payload_id, manifest_label)
);
CREATE INDEX manifests_by_payload ON manifests (payload_id, id);
CREATE INDEX manifests_by_label ON manifests (manifest_label);
CREATE TABLE fingerprint_bands (
    band   SMALLINT NOT NULL,
    value  INTEGER NOT NULL,
    record BIGINT NOT NULL REFERENCES manifests (id),
    PRIMARY KEY (band, value, record)
);
CREATE INDEX fingerprint_bands_by_record ON fingerprint_bands (record);
"""),
    (2, """
ALTER TABLE manifests ADD COLUMN owner TEXT;
ALTER TABLE manifests ADD COLUMN publisher TEXT;
ALTER TABLE manifests ADD COLUMN store_sha256 TEXT;
ALTER TABLE manifests ADD COLUMN deleted_at TEXT;
UPDATE manifests SET owner = signer WHERE owner IS NULL;
CREATE TABLE bindings (
    alg            TEXT NOT NULL,
    value          TEXT NOT NULL,
    manifest_label TEXT NOT NULL,
    owner          TEXT,
    publisher      TEXT,
    created_at     TEXT NOT NULL,
    replaced_at    TEXT,
    PRIMARY KEY (alg, value, manifest_label)
);
CREATE INDEX bindings_by_value ON bindings (value);
CREATE TABLE audit (
    id             BIGSERIAL PRIMARY KEY,
    at             TEXT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    manifest_label TEXT,
    payload_id     TEXT,
    detail         TEXT
);
"""),
)
_COLS = ("payload_id, manifest_label, manifest_store, fmt, key_id, signer, created_at, "
         "content_sha256, fingerprint, title, owner, publisher")


def _row_record(row: Any) -> StoreRecord:
    def opt(v: Any) -> str | None:
        return None if v is None else str(v)

    return StoreRecord(
        payload_id=str(row[0]), manifest_label=str(row[1]), manifest_store=bytes(row[2]),
        fmt=str(row[3]), key_id=opt(row[4]), signer=opt(row[5]), created_at=opt(row[6]),
        content_sha256=opt(row[7]), fingerprint=opt(row[8]), title=opt(row[9]),
        owner=opt(row[10]), publisher=opt(row[11]))


class PostgresStore(ManifestStore):
    """A manifest store in a PostgreSQL database (see the module docstring)."""

    backend = "postgresql"

    def __init__(self, path: str | os.PathLike[str], *, keep_open: bool = False) -> None:
        self.url = store_location(path)[1]
        self.path = Path(os.devnull)  # no file: nothing may treat the URL as one
        self._keep_open = True
        self._local = threading.local()
        self._migrated = False
        self._lock = threading.Lock()
        self._all: list[Any] = []

    def __repr__(self) -> str:
        return f"PostgresStore({redact_url(self.url)!r})"

    # --- connections ----------------------------------------------------------------------
    def _connect(self, *, create: bool = False) -> Any:
        try:
            import psycopg
        except ImportError:
            raise StoreError("store.driver-missing",
                             "PostgreSQL stores need the psycopg driver",
                             "pip install 'veriframe[postgres]'") from None
        try:
            conn = psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S,
                                   autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(
                "store.unreachable",
                f"cannot connect to the manifest store {redact_url(self.url)}: "
                f"{_first_line(exc)}",
                "check the URL, that the database runs and that this user may connect",
            ) from None
        with self._lock:
            self._all.append(conn)
        if not self._migrated:
            self._migrate(conn)
        return conn

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            for conn in self._all:
                with contextlib.suppress(Exception):  # closing a dead connection
                    conn.close()
            self._all.clear()
        self._local = threading.local()

    @contextmanager
    def _tx(self, *, write: bool = True) -> Iterator[Any]:
        """A cursor: for a write, in one transaction (committed on success, rolled back on
        any error); a read is one statement on the autocommit connection (one round trip)."""
        conn = self._conn()
        try:
            if write:
                with conn.transaction(), conn.cursor() as cur:
                    yield cur
            else:
                with conn.cursor() as cur:
                    yield cur
        except BaseException:
            if conn.broken or conn.closed:
                self._local.conn = None
            raise

    def _retry(self, op: Callable[[], T]) -> T:
        """Run ``op``; a lost connection is reopened and ``op`` run again (writes are
        idempotent); a serialisation failure or deadlock is retried a few times."""
        import psycopg
        from psycopg import errors as pgerr

        delay = 0.05
        for attempt in range(6):
            try:
                return op()
            except StoreError as exc:
                # A server that is restarting refuses connections for a moment: try again.
                if exc.code != "store.unreachable" or attempt >= 2:
                    raise
            except (pgerr.SerializationFailure, pgerr.DeadlockDetected,
                    pgerr.UniqueViolation) as exc:
                if attempt == 5:
                    raise StoreError("store.busy", f"the manifest store could not commit: "
                                     f"{_first_line(exc)}", "try again") from None
            except psycopg.OperationalError as exc:
                self._local.conn = None
                if attempt >= 2:
                    raise StoreError(
                        "store.unreachable",
                        f"the manifest store {redact_url(self.url)} is not reachable: "
                        f"{_first_line(exc)}", "check the database server") from None
            except psycopg.Error as exc:
                raise StoreError("store.corrupt", f"the manifest store "
                                 f"{redact_url(self.url)} refused a query: {_first_line(exc)}",
                                 "check its schema version and the server log") from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")  # pragma: no cover

    def _migrate(self, conn: Any, *, upto: int = PG_SCHEMA_VERSION) -> None:
        """Apply the versioned migrations up to ``upto`` (once, under an advisory lock)."""
        import psycopg

        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_MIGRATE,))
                cur.execute("CREATE TABLE IF NOT EXISTS veriframe_schema ("
                            "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
                cur.execute("SELECT COALESCE(MAX(version), 0) FROM veriframe_schema")
                current = int(cur.fetchone()[0])
                if current > PG_SCHEMA_VERSION:
                    raise StoreError(
                        "store.newer-schema",
                        f"the manifest store has schema {current}; this veriframe knows "
                        f"{PG_SCHEMA_VERSION}", "upgrade veriframe")
                for version, script in MIGRATIONS:
                    if current < version <= upto:
                        for stmt in (s.strip() for s in script.split(";")):
                            if stmt:
                                cur.execute(stmt)
                        cur.execute("INSERT INTO veriframe_schema VALUES (%s, %s)",
                                    (version, _now()))
        except psycopg.Error as exc:
            raise StoreError("store.unwritable", f"the manifest store "
                             f"{redact_url(self.url)} cannot be migrated: {_first_line(exc)}",
                             "the database user needs CREATE on its schema") from None
        self._migrated = upto == PG_SCHEMA_VERSION

    def schema_version(self) -> int:
        """The applied migration version."""
        def op() -> int:
            with self._tx(write=False) as cur:
                cur.execute("SELECT COALESCE(MAX(version), 0) FROM veriframe_schema")
                return int(cur.fetchone()[0])

        return self._retry(op)

    # --- writes ---------------------------------------------------------------------------
    def put(self, record: StoreRecord) -> StoreRecord:
        """Append ``record`` (the same rules as :meth:`ManifestStore.put`)."""
        if not record.payload_id or not record.manifest_store:
            raise StoreError("store.bad-record",
                             "a store record needs a payload id and manifest bytes",
                             "this is a bug in the caller")
        rec = record if record.created_at else _replace_created(record, _now())
        payload = rec.payload_id.lower()

        def op() -> StoreRecord:
            with self._tx() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                            ("p:" + payload,))
                cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                            ("l:" + rec.manifest_label,))
                cur.execute("SELECT payload_id, COALESCE(owner, ''), store_sha256, "
                            "manifest_store, deleted_at IS NOT NULL FROM manifests "
                            "WHERE manifest_label = %s", (rec.manifest_label,))
                same_label = [(str(r[0]), str(r[1]), r[2], bytes(r[3]), bool(r[4]))
                              for r in cur.fetchall()]
                cur.execute("SELECT DISTINCT COALESCE(owner, signer, '') FROM manifests "
                            "WHERE payload_id = %s", (payload,))
                owners = {normalize_owner(str(r[0])) for r in cur.fetchall()}
                if check_append(rec, same_label=same_label, same_payload_owners=owners):
                    return rec
                cur.execute(
                    f"INSERT INTO manifests ({_COLS}, store_sha256) VALUES "
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (payload, rec.manifest_label, rec.manifest_store, rec.fmt, rec.key_id,
                     rec.signer, rec.created_at, rec.content_sha256, rec.fingerprint,
                     rec.title, rec.owner_id, rec.publisher, store_sha256(rec.manifest_store)))
                rid = int(cur.fetchone()[0])
                bands = sorted(fingerprint_bands(rec.fingerprint))
                if bands:
                    cur.executemany("INSERT INTO fingerprint_bands (band, value, record) "
                                    "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                                    [(b, v, rid) for b, v in bands])
            return rec

        return self._retry(op)

    def put_many(self, records: list[StoreRecord]) -> int:
        """Bulk-load new records with COPY (no conflict check: for loads into an empty or
        disjoint store, as the load benchmark does); returns how many."""
        if not records:
            return 0

        def op() -> int:
            with self._tx() as cur:
                cur.execute("SELECT nextval('manifests_id_seq') FROM generate_series(1, %s)",
                            (len(records),))
                ids = [int(r[0]) for r in cur.fetchall()]
                with cur.copy(f"COPY manifests (id, {_COLS}, store_sha256) FROM STDIN") as cp:
                    for rid, rec in zip(ids, records, strict=True):
                        cp.write_row((rid, rec.payload_id.lower(), rec.manifest_label,
                                      rec.manifest_store, rec.fmt, rec.key_id, rec.signer,
                                      rec.created_at or _now(), rec.content_sha256,
                                      rec.fingerprint, rec.title, rec.owner_id, rec.publisher,
                                      store_sha256(rec.manifest_store)))
                with cur.copy("COPY fingerprint_bands (band, value, record) FROM STDIN") as cp:
                    for rid, rec in zip(ids, records, strict=True):
                        for band, value in sorted(fingerprint_bands(rec.fingerprint)):
                            cp.write_row((band, value, rid))
            return len(records)

        return self._retry(op)

    def delete(self, manifest_label: str, *, owner: str | None = None) -> StoreRecord | None:
        """Make a manifest a tombstone (see :meth:`ManifestStore.delete`)."""
        def op() -> StoreRecord | None:
            with self._tx() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                            ("l:" + manifest_label,))
                cur.execute(f"SELECT {_COLS} FROM manifests WHERE manifest_label = %s AND "
                            "deleted_at IS NULL", (manifest_label,))
                row = cur.fetchone()
                if row is None:
                    return None
                rec = _row_record(row)
                if owner is not None and rec.owner_id != owner:
                    raise _not_owner(manifest_label)
                now = _now()
                cur.execute("UPDATE manifests SET deleted_at = %s WHERE manifest_label = %s",
                            (now, manifest_label))
                cur.execute("UPDATE bindings SET replaced_at = %s WHERE manifest_label = %s "
                            "AND replaced_at IS NULL", (now, manifest_label))
            return rec

        return self._retry(op)

    def bind(self, alg: str, value: str, manifest_label: str, *, owner: str | None,
             publisher: str | None, replace: bool = False) -> None:
        """Associate a binding value with a stored manifest (see
        :meth:`ManifestStore.bind`)."""
        def op() -> None:
            with self._tx() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                            (f"b:{alg}:{value}",))
                cur.execute("SELECT COALESCE(owner, signer, '') FROM manifests WHERE "
                            "manifest_label = %s AND deleted_at IS NULL", (manifest_label,))
                row = cur.fetchone()
                if row is None:
                    raise _no_manifest(manifest_label)
                target = normalize_owner(str(row[0]))
                if owner is not None and target != owner:
                    raise _not_owner(manifest_label)
                cur.execute("SELECT manifest_label, COALESCE(owner, '') FROM bindings WHERE "
                            "alg = %s AND value = %s AND replaced_at IS NULL", (alg, value))
                current = [(str(r[0]), str(r[1])) for r in cur.fetchall()]
                payload = _binding_payload(alg, value)
                owners: set[str] = set()
                if payload is not None:
                    cur.execute("SELECT DISTINCT COALESCE(owner, signer, '') FROM manifests "
                                "WHERE payload_id = %s", (payload,))
                    owners = {normalize_owner(str(r[0])) for r in cur.fetchall()}
                _check_binding(alg, value, manifest_label, target, replace=replace,
                               current=current, payload_owners=owners)
                if any(lab == manifest_label for lab, _ in current):
                    return
                now = _now()
                if replace:
                    cur.execute("UPDATE bindings SET replaced_at = %s WHERE alg = %s AND "
                                "value = %s AND replaced_at IS NULL", (now, alg, value))
                cur.execute(
                    "INSERT INTO bindings (alg, value, manifest_label, owner, publisher, "
                    "created_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (alg, value, "
                    "manifest_label) DO UPDATE SET replaced_at = NULL, "
                    "created_at = EXCLUDED.created_at",
                    (alg, value, manifest_label, target, publisher, now))

        self._retry(op)

    def audit(self, *, actor: str, action: str, outcome: str,
              manifest_label: str | None = None, payload_id: str | None = None,
              detail: str | None = None) -> None:
        """Append one audit entry."""
        def op() -> None:
            with self._tx() as cur:
                cur.execute("INSERT INTO audit (at, actor, action, outcome, manifest_label, "
                            "payload_id, detail) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                            (_now(), actor, action, outcome, manifest_label, payload_id,
                             detail))

        self._retry(op)

    # --- reads ----------------------------------------------------------------------------
    def _one(self, sql: str, args: tuple[Any, ...]) -> StoreRecord | None:
        def op() -> StoreRecord | None:
            with self._tx(write=False) as cur:
                cur.execute(sql, args)
                row = cur.fetchone()
            return None if row is None else _row_record(row)

        return self._retry(op)

    def get(self, payload_id: str) -> StoreRecord | None:
        """The newest live record for ``payload_id``."""
        return self._one(f"SELECT {_COLS} FROM manifests WHERE payload_id = %s AND "
                         "deleted_at IS NULL ORDER BY id DESC LIMIT 1", (payload_id.lower(),))

    def get_by_label(self, manifest_label: str) -> StoreRecord | None:
        """The live record of the manifest ``manifest_label``."""
        return self._one(f"SELECT {_COLS} FROM manifests WHERE manifest_label = %s AND "
                         "deleted_at IS NULL ORDER BY id DESC LIMIT 1", (manifest_label,))

    def _labels(self, sql: str, args: tuple[Any, ...]) -> list[str]:
        def op() -> list[str]:
            with self._tx(write=False) as cur:
                cur.execute(sql, args)
                return [str(r[0]) for r in cur.fetchall()]

        return self._retry(op)

    def labels(self, payload_id: str, *, limit: int = 10) -> list[str]:
        """Live manifest ids of ``payload_id``, newest first."""
        return self._labels("SELECT manifest_label FROM manifests WHERE payload_id = %s AND "
                            "deleted_at IS NULL ORDER BY id DESC LIMIT %s",
                            (payload_id.lower(), limit))

    def watermark_labels(self, payload_id: str, alg: str, value: str, *,
                         limit: int = 10) -> list[str]:
        """Both lookups of :meth:`ManifestStore.watermark_labels` in one round trip."""
        rows = self._labels(
            "(SELECT manifest_label, 0 AS src, id AS ord FROM manifests WHERE payload_id = %s "
            " AND deleted_at IS NULL ORDER BY id DESC LIMIT %s) UNION ALL "
            "(SELECT manifest_label, 1, 0 FROM bindings WHERE alg = %s AND value = %s AND "
            " replaced_at IS NULL ORDER BY created_at DESC LIMIT %s) ORDER BY src, ord DESC",
            (payload_id.lower(), limit, alg, value, limit))
        return list(dict.fromkeys(rows))[:limit]

    def bound_labels(self, alg: str, value: str, *, limit: int = 10) -> list[str]:
        """The manifests a binding value points to, newest first."""
        return self._labels("SELECT manifest_label FROM bindings WHERE alg = %s AND "
                            "value = %s AND replaced_at IS NULL ORDER BY created_at DESC "
                            "LIMIT %s", (alg, value, limit))

    def history(self, payload_id: str) -> list[tuple[StoreRecord, str | None]]:
        """Every record of ``payload_id``, oldest first, with its deletion time."""
        def op() -> list[tuple[StoreRecord, str | None]]:
            with self._tx(write=False) as cur:
                cur.execute(f"SELECT {_COLS}, deleted_at FROM manifests WHERE payload_id = %s "
                            "ORDER BY id", (payload_id.lower(),))
                return [(_row_record(r), None if r[12] is None else str(r[12]))
                        for r in cur.fetchall()]

        return self._retry(op)

    def find_by_fingerprint(self, fingerprint: str, *, max_distance: float,
                            limit: int = 10) -> list[tuple[StoreRecord, float]]:
        """Near matches of ``fingerprint`` through the band index (one query for the
        candidates with the most shared bands, then a full comparison of each)."""

        keys = sorted(fingerprint_bands(fingerprint))
        if not keys:
            return []

        def op() -> list[Any]:
            with self._tx(write=False) as cur:
                cur.execute(
                    "SELECT m.payload_id, m.manifest_label, m.manifest_store, m.fmt, "
                    "m.key_id, m.signer, m.created_at, m.content_sha256, m.fingerprint, "
                    "m.title, m.owner, m.publisher FROM ("
                    "  SELECT b.record, COUNT(*) AS hits FROM fingerprint_bands b"
                    "  JOIN unnest(%s::smallint[], %s::integer[]) AS q(band, value)"
                    "    ON b.band = q.band AND b.value = q.value"
                    "  GROUP BY b.record ORDER BY hits DESC LIMIT %s) c "
                    "JOIN manifests m ON m.id = c.record AND m.deleted_at IS NULL "
                    "ORDER BY c.hits DESC",
                    ([b for b, _ in keys], [v for _, v in keys], CANDIDATES))
                return list(cur.fetchall())

        return rank_near(self._retry(op), fingerprint, max_distance=max_distance, limit=limit,
                         record_of=_row_record)

    def count(self) -> int:
        """How many manifests the store holds (tombstones included)."""
        def op() -> int:
            with self._tx(write=False) as cur:
                cur.execute("SELECT COUNT(*) FROM manifests")
                return int(cur.fetchone()[0])

        return self._retry(op)

    def audit_log(self, *, limit: int = 100) -> list[AuditEntry]:
        """The newest audit entries, newest first."""
        def op() -> list[AuditEntry]:
            with self._tx(write=False) as cur:
                cur.execute("SELECT at, actor, action, outcome, manifest_label, payload_id, "
                            "detail FROM audit ORDER BY id DESC LIMIT %s", (limit,))
                return [AuditEntry(*(None if v is None else str(v) for v in r))  # type: ignore[arg-type]
                        for r in cur.fetchall()]

        return self._retry(op)

    def ping(self) -> None:
        """Raise :class:`StoreError` (``store.unreachable``) unless the database answers."""
        def op() -> None:
            with self._tx(write=False) as cur:
                cur.execute("SELECT 1")

        self._retry(op)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
