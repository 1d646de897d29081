"""Mutation fuzzing of ``veriframe.verification.verify``: hostile files must never break it.

Every case is a mutated seed file (small signed and unsigned MP4/MOV made at startup, plus the
public C2PA test files in ``../shared/c2pa/`` when present). It runs ``verify`` in a worker
process under a wall-clock limit and an address-space limit (``RLIMIT_AS``); a worker that a
case kills (timeout, native crash, allocation abort) is replaced. A case *passes* when
``verify`` returns a report or raises a :class:`~veriframe.errors.VeriframeError`, in time,
within memory, and writes nothing into the case's directory (nor into the veriframe home).

Why a seeded mutation engine rather than atheris: the parsers that matter are native code
(FFmpeg through PyAV, c2pa-rs through c2pa-python) that atheris' coverage feedback cannot see,
so coverage guidance would steer almost blind, and libFuzzer runs the target in-process, where
one hang or abort ends the campaign. Format-aware mutators (ISO-BMFF boxes, JUMBF/CBOR in the
C2PA ``uuid`` box) reach the deep parsers far more often than blind bit flips; every case is
reproducible from ``(--seed, case index)`` (``--replay``; cases derived from the signed seed
differ in the signature bytes, since keys are made fresh per run: failing inputs are saved to
``--out`` as bytes, with a delta-debugged ``.min`` copy). The mutators are property-tested with
hypothesis (``tests/security/test_fuzz_mutators.py``). Seeds slower than 0.5 s per verify are
down-weighted by their measured cost; the known-generator-mark check is off unless
``--known-marks`` (it reads decoded pixels, not container bytes, and costs seconds per clip).

Usage (from the repository root)::

    nice python benchmarks/fuzz_verify.py --cases 10000 --jobs 2 --out fuzz-out
    python benchmarks/fuzz_verify.py --replay 1234 --seed 1 --out case-1234   # write one case

Exit status: 0 when no case failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import hashlib
import json
import multiprocessing as mp
import os
import random
import shutil
import struct
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED_C2PA = Path("..") / "shared" / "c2pa"  # relative to the repository root (see README)
C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
PASSPHRASE = "fuzz-passphrase-not-secret"

# --------------------------------------------------------------------------------------------
# ISO-BMFF boxes
# --------------------------------------------------------------------------------------------

# Boxes whose payload is a list of boxes (after ``_CONTAINER_SKIP`` bytes of their own fields).
_CONTAINERS = {
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"mvex",
    b"moof", b"traf", b"mfra", b"meta", b"ilst", b"sinf", b"schi", b"tref", b"stsd",
    b"avc1", b"hvc1", b"hev1", b"mp4a", b"jumb", b"uuid",
}
_CONTAINER_SKIP = {
    b"meta": 4,  # version/flags
    b"stsd": 8,  # version/flags + entry count
    b"avc1": 78, b"hvc1": 78, b"hev1": 78,  # visual sample entry fields
    b"mp4a": 28,  # audio sample entry fields
}
_MAX_DEPTH = 12
_MAX_BOXES = 4000


@dataclasses.dataclass
class Box:
    """One box: ``start`` of its header, ``size`` in bytes (header included), its ``kind``."""

    start: int
    size: int
    header: int
    kind: bytes
    depth: int
    parents: tuple[int, ...]  # indices (into the flat list) of the enclosing boxes

    @property
    def end(self) -> int:
        """Offset just past the box."""
        return self.start + self.size

    @property
    def body(self) -> int:
        """Offset of the payload (after the header)."""
        return self.start + self.header


def parse_boxes(data: bytes) -> list[Box]:
    """A flat, depth-first list of the boxes in ``data`` (best effort: never raises).

    Stops descending at a malformed box; boxes inside a ``uuid`` box are looked for only in
    the C2PA one (its JUMBF payload starts after uuid, version/flags, purpose and offset).
    """
    out: list[Box] = []

    def walk(lo: int, hi: int, depth: int, parents: tuple[int, ...]) -> None:
        pos = lo
        while pos + 8 <= hi and len(out) < _MAX_BOXES:
            size, kind = struct.unpack_from(">I4s", data, pos)
            header = 8
            if size == 1:
                if pos + 16 > hi:
                    return
                size = struct.unpack_from(">Q", data, pos + 8)[0]
                header = 16
            elif size == 0:
                size = hi - pos
            if size < header or pos + size > hi:
                return
            box = Box(pos, size, header, kind, depth, parents)
            out.append(box)
            index = len(out) - 1
            if kind in _CONTAINERS and depth < _MAX_DEPTH:
                skip = _CONTAINER_SKIP.get(kind, 0)
                if kind == b"uuid":
                    if data[pos + header : pos + header + 16] != C2PA_UUID:
                        pos += size
                        continue
                    purpose_end = data.find(b"\0", pos + header + 20, pos + size)
                    skip = (purpose_end + 1 + 8 - (pos + header)) if purpose_end >= 0 else size
                walk(pos + header + skip, pos + size, depth + 1, (*parents, index))
            pos += size

    with contextlib.suppress(struct.error):
        walk(0, len(data), 0, ())
    return out


def _splice(data: bytes, lo: int, hi: int, new: bytes, boxes: Sequence[Box], box: Box) -> bytes:
    """Replace ``data[lo:hi]`` by ``new`` and fix the sizes of ``box``'s ancestors."""
    delta = len(new) - (hi - lo)
    buf = bytearray(data[:lo] + new + data[hi:])
    for parent_index in box.parents:
        parent = boxes[parent_index]
        _write_size(buf, parent, parent.size + delta)
    return bytes(buf)


