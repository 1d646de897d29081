"""Fixtures for the credentials tests: a fresh identity, a signed clip, MP4 surgery helpers."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import pytest

from tests.credentials.chainfiles import ChainFiles, make_chain
from veriframe.credentials.keys import SigningIdentity, init_keys, load_identity
from veriframe.credentials.manifest import ManifestSpec, SoftBinding, build_manifest
from veriframe.credentials.sign import sign_mp4

PASSPHRASE = "correct horse battery staple"  # the one tests/conftest.py's vf_home sets


@pytest.fixture()
def identity(vf_home: Path) -> SigningIdentity:
    """Keys initialised in the private home, loaded with the passphrase from the env."""
    init_keys(home=vf_home, org="Example Newsroom", passphrase=PASSPHRASE)
    return load_identity(home=vf_home, passphrase=PASSPHRASE)


def spec_for_tests(**overrides: object) -> ManifestSpec:
    """A typical AI-video manifest spec."""
    values: dict[str, object] = {
        "title": "clip.mp4",
        "model": "Wan2.1-I2V-14B-480P",
        "model_version": "2.1",
        "parameters": {"effect": "squish", "seed": 1234, "steps": 30, "guidance": 5.0},
        "prompt": "a cat squished like a cake",
        "soft_binding": SoftBinding(
            payload_id="00112233aabbccdd",
            key_id="0123456789abcdef",
            frame_start=0,
            frame_end=24,
            duration_s=2.0,
            fingerprint="ff" * 8,
        ),
    }
    values.update(overrides)
    return ManifestSpec(**values)  # type: ignore[arg-type]


@pytest.fixture()
def signed_clip(identity: SigningIdentity, small_clip: Path, tmp_path: Path) -> Path:
    """``small_clip`` signed with the test identity."""
    out = tmp_path / "signed.mp4"
    sign_mp4(small_clip, out, manifest=build_manifest(spec_for_tests()), identity=identity)
    return out


def top_level_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, offset, size) of each top-level ISO BMFF box."""
    out, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        elif size == 0:
            size = len(data) - pos
        out.append((kind, pos, size))
        pos += size
    return out


def flip_mdat_byte(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` with one byte in the middle of ``mdat`` inverted."""
    data = bytearray(src.read_bytes())
    _kind, off, size = next(b for b in top_level_boxes(bytes(data)) if b[0] == b"mdat")
    data[off + size // 2] ^= 0xFF
    dst.write_bytes(bytes(data))


def remux(src: Path, dst: Path) -> None:
    """Stream-copy ``src`` into a new MP4 (what ``ffmpeg -c copy`` does): drops the manifest."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        mapping = {}
        for stream in inp.streams:
            if stream.type in ("video", "audio"):
                mapping[stream.index] = out.add_stream_from_template(stream)
        for packet in inp.demux(*[inp.streams[i] for i in mapping]):
            if packet.dts is None:
                continue
            packet.stream = mapping[packet.stream.index]
            out.mux(packet)


def reencode(src: Path, dst: Path) -> None:
    """Decode and re-encode the video (a platform-style transcode; audio dropped)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream("libx264", rate=vin.average_rate or 12)
        vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
        vout.options = {"crf": "28", "preset": "ultrafast"}
        for frame in inp.decode(vin):
            frame.pts = None
            for packet in vout.encode(frame):
                out.mux(packet)
        for packet in vout.encode():
            out.mux(packet)


@pytest.fixture()
def chain_files(identity: SigningIdentity, tmp_path: Path) -> ChainFiles:
    """camera.mp4 -> interview.mp4 -> final.mp4, and final.mp4 with the ingredient tampered."""
    return make_chain(tmp_path / "chain", identity)
