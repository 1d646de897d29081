"""Fixtures shared by every test: the shared data folder, a private veriframe home, clips."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.clipgen import make_clip

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()


def pytest_configure(config: pytest.Config) -> None:
    """Run the suite with a throw-away HOME: no test may touch the user's ~/.veriframe."""
    os.environ["HOME"] = tempfile.mkdtemp(prefix="veriframe-test-home-")
    for var in ("VERIFRAME_HOME", "VERIFRAME_KEY_PASSPHRASE", "VERIFRAME_TRUST",
                "VERIFRAME_STORE", "VERIFRAME_POLICY", "VERIFRAME_WATERMARK_KEYS"):
        os.environ.pop(var, None)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared test data not found at {SHARED} (it sits beside the checkout)")
    return SHARED


@pytest.fixture()
def vf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private veriframe home and passphrase for one test."""
    home = tmp_path / "vfhome"
    monkeypatch.setenv("VERIFRAME_HOME", str(home))
    monkeypatch.setenv("VERIFRAME_KEY_PASSPHRASE", "correct horse battery staple")
    monkeypatch.delenv("VERIFRAME_TRUST", raising=False)
    monkeypatch.delenv("VERIFRAME_STORE", raising=False)
    return home


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session folder of generated clips (made once, read-only by convention)."""
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def small_clip(clip_dir: Path) -> Path:
    """2 s, 320x240, 12 fps H.264 MP4 with an AAC tone: textured, moving content."""
    return make_clip(clip_dir / "small.mp4", seconds=2.0, width=320, height=240, fps=12)


@pytest.fixture(scope="session")
def wm_clip(clip_dir: Path) -> Path:
    """2 s, 640x360, 15 fps clip with audio, big enough for the watermark."""
    return make_clip(clip_dir / "wm.mp4", seconds=2.0, width=640, height=360, fps=15)
