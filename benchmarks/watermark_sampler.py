"""Does the mark read the same from the frames verify decodes as from frames spread evenly?

``benchmarks/watermark_robustness.py`` reads each attacked clip through a 32-frame sample spread
evenly over it (``media.sample_frames``); ``verify``, ``scan`` and the services decode short runs
of consecutive frames starting at key frames instead (``media.sample_runs``: about 32 frames
whatever the clip's length; a short clip with one key frame gives one run from its start).
This script marks the same clips, applies the same attacks (the robustness benchmark's
functions, x264 ``--preset``), and detects each attacked clip from both samples, side by side.

    nice python benchmarks/watermark_sampler.py --clips 6 --offset 20
    python benchmarks/watermark_sampler.py --clips 2 --attacks h264_crf35 --geometric hflip
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from watermark_robustness import (
    ATTACKS,
    DEFAULT_CACHE,
    GEOMETRIC,
    KEY_SECRET,
    SAMPLE,
    SHARED,
    geo_encode,
    mark_clip,
    normalised,
    pick_clips,
)

DEFAULT_ATTACKS = ("h264_crf23", "h264_crf35", "down_0.5x", "excerpt_2s", "fps_24to15",
                   "chain_crop_down_crf28")
DEFAULT_GEOMETRIC = ("hflip", "rot_+5", "reframe_9x16", "letterbox_9x16", "pip_0.5x",
                     "crop_edge_0.71", "videoseal_combined")


def run_clip(index: int, clean: Path, other: Path | None, attacks: list[str],
             geometric: list[str], preset: str) -> dict[str, tuple[bool, bool]]:
    """(exact from the spread sample, exact from verify's runs) per attack of one clip."""
    from veriframe import media
    from veriframe.watermark import Payload, WatermarkKey, detect

    key = WatermarkKey(KEY_SECRET)
    digest = hashlib.sha256(clean.name.encode()).digest()
    payload = Payload(content_id=int.from_bytes(digest[:7], "big"))
    info = media.probe(clean)
    w, h, fps = info.width, info.height, float(info.fps or 24.0)
    dur = info.duration or 4.0
    out: dict[str, tuple[bool, bool]] = {}

    def both(path: Path) -> tuple[bool, bool]:
        spread = media.sample_frames(path, count=SAMPLE, rgb=False)
        runs = media.sample_runs(path, count=SAMPLE, rgb=False)
        return (detect(spread, keys=[key]).payload_id == payload.hex,
                detect(runs, keys=[key]).payload_id == payload.hex)

    with tempfile.TemporaryDirectory(prefix="wmsampler") as tmp:
        t = Path(tmp)
        marked = t / "marked.mp4"
        mark_clip(clean, marked, key=key, payload=payload)
        out["none"] = both(marked)
        for name in attacks:
            kw = ATTACKS[name](w, h, dur)
            ext = kw.pop("ext", ".mp4")
            dst = t / f"a_{name}{ext}"
            media.transcode(marked, dst, preset=preset, **kw)
            out[name] = both(dst)
            dst.unlink()
        if geometric:
            signed = media.read_frames(marked, rgb=False).luma
            bg = media.read_frames(other, rgb=False).luma if other is not None else None
            seed = int.from_bytes(digest[16:20], "big")
            for name in geometric:
                dst = t / f"g_{name}.mp4"
                geo_encode(signed, dst, name, fps=fps, seed=seed, background=bg,
                           preset=preset, luma=True)
                out[name] = both(dst)
                dst.unlink()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--offset", type=int, default=20, help="skip this many clips (held-out: 20)")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--attacks", default=",".join(DEFAULT_ATTACKS), help="comma-separated, - none")
    ap.add_argument("--geometric", default=",".join(DEFAULT_GEOMETRIC),
                    help="comma-separated, - none")
    ap.add_argument("--preset", default="veryfast")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    a = ap.parse_args(argv)
    attacks = [x for x in a.attacks.split(",") if x and x != "-"]
    geometric = [x for x in a.geometric.split(",") if x and x != "-"]
    unknown = (set(attacks) - set(ATTACKS)) | (set(geometric) - set(GEOMETRIC))
    if unknown:
        ap.error(f"unknown attacks: {sorted(unknown)}")
    if not SHARED.is_dir():
        print(f"shared clips not found at {SHARED}", file=sys.stderr)
        return 1
    a.cache.mkdir(parents=True, exist_ok=True)
    sources = pick_clips(a.offset + a.clips)[a.offset:]
    cleans = [normalised(a.cache, a.offset + i, str(s), a.seconds) for i, s in enumerate(sources)]
    print("command: python " + " ".join([sys.argv[0], *(argv or sys.argv[1:])]))
    t0 = time.time()
    rows: dict[str, list[tuple[bool, bool]]] = {}
    for i, clean in enumerate(cleans):
        other = cleans[(i + 1) % len(cleans)] if len(cleans) > 1 else None
        res = run_clip(a.offset + i, clean, other, attacks, geometric, a.preset)
        for name, pair in res.items():
            rows.setdefault(name, []).append(pair)
        missed = {k: v for k, v in res.items() if not all(v)}
        print(f"  done {i + 1}/{len(cleans)} {clean.name[:28]} (spread, runs) missed: {missed}",
              flush=True)
    n = len(cleans)
    print(f"\n{n} clips of {a.seconds:g} s, {time.time() - t0:.0f} s; exact 64-bit payload")
    print("| attack | spread sample (benchmark) | runs from key frames (verify) | differ |")
    print("|---|---|---|---|")
    total: list[Any] = [0, 0, 0, 0]
    for name, pairs in rows.items():
        s = sum(p[0] for p in pairs)
        r = sum(p[1] for p in pairs)
        d = sum(p[0] != p[1] for p in pairs)
        total = [total[0] + s, total[1] + r, total[2] + d, total[3] + len(pairs)]
        print(f"| {name} | {s}/{len(pairs)} | {r}/{len(pairs)} | {d} |")
    print(f"| all | {total[0]}/{total[3]} | {total[1]}/{total[3]} | {total[2]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
