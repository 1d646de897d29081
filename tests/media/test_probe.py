"""probe(): what it reports for each container, rotation, bit depth, audio."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from veriframe.media import MediaInfo, probe


@pytest.mark.parametrize(
    ("name", "container", "vcodec", "acodec"),
    [
        ("mp4", "mp4", "h264", "aac"),
        ("mov", "mov", "h264", "aac"),
        ("webm", "webm", "vp9", "opus"),
        ("mkv", "matroska", "h264", "aac"),
        ("avi", "avi", "mpeg4", "pcm_s16le"),
        ("gif", "gif", "gif", None),
    ],
)
def test_probe_containers(clips: dict[str, Path], name, container, vcodec, acodec):
    info = probe(clips[name])
    assert isinstance(info, MediaInfo)
    assert info.container == container
    assert info.video_codec == vcodec
    assert (info.width, info.height) == (160, 120)
    assert info.fps == pytest.approx(10.0, rel=0.3 if name == "gif" else 0.01)
    assert info.frame_count == 10
    assert info.duration == pytest.approx(1.0, abs=0.05)
    assert info.has_audio is (acodec is not None)
    assert info.audio_codec == acodec
    assert info.size_bytes == clips[name].stat().st_size
    assert info.rotation == 0
    json.dumps(info.to_dict())  # plain JSON values only


def test_probe_mp4_details(clips: dict[str, Path]):
    info = probe(clips["mp4"])
    assert info.pix_fmt == "yuv420p"
    assert info.frame_count_exact
    assert info.audio_sample_rate == 48000
    assert info.bit_rate and info.bit_rate > 0
    assert info.encoder and info.encoder.startswith("Lavf")
    assert info.tags["major_brand"] == "isom"
    assert info.to_dict()["tags"] == info.tags


def test_probe_rotation_from_display_matrix(clips: dict[str, Path]):
    assert probe(clips["rot90"]).rotation == 90
    info = probe(clips["rot90"])
    assert (info.width, info.height) == (160, 120)  # stored size, rotation not applied


def test_probe_tenbit_odd_noaudio(clips: dict[str, Path]):
    assert probe(clips["tenbit"]).pix_fmt == "yuv420p10le"
    odd = probe(clips["odd"])
    assert (odd.width, odd.height, odd.pix_fmt) == (161, 121, "yuv444p")
    na = probe(clips["noaudio"])
    assert not na.has_audio and na.audio_codec is None and na.audio_sample_rate is None


def test_public_api_is_exactly_all():
    import veriframe.media as m

    assert sorted(m.__all__) == sorted(
        [
            "FrameSample",
            "Limits",
            "MediaInfo",
            "first_frames",
            "frames_at",
            "probe",
            "read_frames",
            "remux",
            "require_file",
            "rewrite_video",
            "sample_frames",
            "sample_runs",
            "to_mp4",
            "transcode",
            "walk_luma",
            "write_video",
        ]
    )
    public = {
        n for n in dir(m) if not n.startswith("_") and not isinstance(getattr(m, n), type(m))
    } - {"annotations"}
    assert public == set(m.__all__)
