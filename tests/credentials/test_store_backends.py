"""The same store tests on both back ends: SQLite (a file) and PostgreSQL (a private server).

Append-only records (conflicts, same-signer supersede as history, tombstones), bindings, the
audit log, the fingerprint band index, versioned migrations, parallel writers from several
processes, and a store URL that is unsupported or unreachable.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from dataclasses import replace
from pathlib import Path

import pytest

from veriframe.credentials.store import ManifestStore, StoreRecord
from veriframe.errors import StoreError
from veriframe.softbinding import WATERMARK_ALG, encode_payload

VICTIM = "CN=Victim signer,O=Victim Studio"
OTHER = "CN=Other signer,O=Other Media"


def _record(pid: str, label: str, *, signer: str = VICTIM, blob: bytes | None = None,
            fingerprint: str | None = None) -> StoreRecord:
    return StoreRecord(payload_id=pid, manifest_label=label,
                       manifest_store=blob or f"manifest {label}".encode(), fmt="video/mp4",
                       key_id="0123456789abcdef", signer=signer, created_at=None,
                       content_sha256=None, fingerprint=fingerprint, title="clip")


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "m.sqlite")
    from tests.pg import cluster

    return cluster().new_database()


def test_backend_is_chosen_by_the_location(location: str) -> None:
    store = ManifestStore(location)
    assert store.backend == ("postgresql" if location.startswith("postgresql") else "sqlite")
    if store.backend == "postgresql":
        assert "postgresql://" in repr(store)
        # The URL survives a pathlib.Path (which folds its //), as a CLI option may pass it.
        assert ManifestStore(Path(location)).backend == "postgresql"


def test_append_only_conflicts_and_history(location: str) -> None:
    store = ManifestStore(location)
    first = store.put(_record("02aa000000000001", "urn:c2pa:victim-1"))
    assert store.put(_record("02aa000000000001", "urn:c2pa:victim-1")).manifest_label == \
        first.manifest_label  # the same record again: idempotent
    assert store.count() == 1
    # Another signer claiming the payload id: refused, nothing changes.
    with pytest.raises(StoreError) as exc:
        store.put(_record("02aa000000000001", "urn:c2pa:attacker-1", signer=OTHER))
    assert exc.value.code == "store.conflict"
    # Other bytes under a held manifest id: refused (the overwrite attack).
    with pytest.raises(StoreError) as exc:
        store.put(_record("02aa000000000001", "urn:c2pa:victim-1", blob=b"x" * 111_000))
    assert exc.value.code == "store.conflict"
    got = store.get("02aa000000000001")
    assert got is not None and got.manifest_store == b"manifest urn:c2pa:victim-1"
    # The same signer supersedes: the newest answers, the older stays as history. A DN
    # written another way (O and CN swapped) is the same signer.
    store.put(_record("02aa000000000001", "urn:c2pa:victim-2",
                      signer="O=Victim Studio,CN=Victim signer"))
    assert store.labels("02aa000000000001") == ["urn:c2pa:victim-2", "urn:c2pa:victim-1"]
    assert store.get("02aa000000000001").manifest_label == "urn:c2pa:victim-2"  # type: ignore[union-attr]
    assert [r.manifest_label for r, _ in store.history("02aa000000000001")] == [
        "urn:c2pa:victim-1", "urn:c2pa:victim-2"]
    assert store.count() == 2


def test_delete_is_a_tombstone_that_keeps_the_payload_claimed(location: str) -> None:
    store = ManifestStore(location)
    store.put(_record("02bb000000000001", "urn:c2pa:gone-1"))
    with pytest.raises(StoreError) as exc:
        store.delete("urn:c2pa:gone-1", owner=OTHER)
    assert exc.value.code == "store.forbidden"
    assert store.delete("urn:c2pa:gone-1") is not None
    assert store.delete("urn:c2pa:gone-1") is None  # already gone
    assert store.get("02bb000000000001") is None and store.get_by_label("urn:c2pa:gone-1") is None
    assert store.labels("02bb000000000001") == []
    with pytest.raises(StoreError) as exc:  # the tombstone still claims the payload id
        store.put(_record("02bb000000000001", "urn:c2pa:attacker-2", signer=OTHER))
    assert exc.value.code == "store.conflict"
    [(_, deleted_at)] = store.history("02bb000000000001")
    assert deleted_at


def test_bindings(location: str) -> None:
    store = ManifestStore(location)
    store.put(_record("02cc000000000001", "urn:c2pa:bind-1"))
    store.put(_record("02cc000000000002", "urn:c2pa:bind-2"))
    store.put(_record("02dd000000000001", "urn:c2pa:other-1", signer=OTHER))
    with pytest.raises(StoreError) as exc:
        store.bind("x.test.1", "dmFsdWU=", "urn:c2pa:nope", owner=None, publisher="t")
    assert exc.value.code == "store.not-found"
    store.bind("x.test.1", "dmFsdWU=", "urn:c2pa:bind-1", owner=None, publisher="t")
    store.bind("x.test.1", "dmFsdWU=", "urn:c2pa:bind-1", owner=None, publisher="t")  # again
    assert store.bound_labels("x.test.1", "dmFsdWU=") == ["urn:c2pa:bind-1"]
    with pytest.raises(StoreError) as exc:  # POST to another manifest: use PUT
        store.bind("x.test.1", "dmFsdWU=", "urn:c2pa:bind-2", owner=None, publisher="t")
    assert exc.value.code == "store.conflict"
    store.bind("x.test.1", "dmFsdWU=", "urn:c2pa:bind-2", owner=None, publisher="t",
               replace=True)
    assert store.bound_labels("x.test.1", "dmFsdWU=") == ["urn:c2pa:bind-2"]
    with pytest.raises(StoreError) as exc:  # another signer cannot take the value
        store.bind("x.test.1", "dmFsdWU=", "urn:c2pa:other-1", owner=None, publisher="t",
                   replace=True)
    assert exc.value.code == "store.conflict"
    with pytest.raises(StoreError) as exc:  # nor point the victim's mark at its manifest
        store.bind(WATERMARK_ALG, encode_payload("02cc000000000001"), "urn:c2pa:other-1",
                   owner=None, publisher="t")
    assert exc.value.code == "store.conflict"
    with pytest.raises(StoreError) as exc:
        store.bind("x.test.1", "bmV3", "urn:c2pa:bind-1", owner=None, publisher="t",
                   replace=True)
    assert exc.value.code == "store.not-found"


def test_audit_log(location: str) -> None:
    store = ManifestStore(location)
    store.audit(actor="render-01", action="publish", outcome="stored",
                manifest_label="urn:c2pa:a-1", payload_id="02ee000000000001")
    store.audit(actor="render-02", action="publish", outcome="refused:resolver.conflict")
    entries = store.audit_log(limit=10)
    assert [(e.actor, e.outcome) for e in entries] == [
        ("render-02", "refused:resolver.conflict"), ("render-01", "stored")]
    assert entries[1].manifest_label == "urn:c2pa:a-1" and entries[0].at


def _fp(seed: int, flip: int = 0) -> str:
    import numpy as np

    from veriframe.watermark.fingerprint import BITS_PER_FRAME

    bits = np.random.default_rng(seed).integers(0, 2, size=(8, BITS_PER_FRAME), dtype=np.uint8)
    bits[:, :flip] ^= 1
    bits[:, 64 + 256:] = 1
    return "p2:" + b"".join(np.packbits(row).tobytes() for row in bits).hex()


def test_fingerprint_search_is_indexed_and_skips_tombstones(location: str) -> None:
    store = ManifestStore(location)
    for i in range(30):
        store.put(_record(f"{i:016x}", f"urn:c2pa:fp-{i:04d}", fingerprint=_fp(i)))
    store.put_many([_record(f"{i:016x}", f"urn:c2pa:fp-{i:04d}", fingerprint=_fp(i))
                    for i in range(30, 60)])
    for i in (7, 45):
        found = store.find_by_fingerprint(_fp(i, flip=3), max_distance=0.2)
        assert [r.payload_id for r, _ in found] == [f"{i:016x}"] and found[0][1] < 0.05
    assert store.find_by_fingerprint(_fp(1000), max_distance=0.2) == []
    store.delete("urn:c2pa:fp-0007")
    assert store.find_by_fingerprint(_fp(7, flip=3), max_distance=0.2) == []


def _writer(location: str, worker: int, n: int) -> None:
    store = ManifestStore(location)
    for i in range(n):
        store.put(_record(f"{worker:02x}{i:014x}", f"urn:c2pa:w{worker}-{i}",
                          blob=os.urandom(500)))
        # Every writer also races for one shared payload id as a different signer: exactly
        # one signer may hold it.
        try:
            store.put(_record("0fff000000000000", f"urn:c2pa:race-{worker}-{i}",
                              signer=f"CN=s{worker},O=Org {worker}"))
        except StoreError as exc:
            assert exc.code == "store.conflict"


def test_parallel_writers_lose_nothing_and_one_signer_wins(location: str) -> None:
    ManifestStore(location).count()
    ctx = mp.get_context("fork")
    writers = [ctx.Process(target=_writer, args=(location, w, 15)) for w in range(4)]
    for p in writers:
        p.start()
    for p in writers:
        p.join(120)
        assert p.exitcode == 0
    store = ManifestStore(location)
    for w in range(4):
        assert store.get(f"{w:02x}{14:014x}") is not None
    owners = {r.owner_id for r, _ in store.history("0fff000000000000")}
    assert len(owners) == 1
    assert store.count() == 4 * 15 + len(store.history("0fff000000000000"))


def test_unreachable_postgresql_is_refused_with_a_code(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    store = ManifestStore(f"postgresql://nobody:secret@/db?host={tmp_path}&port=1")
    with pytest.raises(StoreError) as exc:
        store.ping()
    assert exc.value.code == "store.unreachable"
    assert "secret" not in exc.value.message


def test_postgresql_migrations_are_versioned() -> None:
    import psycopg

    from tests.pg import cluster
    from veriframe.credentials.store_pg import PG_SCHEMA_VERSION, PostgresStore

    url = cluster().new_database()
    old = PostgresStore(url)
    with psycopg.connect(url) as conn:
        old._migrate(conn, upto=1)  # a store made by the first schema
        conn.execute("INSERT INTO manifests (payload_id, manifest_label, manifest_store, fmt, "
                     "signer, created_at) VALUES ('02ff000000000001', 'urn:c2pa:old-1', "
                     "'\\x00'::bytea, 'video/mp4', %s, '2026-01-01')", (VICTIM,))
        conn.commit()
    store = ManifestStore(url)
    assert store.schema_version() == PG_SCHEMA_VERSION
    got = store.get("02ff000000000001")
    assert got is not None and got.owner == VICTIM  # the owner filled from the signer
    with pytest.raises(StoreError):
        store.put(_record("02ff000000000001", "urn:c2pa:new-1", signer=OTHER))
    with psycopg.connect(url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM veriframe_schema "
                                               "ORDER BY version")]
    assert versions == [1, 2]


def test_sqlite_migration_from_schema_2(tmp_path: Path) -> None:
    import sqlite3

    from veriframe.credentials import store as S

    path = tmp_path / "v2.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(S._SCHEMA + S._SCHEMA_2)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO manifests VALUES (?,?,?,?,?,?,?,?,?,?)",
                 ("02ff000000000001", "urn:c2pa:old-1", b"m", "video/mp4", None, VICTIM,
                  "2025-01-01T00:00:00+00:00", None, None, None))
    conn.commit()
    conn.close()
    store = ManifestStore(path)
    assert store.get("02ff000000000001") is not None  # readable before the migration
    with pytest.raises(StoreError) as exc:  # the first write migrates, then judges
        store.put(_record("02ff000000000001", "urn:c2pa:new-1", signer=OTHER))
    assert exc.value.code == "store.conflict" and store.schema_version() == 3
    assert replace(store.get("02ff000000000001"), created_at=None).owner == VICTIM  # type: ignore[arg-type]
