"""Property tests of the fuzzer's own machinery (benchmarks/fuzz_verify.py).

A fuzzer whose mutators crash, or whose box parser misreads files, silently tests less than it
claims; these properties keep it honest. Pure Python: no video decoding, fast.
"""

from __future__ import annotations

import random
import struct

from benchmarks import fuzz_verify as fv
from hypothesis import given, settings
from hypothesis import strategies as st


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _mini_mp4() -> bytes:
    """A structurally valid ISO-BMFF skeleton: ftyp, C2PA uuid box with JUMBF, moov/trak/tkhd."""
    tkhd = _box(b"tkhd", bytes(4) + bytes(76) + struct.pack(">II", 160 << 16, 120 << 16))
    mvhd = _box(b"mvhd", bytes(4) + struct.pack(">IIII", 0, 0, 1000, 1000) + bytes(80))
    trak = _box(b"trak", tkhd + _box(b"mdia", _box(b"mdhd", bytes(24))))
    jumbf = _box(b"jumb", _box(b"jumd", b"c2pa\0" * 4) + _box(b"cbor", b"\xa1\x61a\x01"))
    c2pa = _box(b"uuid", fv.C2PA_UUID + bytes(4) + b"manifest\0" + bytes(8) + jumbf)
    return (_box(b"ftyp", b"isom" + bytes(4) + b"isomiso2") + c2pa + _box(b"moov", mvhd + trak)
            + _box(b"mdat", bytes(64)))


MINI = _mini_mp4()


def test_parse_boxes_finds_nested_and_c2pa_boxes() -> None:
    kinds = [(b.kind, b.depth) for b in fv.parse_boxes(MINI)]
    assert (b"tkhd", 2) in kinds
    assert (b"jumb", 1) in kinds and (b"cbor", 2) in kinds
    assert fv._c2pa_range(MINI) is not None


@given(st.binary(max_size=2048))
@settings(max_examples=300, deadline=None)
def test_parse_boxes_never_raises_and_stays_in_bounds(data: bytes) -> None:
    for box in fv.parse_boxes(data):
        assert 0 <= box.start < box.end <= len(data)
        assert box.size >= box.header


@given(st.sampled_from(sorted(fv.MUTATORS)), st.randoms(use_true_random=False),
       st.sampled_from([b"", b"\x00" * 7, MINI, MINI[:50]]))
@settings(max_examples=400, deadline=None)
def test_every_mutator_returns_bytes(name: str, rng: random.Random, data: bytes) -> None:
    out = fv.MUTATORS[name](rng, data, [MINI, b"donor"])
    assert isinstance(out, bytes)


@given(st.randoms(use_true_random=False))
@settings(max_examples=200, deadline=None)
def test_box_drop_keeps_parent_sizes_consistent(rng: random.Random) -> None:
    # Dropping a box fixes every ancestor's size, so the file still parses to its end.
    out = fv.box_drop(rng, MINI, [])
    top = [b for b in fv.parse_boxes(out) if b.depth == 0]
    assert sum(b.size for b in top) == len(out)


def test_absurd_fields_can_claim_a_60000_pixel_frame() -> None:
    # Some seed makes tkhd claim 60000 (or 65535) wide/high: the limits tests rely on that reach.
    claimed = set()
    for seed in range(400):
        out = fv.absurd_fields(random.Random(seed), MINI, [])
        tkhd = next(b for b in fv.parse_boxes(out) if b.kind == b"tkhd")
        claimed.update(struct.unpack_from(">II", out, tkhd.end - 8))
    assert (60000 << 16) in claimed


def test_cases_are_reproducible_from_seed_and_index() -> None:
    seeds = [fv.Seed("a.mp4", MINI, 1.0), fv.Seed("b.mov", MINI[:120], 1.0)]
    assert fv.make_case(seeds, 3, 17) == fv.make_case(seeds, 3, 17)
    assert fv.make_case(seeds, 3, 17) != fv.make_case(seeds, 4, 17)