def _write_size(buf: bytearray, box: Box, size: int) -> None:
    if box.header == 16:
        struct.pack_into(">Q", buf, box.start + 8, max(0, size))
    elif struct.unpack_from(">I", buf, box.start)[0] != 0:
        struct.pack_into(">I", buf, box.start, max(0, min(size, 0xFFFFFFFF)))


# --------------------------------------------------------------------------------------------
# Mutators: each takes (rng, data, donors) and returns new bytes
# --------------------------------------------------------------------------------------------

Mutator = Callable[[random.Random, bytes, Sequence[bytes]], bytes]

_INTERESTING_32 = (0, 1, 2, 7, 8, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 60000, 0x7FFFFFFF,
                   0x80000000, 0xFFFFFFFE, 0xFFFFFFFF, 10**9)
_INTERESTING_64 = (0, 1, 16, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 40, 0x7FFFFFFFFFFFFFFF,
                   0xFFFFFFFFFFFFFFFF)


def bit_flips(rng: random.Random, data: bytes, donors: Sequence[bytes]) -> bytes:
    """Flip 1-16 random bits anywhere."""
    if not data:
        return data
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 8, 16))):
        i = rng.randrange(len(buf))
        buf[i] ^= 1 << rng.randrange(8)
    return bytes(buf)


def byte_runs(rng: random.Random, data: bytes, donors: Sequence[bytes]) -> bytes:
    """Overwrite or insert a run of 0x00 / 0xff / one byte / random bytes."""
    n = rng.choice((1, 4, 16, 64, 512, 4096))
    fill = rng.choice((b"\x00", b"\xff", bytes([rng.randrange(256)]), None))
    run = rng.randbytes(n) if fill is None else fill * n
    pos = rng.randrange(len(data) + 1)
    if rng.random() < 0.5:
        return data[:pos] + run + data[pos + n :]
    return data[:pos] + run + data[pos:]


def truncate(rng: random.Random, data: bytes, donors: Sequence[bytes]) -> bytes:
    """Cut the file: at a random offset, at a box boundary, or a few bytes into a box."""
    boxes = parse_boxes(data)
    if boxes and rng.random() < 0.6:
        box = rng.choice(boxes)
        cut = rng.choice((box.start, box.body, box.start + rng.randrange(1, 8), box.end - 1))
    else:
        cut = rng.randrange(len(data) + 1)
    return data[: max(0, min(cut, len(data)))]


def box_size(rng: random.Random, data: bytes, donors: Sequence[bytes]) -> bytes:
    """Rewrite one box's size: 0 (to end), 1 (+64-bit size, maybe huge), tiny, off by k, huge."""
    boxes = parse_boxes(data)
    if not boxes:
        return bit_flips(rng, data, donors)
    box = rng.choice(boxes)
    buf = bytearray(data)
    choice = rng.randrange(5)
    if choice == 0:
        struct.pack_into(">I", buf, box.start, 0)
    elif choice == 1:
        large = struct.pack(">IQ", 1, rng.choice(_INTERESTING_64))[4:]
        return bytes(buf[: box.start]) + struct.pack(">I4s", 1, box.kind) + large + bytes(
            buf[box.start + 8 :]
        )
    elif choice == 2:
        struct.pack_into(">I", buf, box.start, rng.choice((1, 2, 7, 8, 9, 15, 16)))
    elif choice == 3:
        nudged = box.size + rng.randint(-16, 16)
        struct.pack_into(">I", buf, box.start, max(0, min(0xFFFFFFFF, nudged)))
    else:
        struct.pack_into(">I", buf, box.start, rng.choice(_INTERESTING_32))
    return bytes(buf)


def box_duplicate(rng: random.Random, data: bytes, donors: Sequence[bytes]) -> bytes:
    """Insert a copy of a box right after it (1 to 64 copies), parents resized."""
    boxes = parse_boxes(data)
    if not boxes:
        return byte_runs(rng, data, donors)
    box = rng.choice(boxes)
    copies = rng.choice((1, 1, 2, 64))
    if box.size * copies > 4 << 20:
        copies = 1
    chunk = data[box.start : box.end] * copies
    return _splice(data, box.end, box.end, chunk, boxes, box)


def box_drop(rng: random.Random, data: bytes, donors: Sequence[bytes]) -> bytes:
    """Remove a box, parents resized."""
    boxes = parse_boxes(data)
    if not boxes:
        return truncate(rng, data, donors)
    box = rng.choice(boxes)
    return _splice(data, box.start, box.end, b"", boxes, box)


def box_swap(rng: random.Random, data: bytes, donors: Sequence[bytes]) -> bytes:
    """Swap two sibling boxes (same parent), e.g. moov before ftyp, mdat before the C2PA box."""
    boxes = parse_boxes(data)
    groups: dict[tuple[int, ...], list[Box]] = collections.defaultdict(list)
    for b in boxes:
        groups[b.parents].append(b)
    pairs = [g for g in groups.values() if len(g) >= 2]
    if not pairs:
        return box_drop(rng, data, donors)
    a, b = sorted(rng.sample(rng.choice(pairs), 2), key=lambda x: x.start)
    return (
        data[: a.start] + data[b.start : b.end] + data[a.end : b.start] + data[a.start : a.end]
        + data[b.end :]
    )


