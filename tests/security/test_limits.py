"""Streams that claim absurd sizes are refused with ``media.limits`` before anything is allocated.

The claims are crafted into real files: an MJPEG-in-MOV whose container *and* JPEG headers say
16000x16000 (a 32-frame RGB sample of that would need ~24 GiB), a 60000x60000 claim, and an
H.264 MP4 whose ``stts`` claims a billion frames.
"""

from __future__ import annotations

import resource
import struct
from pathlib import Path

import av
import numpy as np
import pytest
from benchmarks.fuzz_verify import parse_boxes

from tests.clipgen import make_clip
from veriframe._cli import main
from veriframe.errors import MediaError
from veriframe.media import Limits, probe, sample_frames
from veriframe.verification import verify


def _claim_size(path: Path, side: int) -> Path:
    """A 3-frame 16x16 MJPEG MOV whose tkhd, stsd entry and every JPEG SOF claim ``side``²."""
    with av.open(str(path), "w", format="mov") as out:
        stream = out.add_stream("mjpeg", rate=10)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuvj420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), 40 * i, np.uint8), "rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    data = path.read_bytes()
    buf = bytearray(data)
    for box in parse_boxes(data):
        if box.kind == b"tkhd":
            struct.pack_into(">II", buf, box.end - 8, side << 16, side << 16)
        if box.kind in (b"jpeg", b"mjpa"):
            struct.pack_into(">HH", buf, box.body + 24, side, side)
    sof = buf.find(b"\xff\xc0")
    assert sof > 0
    while sof >= 0:
        struct.pack_into(">HH", buf, sof + 5, side, side)
        sof = buf.find(b"\xff\xc0", sof + 2)
    path.write_bytes(bytes(buf))
    return path


def _claim_frames(src: Path, dst: Path, frames: int) -> Path:
    """``src`` with its video ``stts`` claiming ``frames`` samples of the first entry."""
    data = src.read_bytes()
    buf = bytearray(data)
    stts = next(b for b in parse_boxes(data) if b.kind == b"stts")
    struct.pack_into(">I", buf, stts.body + 8, frames)
    dst.write_bytes(bytes(buf))
    return dst


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("limits")
    return make_clip(folder / "tiny.mp4", seconds=1.0, width=160, height=120, fps=10, audio=False)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_claimed_16000x16000_frames_are_refused_before_allocation(tmp_path: Path) -> None:
    path = _claim_size(tmp_path / "claims16k.mov", 16000)
    before = _rss_mb()
    for call in (lambda: probe(path), lambda: sample_frames(path, count=32)):
        with pytest.raises(MediaError) as info:
            call()
        assert info.value.code == "media.limits"
        assert "16000x16000" in info.value.message
    # One decoded 16000x16000 RGB frame alone is 732 MiB: nothing of the sort was allocated.
    assert _rss_mb() - before < 200


def test_claimed_60000x60000_frames_are_refused(tmp_path: Path, vf_home: Path) -> None:
    # FFmpeg itself drops a size this absurd (av_image_check_size), so the media layer sees
    # "no picture size": refused as unreadable, never decoded.
    path = _claim_size(tmp_path / "claims60k.mov", 60000)
    before = _rss_mb()
    report = verify(path, home=vf_home, detector=None)
    assert report.verdict.value == "error"
    assert report.error is not None
    assert report.error.code in ("media.limits", "media.unreadable")
    assert _rss_mb() - before < 200


def test_billion_frame_claim_is_refused(tiny: Path, tmp_path: Path) -> None:
    path = _claim_frames(tiny, tmp_path / "billion.mp4", 10**9)
    with pytest.raises(MediaError) as info:
        probe(path)
    assert info.value.code == "media.limits"
    assert "frame count" in info.value.message


def test_verify_cli_reports_media_limits_with_exit_4(
    tmp_path: Path, vf_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _claim_size(tmp_path / "claims16k.mov", 16000)
    code = main(["verify", str(path), "--no-detect", "--policy", "none"])
    err = capsys.readouterr().err
    assert code == 4, err
    assert "error[media.limits]" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "vfhome") == ["claims16k.mov"]


def test_limits_can_be_lowered_by_argument(tiny: Path) -> None:
    assert probe(tiny).width == 160  # within the defaults
    for limits, what in (
        (Limits(max_pixels=160 * 120 - 1), "frame size"),
        (Limits(max_frames=5), "frame count"),
        (Limits(max_duration_s=0.5), "duration"),
        (Limits(max_file_bytes=1000), ""),
    ):
        with pytest.raises(MediaError) as info:
            probe(tiny, limits=limits)
        assert info.value.code == "media.limits", limits
        assert what in info.value.message


def test_limits_can_be_lowered_by_environment(
    tiny: Path, monkeypatch: pytest.MonkeyPatch, vf_home: Path
) -> None:
    # The command line resolves VERIFRAME_MAX_* into the settings it passes down.
    from veriframe._cli._common import settings

    monkeypatch.setenv("VERIFRAME_MAX_PIXELS", "10000")
    cfg = settings()
    with pytest.raises(MediaError) as info:
        probe(tiny, limits=cfg.limits)
    assert info.value.code == "media.limits"
    assert "VERIFRAME_MAX_PIXELS" in info.value.hint
    report = verify(tiny, settings=cfg, detector=None)
    assert report.error is not None and report.error.code == "media.limits"


