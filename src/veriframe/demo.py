"""The whole job end to end, in a temporary home (``veriframe demo`` renders it).

1. create keys (a local CA and a signing certificate) in a throw-away veriframe home;
2. make a clip: a tiny-model image-to-video generation (``tiny-wan``) when the [generate]
   extra is installed, else a short procedural clip, and watermark + sign it;
3. derive what happens to clips in the wild: a stripped copy (the manifest removed by a
   stream copy), a tampered copy (bytes of the picture changed), a platform re-encode
   (recompressed: the manifest is lost, the watermark survives);
4. verify each one. The demo passed when every verdict is the expected one.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from veriframe.results import VerifyReport
from veriframe.settings import Settings

PLATFORM_CRF = 23  # the re-encode a platform applies in step 3
StepFn = Callable[[str, str], None]  # (step title, detail line) as the demo goes


def scene(index: int, width: int, height: int, *, seed: int = 7) -> np.ndarray:
    """One procedural RGB frame: gradients, a texture band and a moving disc."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    t = index / 10.0
    base = 110 + 60 * np.sin(xx / 37.0 + t) * np.cos(yy / 53.0 - 0.5 * t)
    texture = np.roll(rng.normal(0, 12, size=(height, width)).astype(np.float32), index * 3, axis=1)
    cx, cy = width * (0.3 + 0.4 * np.sin(t)), height * 0.5
    disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < (min(width, height) * 0.18) ** 2
    r = base + texture * 0.6 + disc * 60
    g = base * 0.8 + texture * 0.4 + 20
    b = 200 - base * 0.5 + texture * 0.5 - disc * 40
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class DemoCase:
    """One verified copy: its name, the verdict it should get, and the report it got."""

    name: str
    expected: str
    report: VerifyReport

    @property
    def ok(self) -> bool:
        """Whether the verdict is the expected one."""
        return self.report.verdict.value == self.expected


@dataclass(frozen=True)
class DemoOutcome:
    """Every case of one demo run."""

    cases: tuple[DemoCase, ...]
    generated_with: str  # "tiny-wan" or "procedural"

    @property
    def ok(self) -> bool:
        """Whether every verdict was the expected one."""
        return all(c.ok for c in self.cases)


def tiny_generation_available() -> bool:
    """Whether torch and diffusers are installed (the [generate] extra)."""
    from importlib.util import find_spec

    return find_spec("torch") is not None and find_spec("diffusers") is not None


def _tamper(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` with bytes flipped inside the media data (mdat)."""
    data = bytearray(src.read_bytes())
    at = data.find(b"mdat")
    if at < 0:
        raise RuntimeError("no mdat box in the signed demo file")
    start = at + 4 + (len(data) - at) // 2
    for i in range(start, min(start + 64, len(data))):
        data[i] ^= 0xFF
    dst.write_bytes(bytes(data))


def run_demo(
    *, keep: Path | None = None, tiny_model: bool = True, on_step: StepFn | None = None
) -> DemoOutcome:
    """Run the demo in a temporary home; ``keep`` copies the clips there at the end."""
    from veriframe import media
    from veriframe.credentials import ManifestSpec, init_keys
    from veriframe.signing import sign_frames
    from veriframe.verification import verify

    def step(title: str, detail: str) -> None:
        if on_step is not None:
            on_step(title, detail)

    work = Path(tempfile.mkdtemp(prefix="veriframe-demo-"))
    try:
        settings = Settings(home=work / "home", passphrase=secrets.token_urlsafe(16))
        info = init_keys(org="veriframe demo newsroom", passphrase=settings.passphrase or "",
                         home=settings.home)
        step("1. keys", f"local CA and signing certificate for {info.subject} in "
             f"{settings.home}")

        signed = work / "clip.signed.mp4"
        if tiny_model and tiny_generation_available():
            from veriframe.generators.demo import generate_demo_clip

            result = generate_demo_clip(output=signed, settings=settings)
            how = "tiny-wan"
            step("2. generate and sign",
                 "generated with the tiny random-weight Wan2.1 I2V build (tiny-wan)")
        else:
            why = "disabled" if not tiny_model else "torch/diffusers not installed ([generate])"
            frames = np.stack([scene(i, 640, 360) for i in range(48)])
            spec = ManifestSpec(
                title="veriframe demo clip",
                model="veriframe-procedural-demo",
                model_version="1",
                parameters={"seed": 7, "frames": 48, "fps": 16},
                prompt="a disc drifting over a textured gradient",
            )
            result = sign_frames(frames, fps=16, output=signed, spec=spec, settings=settings)
            how = "procedural"
            step("2. generate and sign",
                 f"tiny-model generation skipped ({why}): used a procedural clip")
        step("2. generate and sign", f"signed {signed.name}: watermark payload "
             f"{result.payload_id}")

        stripped, tampered, reposted = (
            work / "clip.stripped.mp4",
            work / "clip.tampered.mp4",
            work / "clip.reposted.mp4",
        )
        media.remux(signed, stripped)
        _tamper(signed, tampered)
        media.transcode(signed, reposted, codec="libx264", crf=PLATFORM_CRF)
        step("3. what happens to clips in the wild", "stripped: manifest removed by a stream copy")
        step("3. what happens to clips in the wild", "tampered: 64 bytes of picture data flipped")
        step("3. what happens to clips in the wild",
             f"reposted: re-encoded with H.264 at CRF {PLATFORM_CRF}, as a platform would")

        expected = {signed: "signed", stripped: "recovered", tampered: "tampered",
                    reposted: "recovered"}
        cases = tuple(
            DemoCase(path.name, want, verify(path, settings=settings, policy="newsroom"))
            for path, want in expected.items()
        )
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for path in expected:
                shutil.copy2(path, keep / path.name)
        return DemoOutcome(cases=cases, generated_with=how)
    finally:
        shutil.rmtree(work, ignore_errors=True)


__all__ = ["DemoCase", "DemoOutcome", "run_demo", "scene", "tiny_generation_available"]
