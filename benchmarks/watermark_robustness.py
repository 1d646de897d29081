"""Watermark robustness benchmark: embed, attack like a platform would, detect; print tables.

Builds a clip set from ../shared/clips/{real,synthetic} (GIFs skipped), normalised in a temp
folder to H.264 excerpts at 832x480 and 1280x720 (alternating), 24 fps. Every clip is marked
with a fresh payload; every attack is applied to the marked clip and to the clean one.

    nice python benchmarks/watermark_robustness.py --clips 20 --jobs 1
    python benchmarks/watermark_robustness.py --clips 4 --attacks crf28,down05
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared" / "clips").resolve()
KEY_SECRET = bytes.fromhex("5a" * 32)  # a fixed benchmark key (not a real signer's key)

SIZES = [(832, 480), (1280, 720)]


def _vp9_rate(w: int) -> int:
    return 1_000_000 if w <= 832 else 2_000_000


# name -> transcode kwargs for a clip (w, h, duration)
ATTACKS: dict[str, Callable[[int, int, float], dict[str, Any]]] = {
    "h264_crf23": lambda w, h, d: {"crf": 23},
    "h264_crf28": lambda w, h, d: {"crf": 28},
    "h264_crf35": lambda w, h, d: {"crf": 35},
    "h265_crf28": lambda w, h, d: {"codec": "libx265", "crf": 28},
    "vp9_webm": lambda w, h, d: {"codec": "libvpx-vp9", "bitrate": _vp9_rate(w), "ext": ".webm"},
    "down_0.5x": lambda w, h, d: {"scale": 0.5},
    "down_0.75x": lambda w, h, d: {"scale": 0.75},
    "crop_10%": lambda w, h, d: {"crop": 0.1},
    "bright_+0.1": lambda w, h, d: {"brightness": 0.1},
    "bright_-0.1": lambda w, h, d: {"brightness": -0.1},
    "contrast_0.8": lambda w, h, d: {"contrast": 0.8},
    "contrast_1.2": lambda w, h, d: {"contrast": 1.2},
    "fps_24to15": lambda w, h, d: {"fps": 15},
    "excerpt_2s": lambda w, h, d: {"start": max(0.0, d / 2 - 1.0), "duration": 2.0},
    "chain_crop_down_crf28": lambda w, h, d: {"crop": 0.1, "scale": 0.5, "crf": 28},
}


def pick_clips(n: int) -> list[Path]:
    """``n`` non-GIF clips, alternating real and synthetic, large enough to normalise."""
    with open(SHARED / "INDEX.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    real, synth = [], []
    for r in rows:
        if r["is_gif"] == "1" or min(int(r["width"]), int(r["height"])) < 240:
            continue
        if float(r["frames"]) / max(float(r["fps"]), 1.0) < 2.0:
            continue
        (real if r["label"] == "real" else synth).append(SHARED / r["file"])
    out: list[Path] = []
    for a, b in zip(real, synth, strict=False):
        out += [a, b]
    out += real[len(synth) :] + synth[len(real) :]
    return out[:n]


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two luma planes (Gaussian window, sigma 1.5)."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    f = lambda x: ndimage.gaussian_filter(x, 1.5)  # noqa: E731
    ma, mb = f(a), f(b)
    va, vb, cov = f(a * a) - ma * ma, f(b * b) - mb * mb, f(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return float(s.mean())


def run_clip(args: tuple[int, str, float, list[str], str]) -> dict[str, Any]:
    """Normalise, embed, attack and detect one clip (runs in a worker)."""
    from veriframe import media
    from veriframe.results import WatermarkState
    from veriframe.watermark import Payload, WatermarkKey, detect, embed_video

    index, src, seconds, attacks, preset = args
    key = WatermarkKey(KEY_SECRET)
    w, h = SIZES[index % len(SIZES)]
    res: dict[str, Any] = {"clip": Path(src).name, "size": f"{w}x{h}", "attacks": {}}
    with tempfile.TemporaryDirectory(prefix="wmbench") as tmp:
        t = Path(tmp)
        clean = t / "clean.mp4"
        media.transcode(src, clean, crf=18, scale=(w, h), fps=24, duration=seconds)
        payload = Payload.new()
        marked = t / "marked.mp4"
        stats = embed_video(clean, marked, key=key, payload=payload)
        res.update(psnr=stats.psnr_y_min, embed_fps=stats.fps, frames=stats.frames)
        so = media.sample_frames(clean, count=8, rgb=False)
        sm = media.sample_frames(marked, count=8, rgb=False)
        res["ssim"] = float(np.mean([ssim(a, b) for a, b in zip(so.luma, sm.luma, strict=False)]))
        dur = media.probe(clean).duration or seconds
        detect_times = []

        def check(path: Path) -> Any:
            sample = media.sample_frames(path, count=32, rgb=False)
            t0 = time.perf_counter()
            c = detect(sample, keys=[key])
            detect_times.append((time.perf_counter() - t0, sample.luma.shape))
            return c

        c = check(marked)
        res["attacks"]["none"] = (c.payload_id == payload.hex, c.bit_accuracy, c.p_value)
        fh = int(check(clean).state == WatermarkState.PRESENT)
        for name in attacks:
            kw = ATTACKS[name](w, h, dur)
            ext = kw.pop("ext", ".mp4")
            for which, srcp in (("m", marked), ("c", clean)):
                out = t / f"{which}_{name}{ext}"
                media.transcode(srcp, out, preset=preset, **kw)
                c = check(out)
                if which == "m":
                    res["attacks"][name] = (c.payload_id == payload.hex, c.bit_accuracy, c.p_value)
                else:
                    fh += int(c.state == WatermarkState.PRESENT)
        res["false_hits"] = fh
        res["clean_checked"] = 1 + len(attacks)
        res["detect"] = detect_times
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=4.0, help="excerpt length per clip")
    ap.add_argument("--attacks", default=",".join(ATTACKS), help="comma-separated subset")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument(
        "--preset", default="veryfast", help="x264/x265 preset of the attack encodes (speed only)"
    )
    a = ap.parse_args(argv)
    attacks = [x for x in a.attacks.split(",") if x]
    unknown = set(attacks) - set(ATTACKS)
    if unknown:
        ap.error(f"unknown attacks: {sorted(unknown)}; known: {list(ATTACKS)}")
    if not SHARED.is_dir():
        print(f"shared clips not found at {SHARED}", file=sys.stderr)
        return 1
    clips = pick_clips(a.clips)
    print("command:", "python " + " ".join([sys.argv[0], *(argv or sys.argv[1:])]))
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()}"
        f" python {platform.python_version()} numpy {np.__version__}"
    )
    print(f"clips: {len(clips)} ({a.seconds:g} s each, 832x480 / 1280x720 alternating, 24 fps);"
          f" attack encodes: preset {a.preset}")
    t0 = time.time()
    jobs = [(i, str(c), a.seconds, attacks, a.preset) for i, c in enumerate(clips)]
    results = []
    with ProcessPoolExecutor(max(1, a.jobs)) as ex:
        for r in ex.map(run_clip, jobs):
            results.append(r)
            bad = [k for k, v in r["attacks"].items() if not v[0]]
            print(f"  done {len(results)}/{len(jobs)} {r['clip'][:48]} missed: {bad}", flush=True)
    n = len(results)
    head = f"{'attack':24s} {'n':>3s} {'exact':>7s} {'bit_acc':>8s}"
    print(f"\n{head} {'p_median':>9s} {'p_max':>9s}")
    for name in ["none", *attacks]:
        rows = [r["attacks"][name] for r in results]
        exact = sum(1 for ok, _, _ in rows if ok)
        accs = [acc for _, acc, _ in rows if acc is not None]
        ps = [p if p is not None else 1.0 for _, _, p in rows]
        acc_s = f"{statistics.mean(accs):.3f}" if accs else "-"
        print(
            f"{name:24s} {n:3d} {exact / n:7.1%} {acc_s:>8s} "
            f"{statistics.median(ps):9.1e} {max(ps):9.1e}"
        )
    print("(bit_acc: mean over clips whose codeword decoded; exact: 64-bit id recovered)")
    psnrs = [r["psnr"] for r in results]
    ssims = [r["ssim"] for r in results]
    print(f"\nPSNR-Y (min per clip): mean {statistics.mean(psnrs):.2f} dB, min {min(psnrs):.2f} dB")
    print(f"SSIM-Y marked vs original: mean {statistics.mean(ssims):.4f}, min {min(ssims):.4f}")
    fh = sum(r["false_hits"] for r in results)
    checked = sum(r["clean_checked"] for r in results)
    print(f"false hits on clean clips and their attacked versions: {fh} / {checked}")
    for size in sorted({r["size"] for r in results}):
        sub = [r for r in results if r["size"] == size]
        efps = statistics.mean(r["embed_fps"] for r in sub)
        full = sub[0]["detect"][0][1][1:]
        dts = [dt for r in sub for dt, shape in r["detect"] if shape[1:] == full]
        dfps = 32 / statistics.median(dts) if dts else float("nan")
        print(f"{size}: embed {efps:.1f} fps (decode+mark+x264 medium), detect {dfps:.0f} fps "
              f"(32-frame sample, excl. decoding)")
    print(f"\nwall time {time.time() - t0:.0f} s")
    for r in results:
        bad = [k for k, v in r["attacks"].items() if not v[0]]
        missed = ",".join(bad) or "-"
        print(f"  {r['clip'][:56]:56s} {r['size']:9s} psnr {r['psnr']:.1f} missed: {missed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
