"""``veriframe demo``: the whole job end to end, in a temporary home.

1. create keys (a local CA and a signing certificate) in a throw-away veriframe home;
2. make a clip: a tiny-model image-to-video generation (``tiny-wan``) when the [generate]
   extra is installed, else a short procedural clip, and watermark + sign it;
3. derive what happens to clips in the wild: a stripped copy (the manifest removed by a
   stream copy), a tampered copy (bytes of the picture changed), a platform re-encode
   (downscaled and recompressed: the manifest is lost, the watermark survives);
4. verify each one and print the reports and a summary. Exit 0 when every verdict is the
   expected one.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import numpy as np

from veriframe._cli_common import err_console, out_console


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


def _tiny_generation_available() -> bool:
    try:
        import diffusers  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return False
    from importlib.util import find_spec

    return find_spec("veriframe.generators.tiny") is not None


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


def run_demo(*, keep: Path | None = None, tiny_model: bool = True) -> int:
    """Run the demo; return 0 when every verdict is as expected, else 1."""
    from veriframe import media
    from veriframe.credentials.keys import init_keys
    from veriframe.credentials.manifest import ManifestSpec
    from veriframe.report.terminal import render
    from veriframe.signing import sign_frames
    from veriframe.verification import exit_code, verify

    console, out = err_console(), out_console()
    work = Path(tempfile.mkdtemp(prefix="veriframe-demo-"))
    home = work / "home"
    passphrase = secrets.token_urlsafe(16)
    old_env = {k: os.environ.get(k) for k in ("VERIFRAME_HOME", "VERIFRAME_KEY_PASSPHRASE")}
    os.environ["VERIFRAME_HOME"] = str(home)
    os.environ["VERIFRAME_KEY_PASSPHRASE"] = passphrase
    try:
        console.rule("[bold]1. keys")
        info = init_keys(org="veriframe demo newsroom", passphrase=passphrase, home=home)
        console.print(f"local CA and signing certificate for [bold]{info.subject}[/] in {home}")

        console.rule("[bold]2. generate and sign")
        signed = work / "clip.signed.mp4"
        if tiny_model and _tiny_generation_available():
            from veriframe.generators.demo import generate_demo_clip

            result = generate_demo_clip(output=signed, home=home)
            console.print("generated with the tiny random-weight Wan2.1 I2V build (tiny-wan)")
        else:
            why = (
                "disabled" if not tiny_model else "torch/diffusers not installed ([generate] extra)"
            )
            console.print(f"tiny-model generation skipped ({why}): using a procedural clip")
            frames = np.stack([scene(i, 640, 360) for i in range(48)])
            spec = ManifestSpec(
                title="veriframe demo clip",
                model="veriframe-procedural-demo",
                model_version="1",
                parameters={"seed": 7, "frames": 48, "fps": 16},
                prompt="a disc drifting over a textured gradient",
            )
            result = sign_frames(frames, fps=16, output=signed, spec=spec, home=home)
        console.print(f"signed {signed.name}: watermark payload {result.payload_id}")

        console.rule("[bold]3. what happens to clips in the wild")
        stripped, tampered, reposted = (
            work / "clip.stripped.mp4",
            work / "clip.tampered.mp4",
            work / "clip.reposted.mp4",
        )
        media.remux(signed, stripped)
        _tamper(signed, tampered)
        media.transcode(signed, reposted, codec="libx264", crf=23)
        console.print("stripped: manifest removed by a stream copy")
        console.print("tampered: 64 bytes of picture data flipped")
        console.print("reposted: re-encoded with H.264 at CRF 28, as a platform would")

        expected = {
            signed: "signed",
            stripped: "recovered",
            tampered: "tampered",
            reposted: "recovered",
        }
        rows = []
        for path, want in expected.items():
            console.rule(f"[bold]verify {path.name}")
            report = verify(path, home=home, policy="newsroom")
            render(report, console=out)
            rows.append((path.name, want, report.verdict.value, exit_code(report)))

        console.rule("[bold]summary")
        ok = True
        for name, want, got, code in rows:
            mark = "[green]ok[/]" if want == got else "[red]UNEXPECTED[/]"
            ok &= want == got
            console.print(f"{name:22} expected {want:10} got {got:10} exit {code}  {mark}")
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for path in expected:
                shutil.copy2(path, keep / path.name)
            console.print(f"demo files kept in {keep}")
        return 0 if ok else 1
    finally:
        for key, value in old_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(work, ignore_errors=True)
