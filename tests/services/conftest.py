"""Fixtures for the service tests: a signer's home with a signed clip, and its copies."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.clipgen import make_clip
from tests.services.server import Running, serve
from veriframe.serve import ServeConfig, create_app
from veriframe.settings import Settings

PASSPHRASE = "correct horse battery staple"


@dataclass(frozen=True)
class Signed:
    """A signer's home, the clip it signed, and what happens to that clip in the wild."""

    home: Path
    signed: Path
    stripped: Path  # the manifest removed by a stream copy
    reposted: Path  # re-encoded at CRF 28 and 0.75x, as a platform would
    other: Path  # an unrelated, unsigned clip
    other_signed: Path  # another clip signed by the same signer
    payload_id: str


def street(index: int, width: int, height: int, *, seed: int) -> np.ndarray:
    """Other content than ``scene``: drifting blobs and stripes on a different layout."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.zeros((height, width, 3), np.float32) + rng.uniform(40, 90, 3)
    for _ in range(7):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(20, 90)
        vx, vy = rng.uniform(-4, 4, 2)
        blob = np.exp(-(((xx - cx - vx * index) ** 2 + (yy - cy - vy * index) ** 2) / (2 * r * r)))
        img += blob[..., None] * rng.uniform(60, 200, 3)
    stripes = 25 * np.sin(xx * rng.uniform(0.02, 0.08) + yy * rng.uniform(0.01, 0.05)
                           + index * 0.3)
    img += stripes[..., None] + rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def street_clip(path: Path, *, seed: int, seconds: float = 2.0, fps: int = 15) -> Path:
    """A clip of :func:`street` frames (H.264, no audio)."""
    from veriframe import media

    frames = np.stack([street(i, 640, 360, seed=seed) for i in range(int(seconds * fps))])
    media.write_video(path, frames, fps=fps, crf=18, preset="veryfast")
    return path


@pytest.fixture(scope="session")
def signed_set(tmp_path_factory: pytest.TempPathFactory) -> Signed:
    from veriframe import media
    from veriframe.credentials.keys import init_keys
    from veriframe.signing import sign_video

    root = tmp_path_factory.mktemp("svc")
    home = root / "signer-home"
    init_keys(org="Resolver Test Studio", passphrase=PASSPHRASE, home=home)
    src = make_clip(root / "src.mp4", seconds=3.0, width=640, height=360, fps=15, seed=21)
    signed = root / "signed.mp4"
    result = sign_video(src, output=signed, model="Wan2.1-I2V-14B-480P", home=home,
                        passphrase=PASSPHRASE)
    stripped = root / "stripped.mp4"
    media.remux(signed, stripped)
    reposted = root / "reposted.mp4"
    media.transcode(signed, reposted, codec="libx264", crf=28, scale=0.75)
    other_src = street_clip(root / "other-src.mp4", seed=99, seconds=3.0)
    other_signed = root / "other-signed.mp4"
    sign_video(other_src, output=other_signed, model="m", home=home, passphrase=PASSPHRASE)
    other = street_clip(root / "other.mp4", seed=5)
    assert result.payload_id
    return Signed(home, signed, stripped, reposted, other, other_signed, result.payload_id)


@dataclass(frozen=True)
class SmallSigned:
    """A newsroom's home and one small clip it signed (for the verify service's tests)."""

    home: Path
    signed: Path
    org: str


@pytest.fixture(scope="session")
def small_signed(tmp_path_factory: pytest.TempPathFactory) -> SmallSigned:
    from veriframe.credentials.keys import init_keys
    from veriframe.signing import sign_video

    root = tmp_path_factory.mktemp("serve")
    home = root / "newsroom-home"
    org = "Serve Test Desk"
    init_keys(org=org, passphrase=PASSPHRASE, home=home)
    src = make_clip(root / "src.mp4", seconds=1.5, width=320, height=180, fps=12, seed=31)
    signed = root / "signed.mp4"
    sign_video(src, output=signed, model="Wan2.1-I2V-14B-480P", home=home,
               passphrase=PASSPHRASE)
    return SmallSigned(home, signed, org)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private work folder for the verify service of one test module."""
    return tmp_path_factory.mktemp("serve-work")


@pytest.fixture(scope="module")
def service(small_signed: SmallSigned, work: Path) -> Iterator[Running]:
    """The verify service with the small signed clip's home, on 127.0.0.1."""
    config = ServeConfig(settings=Settings(home=small_signed.home), work_dir=work)
    with serve(create_app(config)) as running:
        yield running