def deep_nesting(rng: random.Random, data: bytes, donors: Sequence[bytes]) -> bytes:
    """Wrap a box in many levels of containers (moov/trak/udta/meta/jumb), parents resized."""
    boxes = parse_boxes(data)
    levels = rng.choice((16, 100, 1000, 5000))
    kind = rng.choice((b"moov", b"trak", b"udta", b"edts", b"jumb", b"moof"))
    if not boxes:
        inner = data
        box = None
    else:
        box = rng.choice(boxes)
        inner = data[box.start : box.end]
    wrapped = inner
    for _ in range(levels):
        if len(wrapped) + 8 > 0xFFFFFFFF:
            break
        wrapped = struct.pack(">I4s", len(wrapped) + 8, kind) + wrapped
    if box is None:
        return wrapped
    return _splice(data, box.start, box.end, wrapped, boxes, box)


def _fullbox_field(box: Box, offset_v0: int, offset_v1: int, data: bytes) -> int:
    version = data[box.body] if box.body < len(data) else 0
    return box.body + (offset_v1 if version == 1 else offset_v0)


def absurd_fields(rng: random.Random, data: bytes, donors: Sequence[bytes]) -> bytes:
    """Absurd width/height/duration/timescale/counts in tkhd, stsd entries, mvhd, mdhd, tables."""
    boxes = parse_boxes(data)
    targets = [b for b in boxes if b.kind in (b"tkhd", b"mvhd", b"mdhd", b"avc1", b"hvc1",
                                              b"stsz", b"stts", b"stsc", b"stco", b"co64",
                                              b"stss", b"ctts", b"elst", b"hdlr", b"avcC")]
    if not targets:
        return box_size(rng, data, donors)
    box = rng.choice(targets)
    buf = bytearray(data)
    value = rng.choice(_INTERESTING_32)

    def put32(pos: int, v: int) -> None:
        if pos >= 0 and pos + 4 <= box.end:
            struct.pack_into(">I", buf, pos, v & 0xFFFFFFFF)

    def put16(pos: int, v: int) -> None:
        if pos >= 0 and pos + 2 <= box.end:
            struct.pack_into(">H", buf, pos, v & 0xFFFF)

    if box.kind == b"tkhd":  # width/height are the last two 16.16 fields
        which = rng.randrange(3)
        if which < 2:
            put32(box.end - 8 + 4 * which, (rng.choice((60000, 65535, 0, 1)) << 16))
        else:
            put32(_fullbox_field(box, 20, 28, data), value)  # duration (low word for v1)
    elif box.kind in (b"mvhd", b"mdhd"):
        # v0: creation(4) modification(4) timescale(4) duration(4)
        field = rng.choice((12, 16))
        put32(_fullbox_field(box, field, field + 8, data), value)
    elif box.kind in (b"avc1", b"hvc1"):
        # sample entry: 6 reserved + 2 dref index + 16 pre-defined/reserved, then width, height
        put16(box.body + 24 + 4 * 0, rng.choice((60000, 65535, 0, 1)))
        put16(box.body + 26, rng.choice((60000, 65535, 0, 1)))
    elif box.kind == b"stsz":
        put32(box.body + rng.choice((4, 8)), value)  # sample_size or sample_count
    elif box.kind == b"avcC":
        pos = box.body + rng.randrange(max(1, box.size - box.header))
        if pos < len(buf):
            buf[pos] = rng.choice((0, 0xFF, 0x1F, 0xE1))
    else:
        # full box: entry_count at +4, then entries: smash the count or an entry
        if rng.random() < 0.6:
            put32(box.body + 4, value)
        else:
            put32(box.body + 8 + 4 * rng.randrange(max(1, (box.size - box.header - 8) // 4)),
                  value)
    return bytes(buf)


def splice_seeds(rng: random.Random, data: bytes, donors: Sequence[bytes]) -> bytes:
    """Cross two seeds: a prefix of one and a suffix of another, or a box replaced by a donor's."""
    if not donors:
        return byte_runs(rng, data, donors)
    donor = rng.choice(donors)
    boxes, dboxes = parse_boxes(data), parse_boxes(donor)
    if boxes and dboxes and rng.random() < 0.6:
        box = rng.choice(boxes)
        same = [d for d in dboxes if d.kind == box.kind] or dboxes
        d = rng.choice(same)
        return _splice(data, box.start, box.end, donor[d.start : d.end], boxes, box)
    cut_a = rng.randrange(len(data) + 1)
    cut_b = rng.randrange(len(donor) + 1)
    return data[:cut_a] + donor[cut_b:]


def _c2pa_range(data: bytes) -> tuple[int, int] | None:
    """(start, end) of the JUMBF payload inside the C2PA ``uuid`` box, if there is one."""
    for box in parse_boxes(data):
        if box.kind == b"uuid" and data[box.body : box.body + 16] == C2PA_UUID:
            return box.body + 16, box.end
    pos = data.find(b"jumb")  # JPEG APP11 / other carriers: find the superbox directly
    if pos >= 4:
        return pos - 4, min(len(data), pos - 4 + 200_000)
    return None


_CBOR_NASTY = (
    b"\x9b\xff\xff\xff\xff\xff\xff\xff\xff",  # array, 2^64-1 items
    b"\xbb\x7f\xff\xff\xff\xff\xff\xff\xff",  # map, huge count
    b"\x5b\x00\x00\x00\x01\x00\x00\x00\x00",  # byte string, 4 GiB
    b"\x7a\xff\xff\xff\xff",  # text string, 4 GiB
    b"\x9f" * 4096,  # deeply nested indefinite arrays
    b"\x81" * 10000,  # deeply nested definite arrays
    b"\xd8\x18" * 2000,  # nested tag 24 (embedded CBOR)
    b"\xff",  # stray break
    b"\xf9\x7e\x00",  # half-float NaN
    b"\x1b\xff\xff\xff\xff\xff\xff\xff\xff",  # uint64 max
    b"\x3b\xff\xff\xff\xff\xff\xff\xff\xff",  # most negative
    b"\x7f\x61\x61\xff",  # indefinite text
)


def c2pa_bytes(rng: random.Random, data: bytes, donors: Sequence[bytes]) -> bytes:
    """Mutate inside the C2PA manifest: JUMBF box sizes/labels, CBOR headers, flips, nesting."""
    span = _c2pa_range(data)
    if span is None:
        return bit_flips(rng, data, donors)
    lo, hi = span
    if hi <= lo:
        return data
    buf = bytearray(data)
    choice = rng.randrange(6)
    if choice == 0:  # bit flips confined to the manifest
        for _ in range(rng.choice((1, 2, 8))):
            i = rng.randrange(lo, hi)
            buf[i] ^= 1 << rng.randrange(8)
        return bytes(buf)
    jumbs = [i for i in _find_all(data, b"jumb", lo, hi)] + [
        i for i in _find_all(data, b"jumd", lo, hi)
    ]
    if choice == 1 and jumbs:  # a JUMBF box's size
        at = rng.choice(jumbs) - 4
        struct.pack_into(">I", buf, at, rng.choice(_INTERESTING_32))
        return bytes(buf)
    if choice == 2 and jumbs:  # a JUMBF label / type uuid
        at = rng.choice(jumbs) + 4
        n = rng.randrange(1, 24)
        buf[at : at + n] = rng.randbytes(n)
        return bytes(buf)
    if choice == 3:  # a CBOR header byte rewritten to a nasty item (overwrite, same length)
        nasty = rng.choice(_CBOR_NASTY)
        at = rng.randrange(lo, hi)
        end = min(hi, at + len(nasty))
        buf[at:end] = nasty[: end - at]
        return bytes(buf)
    if choice == 4:  # CBOR map/array/string length bytes nudged
        cands = [i for i in range(lo, min(hi, lo + 300_000)) if data[i] >> 5 in (2, 3, 4, 5)]
        if cands:
            i = rng.choice(cands)
            buf[i] = (buf[i] & 0xE0) | rng.choice((0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1F, 0))
        return bytes(buf)
    # duplicate a slice of the manifest into itself (repeated assertions / labels)
    a = rng.randrange(lo, hi)
    b = min(hi, a + rng.choice((16, 256, 4096)))
    return bytes(buf[:b]) + bytes(buf[a:b]) + bytes(buf[b:])


def _find_all(data: bytes, needle: bytes, lo: int, hi: int) -> Iterator[int]:
    pos = data.find(needle, lo, hi)
    while pos >= 0:
        yield pos
        pos = data.find(needle, pos + 1, hi)


MUTATORS: dict[str, Mutator] = {
    "bit_flips": bit_flips,
    "byte_runs": byte_runs,
    "truncate": truncate,
    "box_size": box_size,
    "box_duplicate": box_duplicate,
    "box_drop": box_drop,
    "box_swap": box_swap,
    "deep_nesting": deep_nesting,
    "absurd_fields": absurd_fields,
    "splice_seeds": splice_seeds,
    "c2pa_bytes": c2pa_bytes,
}
_WEIGHTS = {
    "bit_flips": 3, "byte_runs": 2, "truncate": 2, "box_size": 3, "box_duplicate": 2,
    "box_drop": 2, "box_swap": 2, "deep_nesting": 1, "absurd_fields": 4, "splice_seeds": 2,
    "c2pa_bytes": 4,
}
MAX_CASE_BYTES = 8 << 20


def mutate(rng: random.Random, data: bytes, donors: Sequence[bytes]) -> tuple[bytes, list[str]]:
    """Apply 1-4 stacked mutators; return the bytes and the names applied."""
    names = list(MUTATORS)
    weights = [_WEIGHTS[n] for n in names]
    applied: list[str] = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        name = rng.choices(names, weights)[0]
        data = MUTATORS[name](rng, data, donors)
        applied.append(name)
        if len(data) > MAX_CASE_BYTES:
            data = data[:MAX_CASE_BYTES]
    return data, applied


# --------------------------------------------------------------------------------------------
# Seeds
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Seed:
    """A seed file: its name (with the extension the case files get), bytes and weight."""

    name: str
    data: bytes
    weight: float


def make_seeds(work: Path, *, home: Path, shared: bool = True, log: Callable[[str], None] = print,
               max_seed_bytes: int = 2_500_000) -> list[Seed]:
    """Make tiny signed and unsigned clips in ``work`` (keys in ``home``); add ../shared/c2pa.

    The signed clip is signed with a fresh key in ``home``, so verify (run with that home)
    exercises the trusted path, the watermark search and the manifest-store recovery.
    """
    import av
    import numpy as np

    work.mkdir(parents=True, exist_ok=True)

    def clip(name: str, *, w: int, h: int, seconds: float, fps: int, fmt: str | None = None,
             audio: bool = False, options: dict[str, str] | None = None) -> Path:
        path = work / name
        n = max(1, round(seconds * fps))
        with av.open(str(path), "w", format=fmt, options=options or {}) as out:
            vs = out.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
            vs.options = {"crf": "20", "preset": "ultrafast"}
            astream = out.add_stream("aac", rate=16000) if audio else None
            yy, xx = np.mgrid[0:h, 0:w]
            for i in range(n):
                r = ((xx * 3 + i * 5) % 256).astype(np.uint8)
                g = ((yy * 2 + i * 3) % 256).astype(np.uint8)
                b = (((xx ^ yy) + i * 7) % 256).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(np.stack([r, g, b], -1), format="rgb24")
                for p in vs.encode(frame):
                    out.mux(p)
            for p in vs.encode():
                out.mux(p)
            if astream is not None:
                samples = (0.1 * np.sin(np.arange(16000 * seconds) / 5)).astype(np.float32)
                for k in range(0, len(samples), 1024):
                    chunk = samples[k : k + 1024]
                    chunk = np.pad(chunk, (0, 1024 - len(chunk)))
                    af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                    af.sample_rate, af.pts = 16000, k
                    for p in astream.encode(af):
                        out.mux(p)
                for p in astream.encode():
                    out.mux(p)
        return path

    seeds: list[Seed] = []
    plain = clip("plain.mp4", w=160, h=120, seconds=1.0, fps=10, audio=True)
    seeds.append(Seed("unsigned.mp4", plain.read_bytes(), 3.0))
    mov = clip("plain.mov", w=160, h=120, seconds=1.0, fps=10, fmt="mov")
    seeds.append(Seed("unsigned.mov", mov.read_bytes(), 2.0))
    frag = clip("frag.mp4", w=160, h=120, seconds=1.0, fps=10, fmt="mp4",
                options={"movflags": "frag_keyframe+empty_moov+default_base_moof"})
    seeds.append(Seed("fragmented.mp4", frag.read_bytes(), 1.0))

    try:
        from veriframe.credentials import init_keys
        from veriframe.signing import sign_video

        init_keys(org="Fuzz Org", passphrase=PASSPHRASE, home=home)
        for w, h in ((160, 120), (320, 240)):
            src = clip(f"src{w}.mp4", w=w, h=h, seconds=1.0, fps=10, audio=True)
            try:
                signed = work / f"signed{w}.mp4"
                sign_video(src, output=signed, model="fuzz-model", parameters={"seed": 1},
                           title="fuzz seed", home=home, passphrase=PASSPHRASE)
            except Exception as exc:  # the watermark may refuse a clip this small: go bigger
                log(f"  signing a {w}x{h} seed failed ({exc}); trying a larger one")
                continue
            seeds.append(Seed("signed.mp4", signed.read_bytes(), 6.0))
            break
    except Exception as exc:
        log(f"  no signed seed: {type(exc).__name__}: {exc}")

    shared_dir = REPO / SHARED_C2PA
    if shared and shared_dir.is_dir():
        for f in sorted(shared_dir.iterdir()):
            if f.suffix.lower() in {".csv", ".md"} or f.stat().st_size > max_seed_bytes:
                continue
            video = f.suffix.lower() in {".mp4", ".mov", ".m4s"}
            seeds.append(Seed(f.name, f.read_bytes(), 1.5 if video else 0.25))
    elif shared:
        log(f"  {SHARED_C2PA} not found from {REPO}: fuzzing without the public C2PA files")
    return seeds


# --------------------------------------------------------------------------------------------
# Workers
# --------------------------------------------------------------------------------------------


def _worker_main(conn: Any, home: str, memory_mb: int, detector: str | None,
                 sample_count: int, known_marks: bool) -> None:
    """Worker loop: receive a case directory + file name, run verify, send back the outcome."""
    import resource

    from veriframe import watermark
    from veriframe.errors import VeriframeError
    from veriframe.verification import verify

    if not known_marks:
        # The known-generator-mark check reads decoded pixels only, never container bytes:
        # off unless --known-marks, so the campaign spends its time on the parsers.
        watermark.known_marks = lambda sample, **kw: ()  # type: ignore[assignment]

    det: Any = detector
    if detector is not None:
        try:
            from veriframe.detect import Detector

            det = Detector.load(detector)
        except Exception as exc:  # a broken detector is reported, not fuzzed around
            conn.send({"fatal": f"cannot load detector {detector!r}: {exc!r}"})
            return
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    conn.send({"ready": True})
    while True:
        job = conn.recv()
        if job is None:
            return
        path = Path(job["path"])
        out: dict[str, Any]
        start = time.perf_counter()
        try:
            report = verify(path, home=home, detector=det, sample_count=sample_count)
            err = report.error or report.credentials.error
            out = {"kind": "report", "verdict": report.verdict.value,
                   "code": err.code if err is not None else None,
                   "credentials": report.credentials.state.value}
            json.dumps(report.to_dict())  # the JSON must always be producible
        except VeriframeError as exc:
            out = {"kind": "raised", "code": exc.code}
        except MemoryError:
            out = {"kind": "oom", "detail": "MemoryError"}
        except BaseException as exc:  # the bug we are looking for
            tb = traceback.extract_tb(exc.__traceback__)
            where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
            out = {"kind": "exception", "type": type(exc).__name__, "where": where,
                   "detail": "".join(traceback.format_exception(exc))[-4000:]}
        out["seconds"] = time.perf_counter() - start
        conn.send(out)


class Worker:
    """One verify worker process, restarted on demand."""

    def __init__(self, ctx: Any, home: Path, memory_mb: int, detector: str | None,
                 sample_count: int, known_marks: bool = False) -> None:
        self._ctx, self._home, self._memory_mb = ctx, home, memory_mb
        self._detector, self._sample_count = detector, sample_count
        self._known_marks = known_marks
        self._proc: Any = None
        self._conn: Any = None
        self.restarts = 0

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(
            target=_worker_main,
            args=(child, str(self._home), self._memory_mb, self._detector, self._sample_count,
                  self._known_marks),
            daemon=True,
        )
        self._proc.start()
        child.close()
        self._conn = parent
        if not parent.poll(180):
            raise RuntimeError("a verify worker did not start within 180 s")
        hello = parent.recv()
        if "fatal" in hello:
            raise RuntimeError(hello["fatal"])

    def _kill(self) -> int | None:
        if self._proc is None:
            return None
        with contextlib.suppress(Exception):
            self._proc.kill()
        self._proc.join(10)
        code = self._proc.exitcode
        self._proc = self._conn = None
        self.restarts += 1
        return code

    def run(self, path: Path, timeout: float) -> dict[str, Any]:
        """Run one case; a timeout or a dead worker becomes an outcome, never an exception."""
        if self._proc is None or not self._proc.is_alive():
            self._start()
        start = time.perf_counter()
        try:
            self._conn.send({"path": str(path)})
            if self._conn.poll(timeout):
                return self._conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            pass
        elapsed = time.perf_counter() - start
        alive = self._proc.is_alive()
        code = self._kill()
        if alive and elapsed >= timeout:
            return {"kind": "hang", "seconds": elapsed}
        # Died: an abort on a failed allocation under RLIMIT_AS is an OOM, anything else a crash.
        signal_no = -code if code is not None and code < 0 else None
        kind = "oom" if signal_no == 6 else "crash"
        return {"kind": kind, "detail": f"worker exit code {code}", "seconds": elapsed}

    def close(self) -> None:
        """Stop the worker."""
        if self._proc is not None:
            with contextlib.suppress(Exception):
                self._conn.send(None)
            self._proc.join(5)
            if self._proc.is_alive():
                self._kill()


# --------------------------------------------------------------------------------------------
# The campaign
# --------------------------------------------------------------------------------------------

FAILURES = ("exception", "crash", "hang", "oom", "output")


def make_case(seeds: Sequence[Seed], seed: int, index: int) -> tuple[str, bytes, str]:
    """Case ``index`` of campaign ``seed``: (file name, bytes, description). Deterministic."""
    rng = random.Random(f"veriframe-fuzz:{seed}:{index}")
    base = rng.choices(seeds, [s.weight for s in seeds])[0]
    donors = [s.data for s in seeds if s is not base]
    data, applied = mutate(rng, base.data, donors)
    name = "case" + Path(base.name).suffix
    if rng.random() < 0.03:  # hostile file names too
        name = rng.choice(("\x1b[2Jcase", "case\r\nfake: signed", "<img src=x onerror=alert(1)>",
                           "\u202ecase", "c a s e", "-case")) + Path(base.name).suffix
    return name, data, f"{base.name} <- {'+'.join(applied)}"


def _snapshot(path: Path) -> set[tuple[str, int]]:
    out = set()
    for root, _dirs, files in os.walk(path):
        for f in files:
            p = Path(root) / f
            with contextlib.suppress(OSError):
                out.add((str(p.relative_to(path)), p.stat().st_size))
    return out


@dataclasses.dataclass
class Outcome:
    """One case's result."""

    index: int
    desc: str
    name: str
    result: dict[str, Any]
    written: list[str]

    @property
    def failure(self) -> str | None:
        """The failure kind, or None for a pass."""
        if self.result["kind"] in ("exception", "crash", "hang", "oom"):
            return self.result["kind"]
        if self.written:
            return "output"
        return None

    def signature(self) -> str:
        """What identifies "the same bug" during minimisation."""
        r = self.result
        return f"{self.failure}:{r.get('type', '')}:{r.get('where', '')}"


@dataclasses.dataclass
class Campaign:
    """Settings of a fuzzing run."""

    cases: int = 1000
    seconds_per_case: float = 60.0
    seed: int = 1
    jobs: int = 1
    memory_mb: int = 3072
    detector: str | None = "default"
    sample_count: int = 32
    out: Path | None = None
    shared: bool = True
    minimise: bool = True
    verbose: bool = True
    known_marks: bool = False
    max_seed_bytes: int = 2_500_000


@dataclasses.dataclass
class Summary:
    """What a campaign found."""

    cases: int = 0
    seconds: float = 0.0
    counts: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    verdicts: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    codes: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    mutators: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    failures: list[Outcome] = dataclasses.field(default_factory=list)
    home_changes: list[str] = dataclasses.field(default_factory=list)
    seeds: list[str] = dataclasses.field(default_factory=list)
    restarts: int = 0
    slowest: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no case failed and the home was left alone."""
        return not self.failures and not self.home_changes

    def table(self) -> str:
        """The summary as a plain-text table."""
        rate = self.cases / self.seconds if self.seconds else 0.0
        rows = [
            ("cases", str(self.cases)),
            ("uncaught exceptions", str(self.counts["exception"])),
            ("native crashes", str(self.counts["crash"])),
            ("hangs over the limit", str(self.counts["hang"])),
            ("memory blow-ups (OOM)", str(self.counts["oom"])),
            ("outputs written", str(self.counts["output"])),
            ("files changed in home", str(len(self.home_changes))),
            ("worker restarts", str(self.restarts)),
            ("wall time", f"{self.seconds:.0f} s"),
            ("cases/s", f"{rate:.1f}"),
            ("slowest case", f"{self.slowest:.2f} s"),
        ]
        width = max(len(k) for k, _ in rows)
        lines = ["", "fuzz_verify summary", "-" * (width + 14)]
        lines += [f"{k:<{width}}  {v:>10}" for k, v in rows]
        for title, counter in (("verdicts", self.verdicts), ("error codes", self.codes),
                               ("mutators applied", self.mutators)):
            lines += ["", f"{title}:"]
            lines += [f"  {k:<40} {v:>7}" for k, v in counter.most_common()]
        lines += ["", f"seeds: {', '.join(self.seeds)}"]
        for f in self.failures[:20]:
            lines.append(f"FAIL case {f.index} [{f.signature()}] {f.desc}")
        return "\n".join(lines)


def run_campaign(cfg: Campaign) -> Summary:
    """Run ``cfg.cases`` mutated cases through ``verify``; return the :class:`Summary`."""
    log: Callable[[str], None] = (lambda m: print(m, file=sys.stderr, flush=True)) \
        if cfg.verbose else (lambda m: None)
    summary = Summary()
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="vf-fuzz-") as tmp_s:
        tmp = Path(tmp_s)
        home = tmp / "home"
        log("making seeds ...")
        seeds = make_seeds(tmp / "seeds", home=home, shared=cfg.shared, log=log,
                           max_seed_bytes=cfg.max_seed_bytes)
        seeds = _weigh_by_cost(seeds, tmp / "calibrate", cfg, ctx, home, log)
        summary.seeds = [s.name for s in seeds]
        log(f"{len(seeds)} seeds; running {cfg.cases} cases with {cfg.jobs} worker(s)")
        home_before = _snapshot(home)
        lock = threading.Lock()
        next_index = iter(range(cfg.cases))
        # SQLite may create its -wal/-shm beside the store on first read: not an output.
        sqlite_side = ("-wal", "-shm", "-journal")

        harness_errors: list[BaseException] = []

        def work(slot: int) -> None:
            try:
                _work(slot)
            except BaseException as exc:  # a harness bug must fail the run, not shrink it
                harness_errors.append(exc)

        def _work(slot: int) -> None:
            worker = _worker(ctx, home, cfg)
            try:
                while True:
                    with lock:
                        index = next(next_index, None)
                    if index is None:
                        return
                    name, data, desc = make_case(seeds, cfg.seed, index)
                    case_dir = tmp / f"case-{slot}"
                    shutil.rmtree(case_dir, ignore_errors=True)
                    case_dir.mkdir()
                    path = case_dir / name
                    path.write_bytes(data)
                    before = _snapshot(case_dir)
                    result = worker.run(path, cfg.seconds_per_case)
                    written = sorted(n for n, _ in _snapshot(case_dir) - before)
                    outcome = Outcome(index, desc, name, result, written)
                    with lock:
                        _account(summary, outcome, desc)
                        if outcome.failure:
                            log(f"FAIL case {index}: {outcome.signature()} ({desc})")
                            summary.failures.append(outcome)
                            _save(cfg, outcome, data)
                        if cfg.verbose and summary.cases % 500 == 0:
                            log(f"  {summary.cases} cases, {len(summary.failures)} failures, "
                                f"{summary.cases / (time.perf_counter() - t0):.1f} cases/s")
            finally:
                with lock:
                    summary.restarts += worker.restarts
                worker.close()

        t0 = time.perf_counter()
        threads = [threading.Thread(target=work, args=(i,)) for i in range(max(1, cfg.jobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if harness_errors:
            raise harness_errors[0]
        summary.seconds = time.perf_counter() - t0
        changed = _snapshot(home) ^ home_before
        summary.home_changes = sorted({n for n, _ in changed if not n.endswith(sqlite_side)})

        if cfg.minimise and cfg.out is not None and summary.failures:
            log("minimising failing inputs ...")
            worker = _worker(ctx, home, cfg)
            try:
                seen: set[str] = set()
                for f in summary.failures:
                    if f.signature() in seen:
                        continue
                    seen.add(f.signature())
                    _, data, _ = make_case(seeds, cfg.seed, f.index)
                    small = minimise(worker, tmp / "min", f.name, data, f.signature(),
                                     cfg.seconds_per_case)
                    _save(cfg, f, small, suffix=".min")
                    log(f"  case {f.index}: {len(data)} -> {len(small)} bytes")
            finally:
                worker.close()
    return summary


def _worker(ctx: Any, home: Path, cfg: Campaign) -> Worker:
    return Worker(ctx, home, cfg.memory_mb, cfg.detector, cfg.sample_count, cfg.known_marks)


def _weigh_by_cost(seeds: list[Seed], work: Path, cfg: Campaign, ctx: Any, home: Path,
                   log: Callable[[str], None]) -> list[Seed]:
    """Run each seed once; scale down the weight of seeds slower than 0.5 s per verify.

    The public C2PA files include a 2750x1834, 313-frame MOV that takes 15-20 s to verify on a
    2-core machine: without this, a few big seeds would eat the whole campaign.
    """
    worker = _worker(ctx, home, cfg)
    out: list[Seed] = []
    try:
        for i, seed in enumerate(seeds):
            case_dir = work / f"seed-{i}"
            case_dir.mkdir(parents=True)
            path = case_dir / ("seed" + Path(seed.name).suffix)
            path.write_bytes(seed.data)
            result = worker.run(path, cfg.seconds_per_case)
            cost = float(result.get("seconds", cfg.seconds_per_case))
            factor = min(1.0, 0.5 / max(cost, 1e-3))
            out.append(dataclasses.replace(seed, weight=seed.weight * factor))
            if factor < 1.0:
                log(f"  seed {seed.name}: {cost:.1f} s per verify, weight x{factor:.2f}")
    finally:
        worker.close()
    return out


def _account(summary: Summary, outcome: Outcome, desc: str) -> None:
    summary.cases += 1
    r = outcome.result
    summary.slowest = max(summary.slowest, float(r.get("seconds", 0.0)))
    summary.mutators.update(desc.split(" <- ", 1)[1].split("+"))
    if outcome.failure:
        summary.counts[outcome.failure] += 1
    kind = r["kind"]
    if kind == "report":
        summary.verdicts[r["verdict"]] += 1
        if r.get("code"):
            summary.codes[r["code"]] += 1
    elif kind == "raised":
        summary.verdicts["(raised VeriframeError)"] += 1
        summary.codes[r["code"]] += 1
    else:
        summary.verdicts[f"({kind})"] += 1


def _save(cfg: Campaign, outcome: Outcome, data: bytes, suffix: str = "") -> None:
    if cfg.out is None:
        return
    cfg.out.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha256(outcome.signature().encode()).hexdigest()[:8]
    stem = f"{outcome.failure}-{tag}-case{outcome.index}{suffix}"
    (cfg.out / (stem + Path(outcome.name).suffix)).write_bytes(data)
    (cfg.out / (stem + ".json")).write_text(json.dumps(
        {"case": outcome.index, "seed": cfg.seed, "desc": outcome.desc, "name": outcome.name,
         "result": outcome.result, "written": outcome.written}, indent=2))


def minimise(worker: Worker, work: Path, name: str, data: bytes, signature: str,
             timeout: float, *, budget: int = 300) -> bytes:
    """Delta-debug ``data`` down to a smaller input that fails with the same signature."""
    work.mkdir(parents=True, exist_ok=True)
    tries = 0

    def fails(candidate: bytes) -> bool:
        nonlocal tries
        tries += 1
        case_dir = work / f"try-{tries}"
        case_dir.mkdir()
        path = case_dir / name
        path.write_bytes(candidate)
        before = _snapshot(case_dir)
        result = worker.run(path, timeout)
        written = sorted(n for n, _ in _snapshot(case_dir) - before)
        shutil.rmtree(case_dir, ignore_errors=True)
        return Outcome(0, "", name, result, written).signature() == signature

    chunks = 2
    while len(data) > 1 and tries < budget:
        size = max(1, len(data) // chunks)
        reduced = False
        for start in range(0, len(data), size):
            if tries >= budget:
                break
            candidate = data[:start] + data[start + size :]
            if candidate and fails(candidate):
                data, chunks, reduced = candidate, max(chunks - 1, 2), True
                break
        if not reduced:
            if size == 1:
                break
            chunks = min(len(data), chunks * 2)
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=1000, help="number of cases (default 1000)")
    p.add_argument("--seconds-per-case", type=float, default=60.0,
                   help="wall-clock limit per case; over it is a hang (default 60)")
    p.add_argument("--memory-mb", type=int, default=3072,
                   help="RLIMIT_AS of a worker in MiB, 0 for none (default 3072)")
    p.add_argument("--seed", type=int, default=1, help="campaign seed (default 1)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for failing and minimised inputs (default: not saved)")
    p.add_argument("--detector", default="default",
                   help="detector model for verify, or 'none' (default: default)")
    p.add_argument("--sample-count", type=int, default=32, help="frames verify samples")
    p.add_argument("--no-shared", action="store_true", help="skip ../shared/c2pa seeds")
    p.add_argument("--no-minimise", action="store_true", help="save failures unminimised")
    p.add_argument("--known-marks", action="store_true",
                   help="also run the invisible-watermark known-mark check (imports torch; slow)")
    p.add_argument("--replay", type=int, default=None,
                   help="write case N of --seed into --out (or print its description)")
    args = p.parse_args(argv)
    os.chdir(REPO)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    detector = None if args.detector == "none" else args.detector
    if args.replay is not None:
        with tempfile.TemporaryDirectory(prefix="vf-fuzz-") as tmp:
            seeds = make_seeds(Path(tmp) / "seeds", home=Path(tmp) / "home",
                               shared=not args.no_shared)
            name, data, desc = make_case(seeds, args.seed, args.replay)
        print(f"case {args.replay}: {desc} ({len(data)} bytes)")
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / name).write_bytes(data)
            print(f"written to {args.out / name}")
        return 0
    cfg = Campaign(cases=args.cases, seconds_per_case=args.seconds_per_case, seed=args.seed,
                   jobs=args.jobs, memory_mb=args.memory_mb, detector=detector,
                   sample_count=args.sample_count, out=args.out, shared=not args.no_shared,
                   minimise=not args.no_minimise, known_marks=args.known_marks)
    summary = run_campaign(cfg)
    print(summary.table())
    shown = " ".join(sys.argv[1:] if argv is None else argv)
    print(f"\ncommand: python benchmarks/fuzz_verify.py {shown}")
    return 0 if summary.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
