"""Bad inputs and limits: stable codes, no PyAV exception escapes, no output file left."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from veriframe.errors import ExitCode, MediaError, UnsupportedInputError, VeriframeError
from veriframe.media import (
    Limits,
    probe,
    read_frames,
    rewrite_video,
    sample_frames,
    to_mp4,
    transcode,
)


def _bad_inputs(tmp: Path, clips: dict[str, Path]) -> dict[str, tuple[Path, str]]:
    good = clips["mp4"].read_bytes()
    cases: dict[str, tuple[Path, str]] = {}

    def put(name: str, data: bytes, code: str) -> None:
        p = tmp / name
        p.write_bytes(data)
        cases[name] = (p, code)

    put("empty.mp4", b"", "media.empty")
    put("random.mp4", np.random.default_rng(1).bytes(50_000), "media.unreadable")
    put("head.mp4", good[:300], "media.unreadable")
    put("notes.txt", b"just some text\n" * 20, "media.unsupported-type")
    put("notes.mp4", "plain text named .mp4 ✓\n".encode(), "media.unsupported-type")
    put("doc.pdf", b"%PDF-1.7\n" + b"\x00" * 100, "media.unsupported-type")
    put("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200, "media.unsupported-type")
    cases["missing.mp4"] = (tmp / "missing.mp4", "media.not-found")
    (tmp / "adir.mp4").mkdir()
    cases["adir.mp4"] = (tmp / "adir.mp4", "media.is-directory")
    cases["zero"] = (clips["zero"], "media.no-frames")
    cases["audio"] = (clips["audio"], "media.no-video")
    return cases


def test_bad_inputs_give_codes_and_no_output(clips: dict[str, Path], tmp_path: Path):
    src_dir = tmp_path / "in"
    src_dir.mkdir()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for name, (path, code) in _bad_inputs(src_dir, clips).items():
        before = path.read_bytes() if path.is_file() else None
        calls = [
            lambda p=path: sample_frames(p),
            lambda p=path: read_frames(p),
            lambda p=path: rewrite_video(p, out_dir / "o.mp4", transform=lambda i, y: y),
            lambda p=path: transcode(p, out_dir / "t.mp4", preset="ultrafast"),
            lambda p=path: to_mp4(p, out_dir / "s.mp4", preset="ultrafast"),
        ]
        if code != "media.no-frames":
            calls.append(lambda p=path: probe(p))
        for call in calls:
            with pytest.raises(VeriframeError) as e:
                call()
            assert e.value.code == code, (name, e.value.code, e.value.message)
            assert e.value.hint
            if code == "media.unsupported-type":
                assert isinstance(e.value, UnsupportedInputError)
                assert e.value.exit_code == ExitCode.UNSUPPORTED_INPUT
            else:
                assert isinstance(e.value, MediaError)
        assert list(out_dir.iterdir()) == [], name
        if before is not None:
            assert path.read_bytes() == before


def test_truncated_mp4_with_intact_moov(clips: dict[str, Path], tmp_path: Path):
    data = clips["mp4"].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # make_clip writes moov last: it is cut off
    try:
        s = sample_frames(cut, count=10)
    except MediaError as e:
        assert e.code in ("media.unreadable", "media.no-frames")
    else:
        assert 0 < len(s) <= 10
    # A faststart file (moov first) cut inside mdat: what decodes comes back.
    from veriframe.media import remux

    fast = tmp_path / "fast.mp4"
    remux(clips["mp4"], fast)
    raw = fast.read_bytes()
    assert raw.find(b"moov") < raw.find(b"mdat")
    half = tmp_path / "half.mp4"
    half.write_bytes(raw[: int(len(raw) * 0.6)])
    s = read_frames(half)
    assert 0 < len(s) < 10
    s2 = sample_frames(half, count=10)
    assert 0 < len(s2) <= 10


def test_limits_refuse_before_decoding(clips: dict[str, Path]):
    for limits, var in [
        (Limits(max_pixels=160 * 120 - 1), "VERIFRAME_MAX_PIXELS"),
        (Limits(max_frames=9), "VERIFRAME_MAX_FRAMES"),
        (Limits(max_duration_s=0.5), "VERIFRAME_MAX_DURATION_S"),
        (Limits(max_file_bytes=100), "VERIFRAME_MAX_FILE_BYTES"),
        (Limits(max_decoded_bytes=160 * 120 * 4 * 9), "VERIFRAME_MAX_DECODED_BYTES"),
    ]:
        with pytest.raises(MediaError) as e:
            read_frames(clips["mp4"], limits=limits)
        assert e.value.code == "media.limits"
        assert var in e.value.hint
    # Within limits: fine.
    assert len(read_frames(clips["mp4"], limits=Limits(max_frames=10))) == 10


def test_absurd_claimed_size_is_refused(tmp_path: Path, clips: dict[str, Path]):
    # Patch the tkhd/avcC-independent width/height in the SPS is hard; instead, the stream
    # header claims come from the codec context: check that probe refuses them via a limit
    # smaller than the real size, and that nothing was decoded (no frame-sized allocation).
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(MediaError) as e:
        probe(clips["mp4"], limits=Limits(max_pixels=100))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert e.value.code == "media.limits"
    assert peak < 160 * 120 * 3  # not even one RGB frame was allocated


def test_limits_from_env(monkeypatch: pytest.MonkeyPatch):
    from veriframe._cli._common import limits_from_env

    monkeypatch.setenv("VERIFRAME_MAX_FRAMES", "123")
    monkeypatch.setenv("VERIFRAME_MAX_DURATION_S", "9.5")
    lim = limits_from_env(os.environ)
    assert lim.max_frames == 123 and lim.max_duration_s == 9.5
    assert lim.max_pixels == Limits().max_pixels
    monkeypatch.setenv("VERIFRAME_MAX_PIXELS", "lots")
    with pytest.raises(VeriframeError) as e:
        limits_from_env(os.environ)
    assert e.value.code == "config.invalid"
    with pytest.raises(ValueError):
        Limits(max_frames=0)


def test_env_limit_applies_by_default(clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]):
    # The library reads no environment; the command line turns VERIFRAME_MAX_* into Limits.
    from veriframe._cli import main

    monkeypatch.setenv("VERIFRAME_MAX_FRAMES", "5")
    monkeypatch.setenv("VERIFRAME_HOME", str(clips["mp4"].parent / "no-home"))
    assert main(["verify", str(clips["mp4"]), "--json", "--no-detect"]) == 4
    doc = json.loads(capsys.readouterr().out)
    assert doc["error"]["code"] == "media.limits"
    sample_frames(clips["mp4"])  # no limit below the command line


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_permissions(tmp_path: Path, clips: dict[str, Path]):
    p = tmp_path / "locked.mp4"
    p.write_bytes(clips["mp4"].read_bytes())
    p.chmod(0)
    with pytest.raises(MediaError) as e:
        probe(p)
    assert e.value.code == "media.unreadable"
