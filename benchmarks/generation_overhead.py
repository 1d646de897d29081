"""Generation time vs. provenance time (mark + encode + sign) on the tiny models.

For each tiny model: the median of several generations, and the median time sign_frames takes
for the same frames, side by side. Then the per-frame provenance cost at 832x480: an 81-frame
832x480 clip of noise frames (Wan2.1 480p's output size) marked, encoded and signed, so it can
be set against published generation times of the real models.

    python benchmarks/generation_overhead.py [--runs 3] [--models tiny-wan,tiny-svd]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

PORTRAIT = Path(__file__).resolve().parents[1] / "examples" / "assets" / "portrait.jpg"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--models", default="tiny-wan,tiny-cogvideox,tiny-svd,tiny-hunyuan")
    ap.add_argument("--size", type=int, default=128, help="tiny output side (px)")
    args = ap.parse_args()

    from veriframe.credentials import ManifestSpec, init_keys, load_identity
    from veriframe.errors import VeriframeError
    from veriframe.generators import GenerationRequest, make_generator
    from veriframe.signing import sign_frames

    work = Path(tempfile.mkdtemp(prefix="vf-bench-"))
    init_keys(org="bench", passphrase="bench-passphrase", home=work)
    ident = load_identity(home=work, passphrase="bench-passphrase")

    def sign(frames: np.ndarray, fps: float, name: str) -> float:
        spec = ManifestSpec(title=name, model="bench", parameters={"frames": len(frames)})
        t = time.perf_counter()
        sign_frames(frames, fps=fps, output=work / name, spec=spec, identity=ident, home=work)
        return time.perf_counter() - t

    print(f"{'model':16} {'frames':>10} {'generate s':>11} {'provenance s':>13} {'share':>7}")
    for model in args.models.split(","):
        gen = make_generator(model, home=work)
        req = GenerationRequest(image=PORTRAIT, prompt="a portrait", seed=1,
                                width=args.size, height=args.size)
        gen.generate(req)  # load + warm up
        g_times, s_times, shape = [], [], None
        for i in range(args.runs):
            out = gen.generate(req)
            assert out.frames is not None
            shape = out.frames.shape
            g_times.append(out.seconds)
            try:
                s_times.append(sign(out.frames, out.fps, f"{model}-{i}.mp4"))
            except VeriframeError as exc:  # fail closed: e.g. saturated random-weight output
                print(f"{model:16} generate {statistics.median(g_times):.2f} s; signing refused: "
                      f"{exc.code} ({exc.message[:60]}...)")
                break
        if len(s_times) < args.runs:
            continue
        g, s = statistics.median(g_times), statistics.median(s_times)
        print(f"{model:16} {shape[0]:>3}x{shape[2]}x{shape[1]:<4} {g:>11.2f} {s:>13.2f} "  # type: ignore[index]
              f"{s / (g + s):>7.0%}")

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(81, 480, 832, 3), dtype=np.uint8)
    times = [sign(frames, 16.0, f"noise-{i}.mp4") for i in range(args.runs)]
    med = statistics.median(times)
    print(f"\n81-frame 832x480 noise clip, mark+encode+sign: median {med:.2f} s over "
          f"{args.runs} runs ({med / 81 * 1000:.0f} ms/frame; runs: "
          + ", ".join(f"{t:.2f}" for t in times) + ")")


if __name__ == "__main__":
    main()
