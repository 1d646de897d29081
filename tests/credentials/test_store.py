"""Manifest store: round trip, idempotence, corruption, unwritable, parallel processes."""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
from pathlib import Path

import pytest

from veriframe.credentials.store import SCHEMA_VERSION, ManifestStore, StoreRecord
from veriframe.errors import StoreError


def _record(pid: str, label: str = "urn:c2pa:1", blob: bytes = b"\x00jumb-data") -> StoreRecord:
    return StoreRecord(
        payload_id=pid,
        manifest_label=label,
        manifest_store=blob,
        fmt="video/mp4",
        key_id="0123456789abcdef",
        signer="CN=signer,O=Org",
        created_at=None,
        content_sha256="ab" * 32,
        fingerprint="cd" * 8,
        title="clip",
    )


def test_round_trip_and_idempotent(tmp_path: Path) -> None:
    store = ManifestStore(tmp_path / "sub" / "m.sqlite")
    assert store.get("00ff") is None and store.count() == 0
    stored = store.put(_record("00FF"))
    assert stored.created_at
    store.put(_record("00ff"))
    assert store.count() == 1
    got = store.get("00ff")
    assert got is not None and got.manifest_store == b"\x00jumb-data"
    assert got.fingerprint == "cd" * 8 and got.signer == "CN=signer,O=Org"
    store.put(_record("00ff", label="urn:c2pa:2", blob=b"newer"))
    assert store.count() == 2
    assert store.get("00ff").manifest_store == b"newer"  # the newest record wins
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_corrupt_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    store = ManifestStore(path)
    for call in (lambda: store.get("00"), lambda: store.put(_record("00")), store.count):
        with pytest.raises(StoreError) as exc:
            call()
        assert exc.value.code == "store.corrupt" and exc.value.hint


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE other (x)")
    with pytest.raises(StoreError) as exc:
        ManifestStore(path).put(_record("00"))
    assert exc.value.code == "store.corrupt"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_unwritable_store_raises(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    try:
        with pytest.raises(StoreError) as exc:
            ManifestStore(ro / "sub" / "m.sqlite").put(_record("00"))
        assert exc.value.code == "store.unwritable"
    finally:
        os.chmod(ro, 0o700)


def test_directory_as_store_raises(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as exc:
        ManifestStore(tmp_path).put(_record("00"))
    assert exc.value.code == "store.unwritable"


def _writer(path: str, worker: int, n: int) -> None:
    store = ManifestStore(path)
    for i in range(n):
        store.put(_record(f"{worker:02x}{i:06x}", label=f"urn:c2pa:w{worker}-{i}",
                          blob=os.urandom(2000)))


def _reader(path: str, rounds: int, out: mp.Queue) -> None:
    store = ManifestStore(path)
    seen = 0
    for _ in range(rounds):
        seen = max(seen, store.count())
        store.get("00000000")
    out.put(seen)


def test_parallel_writers_and_readers_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "m.sqlite")
    ManifestStore(path).put(_record("ffffffff"))  # create the schema once
    ctx = mp.get_context("spawn" if os.name != "posix" else "fork")
    results: mp.Queue = ctx.Queue()
    writers = [ctx.Process(target=_writer, args=(path, w, 50)) for w in range(4)]
    readers = [ctx.Process(target=_reader, args=(path, 100, results)) for _ in range(2)]
    for p in writers + readers:
        p.start()
    for p in writers + readers:
        p.join(60)
        assert p.exitcode == 0
    store = ManifestStore(path)
    assert store.count() == 4 * 50 + 1
    for w in range(4):
        for i in (0, 25, 49):
            assert store.get(f"{w:02x}{i:06x}") is not None
    assert all(0 < results.get(timeout=5) <= 201 for _ in readers)


def test_parallel_first_creation(tmp_path: Path) -> None:
    """Writers that all find no store at once create it once and lose nothing."""
    path = str(tmp_path / "fresh.sqlite")
    ctx = mp.get_context("fork" if os.name == "posix" else "spawn")
    writers = [ctx.Process(target=_writer, args=(path, w, 10)) for w in range(4)]
    for p in writers:
        p.start()
    for p in writers:
        p.join(60)
        assert p.exitcode == 0
    assert ManifestStore(path).count() == 40


def test_store_under_a_file_raises(tmp_path: Path) -> None:
    """Works as root too: the parent 'folder' is a regular file, so nothing can be created."""
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(StoreError) as exc:
        ManifestStore(blocker / "m.sqlite").put(_record("00"))
    assert exc.value.code == "store.unwritable"
    assert not (blocker / "m.sqlite").exists()


def _fp(seed: int, flip: int = 0) -> str:
    import numpy as np

    from veriframe.watermark.fingerprint import BITS_PER_FRAME

    bits = np.random.default_rng(seed).integers(0, 2, size=(8, BITS_PER_FRAME), dtype=np.uint8)
    bits[:, :flip] ^= 1  # a near copy: the first bits of each coarse hash flipped
    bits[:, 64 + 256:] = 1  # every fine cell "reliable"
    return "p2:" + b"".join(np.packbits(row).tobytes() for row in bits).hex()


def test_lookups_by_label_and_by_fingerprint(tmp_path: Path) -> None:
    store = ManifestStore(tmp_path / "m.sqlite")
    for i in range(40):
        rec = _record(f"{i:016x}", label=f"urn:c2pa:{i:08d}-lookup")
        store.put(StoreRecord(**{**rec.__dict__, "fingerprint": _fp(i)}))
    got = store.get_by_label("urn:c2pa:00000007-lookup")
    assert got is not None and got.payload_id == f"{7:016x}"
    assert store.get_by_label("urn:c2pa:nope") is None
    found = store.find_by_fingerprint(_fp(7, flip=3), max_distance=0.2)
    assert [r.payload_id for r, _ in found] == [f"{7:016x}"] and found[0][1] < 0.05
    assert store.find_by_fingerprint(_fp(1000), max_distance=0.2) == []
    assert store.find_by_fingerprint("not a fingerprint", max_distance=0.2) == []


def test_schema_1_store_is_migrated_with_its_fingerprints(tmp_path: Path) -> None:
    from veriframe.credentials import store as S

    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(S._SCHEMA)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO manifests VALUES (?,?,?,?,?,?,?,?,?,?)",
                 ("00aa", "urn:c2pa:old-record-1", b"m", "video/mp4", None, None,
                  "2025-01-01T00:00:00+00:00", None, _fp(3), None))
    conn.commit()
    conn.close()
    old = ManifestStore(path)
    assert old.get("00aa") is not None  # readable before any write
    assert old.find_by_fingerprint(_fp(3), max_distance=0.2) == []  # no band index yet
    old.put(_record("00bb", label="urn:c2pa:new-record-2"))  # a write migrates
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert [r.payload_id for r, _ in old.find_by_fingerprint(_fp(3), max_distance=0.2)] == [
        "00aa"]