def test_bad_limit_values_in_environment_are_a_clear_error(
    tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from veriframe._cli._common import settings
    from veriframe.errors import VeriframeError

    monkeypatch.setenv("VERIFRAME_MAX_FRAMES", "-1")
    with pytest.raises(VeriframeError) as info:
        settings()
    assert info.value.code == "config.invalid"


# --- the decode budget (issue #24): memory and work of a read, one door for every caller ---

def test_plan_counts_the_decoders_pictures_and_trades_threads_before_refusing() -> None:
    from veriframe.media.limits import frame_bytes, plan_decode

    assert frame_bytes(100, 100, "yuv420p") == 15_000
    assert frame_bytes(100, 100, "yuv444p16le") == 60_000  # four times the 8-bit 4:2:0 size
    one = plan_decode(width=1920, height=1080, pix_fmt="yuv420p", codec="hevc",
                      limits=Limits(), keep=32, frames=100, threads=4)
    assert one.threads == 4 and one.pixels == 100 * 1920 * 1080
    # 32 kept RGB+luma frames, plus 4 threads + 16 references + 1, plus the conversion.
    assert one.held_bytes == 32 * 1920 * 1080 * 4 + 21 * 3_110_400 + int(1920 * 1080 * 4.5)
    tight = Limits(max_decoded_bytes=one.held_bytes - 1)
    fewer = plan_decode(width=1920, height=1080, pix_fmt="yuv420p", codec="hevc",
                        limits=tight, keep=32, frames=100, threads=4)
    assert fewer.threads == 3  # one frame thread fewer fits
    with pytest.raises(MediaError) as info:
        plan_decode(width=8192, height=4320, pix_fmt="yuv420p", codec="hevc",
                    limits=Limits(max_decoded_bytes=400 << 20), keep=32, frames=32)
    assert info.value.code == "media.limits"
    assert "VERIFRAME_MAX_DECODED_BYTES" in info.value.hint
    with pytest.raises(MediaError) as info:
        plan_decode(width=3840, height=2160, pix_fmt="yuv420p", codec="h264",
                    limits=Limits(max_decoded_pixels=10**10), keep=1, frames=3600)
    assert "VERIFRAME_MAX_DECODED_PIXELS" in info.value.hint


def test_the_meter_refuses_a_picture_that_grows_and_pixels_past_the_budget() -> None:
    from veriframe.media.limits import DecodeMeter, plan_decode

    limits = Limits(max_decoded_bytes=64 << 20, max_decoded_pixels=10 * 320 * 240)
    plan = plan_decode(width=320, height=240, pix_fmt="yuv420p", codec="h264", limits=limits,
                       keep=8)
    meter = DecodeMeter(plan, limits)
    for _ in range(10):
        meter.count(320, 240, "yuv420p")
    with pytest.raises(MediaError, match="pixels decoded"):
        meter.count(320, 240, "yuv420p")
    grown = DecodeMeter(plan, Limits(max_decoded_bytes=64 << 20))
    grown.count(320, 240, "yuv420p")
    grown.count(320, 240, "yuv420p")  # the same picture: nothing to re-plan
    with pytest.raises(MediaError, match="mid-stream"):
        grown.count(4096, 2160, "yuv420p")


def test_a_long_clip_is_refused_by_the_pixel_budget_before_decoding(tiny: Path) -> None:
    # A sample spread over a clip without a seek index decodes all of it: the header says
    # how much, and that is checked before the first frame.
    limits = Limits(max_decoded_pixels=160 * 120 * 5)
    with pytest.raises(MediaError) as info:
        sample_frames(tiny, count=4, limits=limits)
    assert info.value.code == "media.limits" and "pixels to decode" in info.value.message


def test_every_door_applies_the_same_limits(
    tiny: Path, tmp_path: Path, vf_home: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    """verify, detect, Detector.score_file and the service's detect call refuse the same file
    under the same limits, and VERIFRAME_MAX_* reaches `veriframe detect`."""
    from veriframe.detect import Detector
    from veriframe.serve.uploads import detect_upload

    limits = Limits(max_decoded_bytes=1_000_000)  # 10 kept 160x120 frames + the decoder: 1.4 MB
    assert verify(tiny, limits=limits, detector=None).error.code == "media.limits"
    det = Detector.load("default")
    for call in (lambda: det.score_file(tiny, limits=limits),
                 lambda: detect_upload(tiny, detector=det, limits=limits)):
        with pytest.raises(MediaError) as info:
            call()
        assert info.value.code == "media.limits"
    assert det.score_file(tiny).state.value == "scored"  # within the defaults
    monkeypatch.setenv("VERIFRAME_MAX_DECODED_BYTES", "1000000")
    code = main(["detect", str(tiny)])
    err = capsys.readouterr().err
    assert code == 4, err
    assert "error[media.limits]" in err and "Traceback" not in err
    monkeypatch.delenv("VERIFRAME_MAX_DECODED_BYTES")
    assert main(["detect", str(tiny), "--json"]) == 0
