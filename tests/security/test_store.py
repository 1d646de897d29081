"""The manifest store under concurrency and corruption: no lost records, clear errors."""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import pytest

from tests.security.conftest import PASSPHRASE, SignedSet
from veriframe.credentials.store import ManifestStore, StoreRecord
from veriframe.errors import StoreError, VeriframeError

WRITERS = 4
PER_WRITER = 25


def _record(writer: int, i: int) -> StoreRecord:
    return StoreRecord(
        payload_id=f"{writer:04x}{i:012x}",
        manifest_label=f"urn:test:{writer}:{i}",
        manifest_store=os.urandom(64) + f"{writer}:{i}".encode(),
        fmt="video/mp4",
        key_id="k",
        signer="CN=test",
        created_at=None,
        content_sha256=None,
        fingerprint=None,
        title=f"clip {writer}/{i}",
    )


def _writer(path: str, writer: int, start: mp.synchronize.Event) -> None:  # type: ignore[name-defined]
    start.wait(30)
    store = ManifestStore(Path(path))
    for i in range(PER_WRITER):
        rec = _record(writer, i)
        store.put(rec)
        got = store.get(rec.payload_id)  # read-your-write under contention
        assert got is not None and got.manifest_store == rec.manifest_store


def _reader(path: str, start: mp.synchronize.Event, out: mp.Queue) -> None:  # type: ignore[name-defined]
    start.wait(30)
    store = ManifestStore(Path(path))
    errors = 0
    for n in range(WRITERS * PER_WRITER):
        try:
            store.get(f"{n % WRITERS:04x}{n // WRITERS:012x}")
        except Exception:
            errors += 1
    out.put(errors)


def test_parallel_writers_and_readers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    ManifestStore(path).put(_record(99, 0))  # created before the race, as `keys init` would
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    start = ctx.Event()
    out = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(path), w, start)) for w in range(WRITERS)]
    procs += [ctx.Process(target=_reader, args=(str(path), start, out)) for _ in range(2)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * len(procs)
    assert [out.get(timeout=5) for _ in range(2)] == [0, 0]
    store = ManifestStore(path)
    assert store.count() == WRITERS * PER_WRITER + 1
    for w in range(WRITERS):
        for i in range(PER_WRITER):
            rec = store.get(_record(w, i).payload_id)
            assert rec is not None and rec.title == f"clip {w}/{i}"


@pytest.mark.parametrize(
    "garbage",
    [b"not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 4000, b"\x00" * 8192],
    ids=["text", "bad-header", "zeros"],
)
def test_corrupted_store_is_a_clear_error(tmp_path: Path, garbage: bytes) -> None:
    path = tmp_path / "store.sqlite"
    path.write_bytes(garbage)
    with pytest.raises(StoreError) as info:
        ManifestStore(path).get("00" * 8)
    assert info.value.code == "store.corrupt"
    assert str(path) in info.value.message or path.name in info.value.message
    with pytest.raises(StoreError):
        ManifestStore(path).put(_record(1, 1))
    assert path.read_bytes() == garbage  # never "repaired" by overwriting


def test_signing_fails_closed_on_a_corrupted_store(
    signed_set: SignedSet, tmp_path: Path
) -> None:
    from veriframe.signing import sign_video

    store = tmp_path / "store.sqlite"
    store.write_bytes(b"garbage" * 1000)
    out = tmp_path / "out" / "signed.mp4"
    with pytest.raises(VeriframeError) as info:
        sign_video(signed_set.source, output=out, home=signed_set.home, passphrase=PASSPHRASE,
                   store=store)
    assert info.value.code == "store.corrupt"
    assert not out.exists()
    leftovers = list(out.parent.iterdir()) if out.parent.exists() else []
    assert leftovers == []


def test_verify_with_a_corrupted_store_says_so(signed_set: SignedSet, tmp_path: Path) -> None:
    from veriframe import media
    from veriframe.verification import verify

    stripped = tmp_path / "stripped.mp4"
    media.remux(signed_set.signed, stripped)
    store = tmp_path / "store.sqlite"
    store.write_bytes(b"garbage" * 1000)
    report = verify(stripped, home=signed_set.home, store=store, detector=None)
    assert report.watermark.state.value == "present"
    rec = report.watermark.recovered
    assert rec is not None and rec.state == "error"
    assert "corrupt" in rec.detail or "damaged" in rec.detail or "not a database" in rec.detail
    assert report.verdict.value != "recovered"
