"""Small clips in every input format the media layer supports, made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clipgen import make_clip
from tests.media._clips import make_audio_only, make_avi, make_rotated, make_zero_frame


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clips(media_dir: Path) -> dict[str, Path]:
    """name -> path: 1 s, 10 fps clips (10 frames) in each container."""
    d = media_dir
    small = {"seconds": 1.0, "fps": 10, "width": 160, "height": 120}
    made = {
        "mp4": make_clip(d / "c.mp4", **small),
        "mov": make_clip(d / "c.mov", **small),
        "webm": make_clip(d / "c.webm", codec="libvpx-vp9", **small),
        "mkv": make_clip(d / "c.mkv", container="matroska", **small),
        "gif": make_clip(d / "c.gif", codec="gif", pix_fmt="rgb8", audio=False, **small),
        "avi": make_avi(d / "c.avi", frames=10, fps=10, width=160, height=120),
        "noaudio": make_clip(d / "na.mp4", audio=False, **small),
        "tenbit": make_clip(d / "ten.mp4", pix_fmt="yuv420p10le", **small),
        "odd": make_clip(
            d / "odd.mp4", seconds=1.0, fps=10, width=161, height=121, pix_fmt="yuv444p"
        ),
        "zero": make_zero_frame(d / "zero.mkv"),
        "audio": make_audio_only(d / "tone.m4a"),
    }
    made["rot90"] = make_rotated(made["noaudio"], d / "rot90.mp4", 90)
    return made
