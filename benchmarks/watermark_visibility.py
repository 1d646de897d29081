"""Is the mark visible in flat areas? A flicker measure, and 2x crops to look at.

Each clip (the robustness benchmark's clip set: ``--offset 20`` is its held-out part) is marked
as ``sign`` does (the sign path's marker, CRF 18) and, for comparison, re-encoded unmarked at
the same CRF. In the flattest areas of the original (luma standard deviation under
``--flat`` levels in a 9x9 window, and at most 2 levels of change from the frame before: no
motion) it measures, per clip:

- ``rms``: the root mean square of (decoded marked - decoded unmarked) luma there;
- ``flicker``: the mean absolute frame-to-frame change of that difference there (a static mark
  does not flicker; a mark that changes sign with time does, and flat areas show it most);
- ``enc flicker``: the same measure for the unmarked re-encode against the original (the
  flicker the encoder itself adds, the floor any re-encoded clip has);
- ``max``: the largest absolute difference there.

``--crops DIR`` writes, per clip, a PNG of the flattest 96x96 area at 2x (nearest): original,
marked, unmarked re-encode, and the marked - unmarked difference amplified 16x around grey,
side by side, for a look by eye.

    nice python benchmarks/watermark_visibility.py --clips 6 --offset 20 --crops /tmp/vis
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from watermark_robustness import (
    DEFAULT_CACHE,
    KEY_SECRET,
    SHARED,
    mark_clip,
    normalised,
    pick_clips,
)

CROP = 96


def _local_std(y: np.ndarray, size: int = 9) -> np.ndarray:
    from scipy import ndimage

    f = y.astype(np.float32)
    m = ndimage.uniform_filter(f, size)
    m2 = ndimage.uniform_filter(f * f, size)
    return np.sqrt(np.maximum(m2 - m * m, 0.0))


def measure(original: np.ndarray, marked: np.ndarray, plain: np.ndarray,
            flat_level: float) -> tuple[dict[str, float], tuple[int, int, int]]:
    """The flat-area numbers of one clip, and where its flattest crop is (frame, y, x)."""
    n = min(len(original), len(marked), len(plain))
    original, marked, plain = original[:n], marked[:n], plain[:n]
    diff = marked.astype(np.float32) - plain.astype(np.float32)
    enc = plain.astype(np.float32) - original.astype(np.float32)
    sq, fl, efl, mx, count = 0.0, 0.0, 0.0, 0.0, 0
    best = (np.inf, 0, 0, 0)
    for t in range(1, n):
        still = np.abs(original[t].astype(np.int16) - original[t - 1]) <= 2
        std = _local_std(original[t])
        flat = (std < flat_level) & still
        k = int(flat.sum())
        if k:
            d = diff[t][flat]
            sq += float((d * d).sum())
            fl += float(np.abs(diff[t] - diff[t - 1])[flat].sum())
            efl += float(np.abs(enc[t] - enc[t - 1])[flat].sum())
            mx = max(mx, float(np.abs(d).max()))
            count += k
        if t == n // 2:  # the flattest crop of the middle frame
            h, w = std.shape
            for y in range(0, h - CROP, CROP // 2):
                for x in range(0, w - CROP, CROP // 2):
                    s = float(std[y:y + CROP, x:x + CROP].mean())
                    if s < best[0]:
                        best = (s, t, y, x)
    c = max(count, 1)
    stats = {"flat_share": count / float(max(1, (n - 1) * original[0].size)),
             "rms": float(np.sqrt(sq / c)), "flicker": fl / c, "enc_flicker": efl / c, "max": mx}
    return stats, (best[1], best[2], best[3])


def save_crops(path: Path, frames: list[np.ndarray], where: tuple[int, int, int]) -> None:
    """Original, marked, unmarked, (marked - unmarked) x16 + 128: 2x crops side by side."""
    import av

    t, y, x = where
    tiles = [f[t, y:y + CROP, x:x + CROP].astype(np.float32) for f in frames]
    diff = np.clip(128.0 + 16.0 * (tiles[1] - tiles[2]), 0, 255)
    row = np.concatenate([*tiles[:3], diff], axis=1)
    big = np.repeat(np.repeat(row, 2, axis=0), 2, axis=1).astype(np.uint8)
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(big), format="gray")
    frame.to_image().save(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--offset", type=int, default=20, help="skip this many clips (held-out: 20)")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--flat", type=float, default=1.5, help="flat: local luma std under this")
    ap.add_argument("--crops", type=Path, default=None, help="write 2x crops (PNG) here")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    a = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"shared clips not found at {SHARED}", file=sys.stderr)
        return 1
    from veriframe import media
    from veriframe.watermark import Payload, WatermarkKey

    a.cache.mkdir(parents=True, exist_ok=True)
    if a.crops is not None:
        a.crops.mkdir(parents=True, exist_ok=True)
    sources = pick_clips(a.offset + a.clips)[a.offset:]
    print("command: python " + " ".join([sys.argv[0], *(argv or sys.argv[1:])]))
    print("| clip | size | flat share | mark rms | mark flicker | encoder flicker | max |")
    print("|---|---|---|---|---|---|---|")
    t0 = time.time()
    key = WatermarkKey(KEY_SECRET)
    for i, src in enumerate(sources):
        clean = normalised(a.cache, a.offset + i, str(src), a.seconds)
        with tempfile.TemporaryDirectory(prefix="wmvis") as tmp:
            marked, plain = Path(tmp) / "marked.mp4", Path(tmp) / "plain.mp4"
            mark_clip(clean, marked, key=key, payload=Payload(content_id=0x5EED0000 + i))
            media.rewrite_video(clean, plain, transform=lambda _i, y: y, crf=18)
            frames = [media.read_frames(p, rgb=False).luma for p in (clean, marked, plain)]
        stats, where = measure(*frames, flat_level=a.flat)
        h, w = frames[0].shape[1:]
        print(f"| {clean.name[:24]} | {w}x{h} | {stats['flat_share']:.1%} | {stats['rms']:.2f} | "
              f"{stats['flicker']:.2f} | {stats['enc_flicker']:.2f} | {stats['max']:.0f} |",
              flush=True)
        if a.crops is not None:
            save_crops(a.crops / f"{clean.stem}.png", frames, where)
    print(f"\n{len(sources)} clips, {time.time() - t0:.0f} s; luma levels (0-255)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
