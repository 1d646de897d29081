"""Sign and verify time for a 10 s 720p clip, side by side with a bare stream-copy remux.

    python benchmarks/sign_verify_speed.py [--seconds 10] [--runs 5]

Makes a 10 s 1280x720 30 fps H.264 + AAC clip, then times, in one run and interleaved:
  remux        a stream copy (what `ffmpeg -i in -c copy out` does), the floor for any rewrite
  c2pa sign    C2PA signing alone (credentials.sign.sign_mp4) of the already-encoded file
  sign         the full `veriframe sign`: watermark embed + H.264 encode + C2PA sign + store
  c2pa read    C2PA validation alone (credentials.read.read_credentials)
  verify       the full `veriframe verify`: probe, 32-frame sample, credentials, watermark,
               detector, policy
and prints the median of each and its ratio to the remux.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def make_clip(path: Path, seconds: float) -> None:
    from veriframe import media
    from veriframe.demo import scene

    fps, w, h = 30, 1280, 720
    base = [scene(i, w, h) for i in range(30)]
    frames = (base[i % 30] for i in range(int(seconds * fps)))
    with tempfile.TemporaryDirectory() as tmp:
        tone = Path(tmp) / "tone.mp4"
        _tone(tone, seconds)
        media.write_video(path, frames, fps=fps, audio_from=tone, crf=20)


def _tone(path: Path, seconds: float) -> None:
    from fractions import Fraction

    import av

    rate = 48000
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=rate)
        stream.layout = "stereo"
        n = int(seconds * rate)
        wave = (0.2 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)).astype(np.float32)
        for start in range(0, n, 1024):
            chunk = wave[start : start + 1024]
            chunk = np.pad(chunk, (0, 1024 - len(chunk)))
            frame = av.AudioFrame.from_ndarray(
                np.stack([chunk, chunk]), format="fltp", layout="stereo"
            )
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from veriframe import media
    from veriframe.credentials.keys import init_keys, load_identity
    from veriframe.credentials.manifest import ManifestSpec, build_manifest
    from veriframe.credentials.read import read_credentials
    from veriframe.credentials.sign import sign_mp4
    from veriframe.credentials.trust import TrustConfig
    from veriframe.signing import sign_video
    from veriframe.verification import verify

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        passphrase = "benchmark passphrase"
        init_keys(org="benchmark", passphrase=passphrase, home=home)
        identity = load_identity(home=home, passphrase=passphrase)
        clip = tmp / "clip.mp4"
        make_clip(clip, args.seconds)
        info = media.probe(clip)
        clip_mb = clip.stat().st_size / 1e6
        manifest = build_manifest(ManifestSpec(title="bench", model="bench-model"))
        trust = TrustConfig.load(home=home)
        signed = tmp / "signed.mp4"
        sign_video(clip, output=signed, model="bench-model", identity=identity, home=home)

        times: dict[str, list[float]] = {
            k: [] for k in ("remux", "c2pa sign", "sign", "c2pa read", "verify")
        }
        for run in range(args.runs):
            times["remux"].append(timed(lambda r=run: media.remux(clip, tmp / f"remux{r}.mp4")))
            times["c2pa sign"].append(
                timed(
                    lambda r=run: sign_mp4(
                        clip, tmp / f"c2pa{r}.mp4", manifest=manifest, identity=identity
                    )
                )
            )
            times["sign"].append(
                timed(
                    lambda r=run: sign_video(
                        clip,
                        output=tmp / f"s{r}.mp4",
                        model="bench-model",
                        identity=identity,
                        home=home,
                    )
                )
            )
            times["c2pa read"].append(timed(lambda: read_credentials(signed, trust=trust)))
            times["verify"].append(
                timed(lambda: verify(signed, trust=trust, home=home, policy="newsroom"))
            )

    floor = statistics.median(times["remux"])
    print(f"# {' '.join(sys.argv)}")
    print(f"# {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(
        f"# clip: {info.width}x{info.height} {info.fps:g} fps, {info.duration:.1f} s, "
        f"{info.video_codec}+{info.audio_codec}, {clip_mb:.1f} MB"
    )
    print(f"{'step':12} {'median s':>9} {'min s':>7} {'max s':>7} {'x remux':>8}")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:12} {med:9.3f} {min(values):7.3f} {max(values):7.3f} {med / floor:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
