"""Integrity benchmark: sign clips, then transform them as platforms do, edit them as a forger
would, add overlays, and see what ``verify`` says about each recovered copy.

Clips come from ../shared/clips (both classes, no GIFs, none from HOLDOUT.txt's repositories),
cut to ``--seconds`` and normalised to H.264 at 1280x720 and 832x480 (alternating), then signed
with a benchmark key. Every copy is stripped of its manifest (re-encoded), so ``verify``
recovers the manifest through the watermark and compares the content with the segment
fingerprints signed into it.

- platform transforms: a false alarm is any verdict but ``recovered``;
- edits (foreign patches of 2/5/13/25 % of the frame for 0.5 s and 1 s at random places and
  times, one-second splices of another clip, a region blur, a region copy-move): detected when
  the verdict is ``tampered`` with a difference whose span overlaps the edit's; localised when
  that difference's region also overlaps the edit's region (a whole-frame difference counts for
  splices only);
- overlays (a caption band, a corner logo, the whole clip): reported as overlays when the
  verdict stays ``recovered`` and an overlay overlapping them is listed.

The first ``--offset`` eligible clips are the design clips (thresholds were set on them); the
headline is ``--offset 8`` (clips the thresholds never saw).

    nice python benchmarks/integrity.py --clips 20 --offset 8 --seconds 3 --jobs 2
    python benchmarks/integrity.py --clips 4 --offset 0 --only platform   # design clips
    python benchmarks/integrity.py --summarise rows.jsonl   # the table of a run's --out
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared" / "clips").resolve()
SIZES = [(1280, 720), (832, 480)]
PASSPHRASE = "integrity benchmark"

PLATFORM: dict[str, dict[str, Any]] = {
    "h264_crf23": {"crf": 23},
    "h264_crf28": {"crf": 28},
    "h264_crf35": {"crf": 35},
    "h265_crf28": {"codec": "libx265", "crf": 28},
    "vp9": {"codec": "libvpx-vp9", "bitrate": 1_500_000, "ext": ".webm"},
    "scale_0.5x": {"scale": 0.5},
    "scale_0.75x": {"scale": 0.75},
    "crop_10%": {"crop": 0.1},
    "crop_20%": {"crop": 0.2},
    "fps_24to15": {"fps": 15},
    "excerpt_2s": {"excerpt": 2.0},
    "excerpt_1s": {"excerpt": 1.0},  # about one segment: placed in time only just, or not
    "excerpt_0.6s": {"excerpt": 0.6},  # shorter than most clips' segments
    "bright_+0.1": {"brightness": 0.1},
    "bright_-0.1": {"brightness": -0.1},
    "contrast_0.9": {"contrast": 0.9},
    "contrast_1.1": {"contrast": 1.1},
    "chain_crop10_0.5x_crf28": {"crop": 0.1, "scale": 0.5, "crf": 28},
}
EDITS: dict[str, dict[str, Any]] = {
    **{f"patch_{p}%_{d}s": {"kind": "patch", "area": p / 100, "dur": d}
       for p in (2, 5, 13, 25) for d in (0.5, 1.0)},
    "splice_1s": {"kind": "splice", "dur": 1.0},
    "blur_region_1s": {"kind": "blur", "area": 0.06, "dur": 1.0},
    "copy_move_1s": {"kind": "copymove", "area": 0.05, "dur": 1.0},
}
OVERLAYS: dict[str, dict[str, Any]] = {
    "caption_band": {"kind": "caption"},
    "corner_logo": {"kind": "logo"},
}


def holdout() -> set[str]:
    path = SHARED / "HOLDOUT.txt"
    return {ln.strip() for ln in path.read_text().splitlines()
            if ln.strip() and not ln.startswith("#")}


def pick_clips(n: int, offset: int, seconds: float) -> list[Path]:
    """Eligible clips (long and large enough, no GIF, no held-out repository), alternating
    real and synthetic, in INDEX order; ``offset`` skips the design clips."""
    with open(SHARED / "INDEX.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    held = holdout()
    real, synth = [], []
    for r in rows:
        if r["is_gif"] == "1" or r["source_repo"] in held:
            continue
        if min(int(r["width"]), int(r["height"])) < 360:
            continue
        if float(r["frames"]) / max(float(r["fps"]), 1.0) < seconds:
            continue
        (real if r["label"] == "real" else synth).append(SHARED / r["file"])
    out: list[Path] = []
    for a, b in zip(real, synth, strict=False):
        out += [a, b]
    out += real[len(synth):] + synth[len(real):]
    return out[offset: offset + n]


@dataclass
class Edit:
    start: float
    end: float
    region: tuple[float, float, float, float] | None  # fractions of the frame


def _box(rng: random.Random, area: float, w: int, h: int) -> tuple[int, int, int, int]:
    aspect = rng.uniform(0.75, 1.33)
    bw = round(min(w, np.sqrt(area * w * h * aspect)))
    bh = round(min(h, area * w * h / max(bw, 1)))
    x = rng.randrange(0, max(1, w - bw))
    y = rng.randrange(0, max(1, h - bh))
    return x, y, bw, bh


def edit_clip(src: Path, dst: Path, other: Path, spec: dict[str, Any], seed: int) -> Edit | None:
    """Apply one edit or overlay to the signed clip ``src`` (RGB), writing ``dst`` (CRF 23)."""
    from veriframe import media

    rng = random.Random(seed)
    clip = media.read_frames(src, rgb=True, luma=False)
    assert clip.rgb is not None
    frames = clip.rgb.copy()
    n, h, w, _ = frames.shape
    fps = float(clip.info.fps or 24.0)
    kind = spec["kind"]
    edit: Edit | None = None
    if kind in ("patch", "splice", "blur", "copymove"):
        dur_frames = max(1, round(spec["dur"] * fps))
        f0 = rng.randrange(0, max(1, n - dur_frames))
        f1 = min(n, f0 + dur_frames)
        donor = media.read_frames(other, rgb=True, luma=False).rgb
        assert donor is not None
        if kind == "splice":
            for i in range(f0, f1):
                d = donor[i % len(donor)]
                frames[i] = _resize_rgb(d, w, h)
            edit = Edit(f0 / fps, f1 / fps, None)
        else:
            x, y, bw, bh = _box(rng, spec["area"], w, h)
            for i in range(f0, f1):
                if kind == "patch":
                    d = _resize_rgb(donor[i % len(donor)], w, h)
                    frames[i, y:y + bh, x:x + bw] = d[y:y + bh, x:x + bw]
                elif kind == "blur":
                    region = frames[i, y:y + bh, x:x + bw].astype(np.float32)
                    sigma = max(4.0, min(bw, bh) / 6)
                    frames[i, y:y + bh, x:x + bw] = ndimage.gaussian_filter(
                        region, (sigma, sigma, 0)).clip(0, 255).astype(np.uint8)
                else:  # copy-move: another region of the same frame pasted here
                    sx, sy, _, _ = _box(rng, spec["area"], w, h)
                    sx, sy = min(sx, w - bw), min(sy, h - bh)
                    frames[i, y:y + bh, x:x + bw] = clip.rgb[i, sy:sy + bh, sx:sx + bw]
            edit = Edit(f0 / fps, f1 / fps, (x / w, y / h, bw / w, bh / h))
    elif kind == "caption":
        band = int(0.12 * h)
        frames[:, h - band:] = (frames[:, h - band:] * 0.35).astype(np.uint8)
        for i in range(n):  # "text": bright strokes that change every second
            r = random.Random(seed + int(i / fps))
            for _ in range(18):
                cx = r.randrange(int(0.05 * w), int(0.95 * w))
                frames[i, h - band + band // 3: h - band // 3, cx:cx + max(2, w // 90)] = 235
        edit = Edit(0.0, n / fps, (0.0, (h - band) / h, 1.0, band / h))
    elif kind == "logo":
        side = int(0.1 * w)
        x0, y0 = w - side - int(0.03 * w), int(0.03 * h)
        yy, xx = np.mgrid[0:side, 0:side]
        disk = ((yy - side / 2) ** 2 + (xx - side / 2) ** 2) < (side / 2.2) ** 2
        for c, v in enumerate((240, 200, 40)):
            frames[:, y0:y0 + side, x0:x0 + side, c][:, disk] = v
        edit = Edit(0.0, n / fps, (x0 / w, y0 / h, side / w, side / h))
    media.write_video(dst, frames, fps=fps, crf=23)
    return edit


def _resize_rgb(img: np.ndarray, w: int, h: int) -> np.ndarray:
    if img.shape[0] == h and img.shape[1] == w:
        return img
    zy, zx = h / img.shape[0], w / img.shape[1]
    return ndimage.zoom(img, (zy, zx, 1), order=1)[:h, :w]


def platform_copy(src: Path, dst_dir: Path, name: str, spec: dict[str, Any],
                  duration: float) -> Path:
    from veriframe import media

    spec = dict(spec)
    ext = spec.pop("ext", ".mp4")
    excerpt = spec.pop("excerpt", None)
    if excerpt is not None:
        spec.update(start=max(0.0, duration / 2 - excerpt / 2), duration=excerpt)
    dst = dst_dir / f"{name}{ext}"
    media.transcode(src, dst, **spec)
    return dst


def _overlaps(a: tuple[float, float, float, float] | None,
              b: tuple[float, float, float, float] | None) -> bool:
    if a is None or b is None:
        return True
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def judge_row(report: Any, group: str, edit: Edit | None) -> dict[str, Any]:
    rec = report.watermark.recovered
    row: dict[str, Any] = {"verdict": report.verdict.value,
                           "state": rec.state.value if rec is not None else None,
                           "coverage": rec.frame_coverage if rec is not None else None,
                           "differences": len(rec.differences) if rec is not None else 0,
                           "overlays": len(rec.overlays) if rec is not None else 0}
    if group == "platform":
        row["ok"] = report.verdict.value == "recovered"
        # a false alarm says "tampered"; a copy whose mark was lost is "unsigned" (the mark's
        # robustness, measured by benchmarks/watermark_robustness.py), not a false alarm
        row["false_alarm"] = report.verdict.value == "tampered"
    elif group == "edit" and edit is not None and rec is not None:
        hits = [d for d in rec.differences
                if d.start_s < edit.end + 0.05 and edit.start - 0.05 < d.end_s]
        row["detected"] = report.verdict.value == "tampered" and bool(hits)
        row["localised"] = row["detected"] and any(
            _overlaps(d.region, edit.region) and (d.region is not None or edit.region is None)
            for d in hits)
    elif group == "edit":
        row["detected"] = row["localised"] = False
    elif group == "overlay" and edit is not None and rec is not None:
        row["as_overlay"] = report.verdict.value == "recovered" and any(
            _overlaps(o.region, edit.region) for o in rec.overlays)
    else:
        row["as_overlay"] = False
    return row


def run_clip(args: tuple[int, str, str, str, float, list[str], list[str]]) -> list[dict[str, Any]]:
    index, clip_s, other_s, home_s, seconds, only, chosen = args
    from veriframe import media
    from veriframe.errors import VeriframeError
    from veriframe.settings import Settings
    from veriframe.signing import sign_video
    from veriframe.verification import Verifier

    clip, other, home = Path(clip_s), Path(other_s), Path(home_s)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="vf-integrity-") as tmp_s:
        tmp = Path(tmp_s)
        w, h = SIZES[index % 2]
        norm = tmp / "norm.mp4"
        media.transcode(clip, norm, scale=(w, h), duration=seconds, crf=18, fps=24)
        other_norm = tmp / "other.mp4"
        media.transcode(other, other_norm, scale=(w, h), duration=seconds, crf=18, fps=24)
        signed = tmp / "signed.mp4"
        try:
            result = sign_video(norm, output=signed, home=home, passphrase=PASSPHRASE,
                                model="benchmark")
        except VeriframeError as exc:  # e.g. too flat or small to carry the mark
            return [{"clip": clip.name, "size": f"{w}x{h}", "group": "sign",
                     "transform": "sign", "error": exc.code, "prints_bytes": 0,
                     "duration_s": seconds}]
        prints = [a["data"] for a in result.manifest["assertions"]
                  if a["label"] == "org.veriframe.content-fingerprints"]
        manifest_bytes = len(json.dumps(prints[0])) if prints else 0
        duration = float(media.probe(signed).duration or seconds)
        verifier = Verifier(Settings(home=home, detector=None))
        base = {"clip": clip.name, "size": f"{w}x{h}", "prints_bytes": manifest_bytes,
                "duration_s": round(duration, 2)}
        jobs: list[tuple[str, str, dict[str, Any]]] = []
        if "platform" in only:
            jobs += [("platform", n, s) for n, s in PLATFORM.items()]
        if "edit" in only:
            jobs += [("edit", n, s) for n, s in EDITS.items()]
        if "overlay" in only:
            jobs += [("overlay", n, s) for n, s in OVERLAYS.items()]
        for j, (group, name, spec) in enumerate(jobs):
            if chosen and name not in chosen:
                continue
            t0 = time.perf_counter()
            edit = None
            try:
                if group == "platform":
                    path = platform_copy(signed, tmp, name, spec, duration)
                else:
                    path = tmp / f"{name}.mp4"
                    edit = edit_clip(signed, path, other_norm, spec, seed=1000 * index + j)
            except VeriframeError as exc:  # the copy could not be made: say so, go on
                rows.append({**base, "group": group, "transform": name, "error": exc.code})
                continue
            report = verifier.verify(path).report
            row = {**base, "group": group, "transform": name,
                   **judge_row(report, group, edit),
                   "verify_s": round(time.perf_counter() - t0, 2)}
            rec = report.watermark.recovered
            if rec is not None:
                row["detail"] = rec.detail[:300]
            rows.append(row)
            path.unlink(missing_ok=True)
    return rows


def make_home(work: Path) -> Path:
    from veriframe.credentials import init_keys

    home = work / "home"
    if not (home / "keys").exists():
        init_keys(org="Integrity Benchmark", passphrase=PASSPHRASE, home=home)
    return home


def _false_alarm(row: dict[str, Any]) -> bool:
    return bool(row.get("false_alarm", row["verdict"] == "tampered"))


def summarise(rows: list[dict[str, Any]]) -> str:
    lines = ["| group | transform | clips | result |", "|---|---|---|---|"]
    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    failed = [r for r in rows if "error" in r]
    rows = [r for r in rows if "error" not in r]
    for r in rows:
        by.setdefault((r["group"], r["transform"]), []).append(r)
    for (group, name), rs in by.items():
        n = len(rs)
        if group == "platform":
            bad = sum(_false_alarm(r) for r in rs)
            lost = sum(r["state"] is None or r["state"] == "not_found" for r in rs)
            unmatched = sum(r["state"] == "recovered" and r["coverage"] is None for r in rs)
            res = f"false alarms {bad}/{n} ({100 * bad / n:.0f} %)" + (
                f"; mark lost (unsigned) {lost}" if lost else "") + (
                f"; recovered, content not compared {unmatched}" if unmatched else "")
        elif group == "edit":
            det = sum(r["detected"] for r in rs)
            loc = sum(r["localised"] for r in rs)
            res = f"detected {det}/{n} ({100 * det / n:.0f} %), localised {loc}/{n}"
        else:
            ok = sum(r["as_overlay"] for r in rs)
            res = f"reported as overlay {ok}/{n} ({100 * ok / n:.0f} %)"
        lines.append(f"| {group} | {name} | {n} | {res} |")
    plat = [r for r in rows if r["group"] == "platform"]
    if plat:
        bad = sum(_false_alarm(r) for r in plat)
        lines.append(f"| platform | all | {len(plat)} | false alarms {bad}/{len(plat)} "
                     f"({100 * bad / len(plat):.1f} %) |")
    if failed:
        lines.append(f"| - | copies that could not be made | {len(failed)} | "
                     + ", ".join(sorted({f"{r['transform']} ({r['error']})" for r in failed}))
                     + " |")
    sizes = {(r["clip"], r["duration_s"], r["prints_bytes"]) for r in rows}
    if sizes:
        per_min = [b / max(d, 1e-3) * 60 for _, d, b in sizes]
        lines.append(f"\nsegment fingerprints (assertion JSON) per minute of video: median "
                     f"{np.median(per_min) / 1024:.1f} KB, max {max(per_min) / 1024:.1f} KB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--offset", type=int, default=8, help="skip the first N (design) clips")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--only", default="platform,edit,overlay")
    ap.add_argument("--transforms", default=None,
                    help="comma-separated names within those groups (default: all of them)")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "vf-integrity")
    ap.add_argument("--out", type=Path, default=None, help="write every row as JSONL here")
    ap.add_argument("--summarise", type=Path, default=None,
                    help="only print the table of the rows in this JSONL (a run's --out)")
    args = ap.parse_args(argv)
    if args.summarise is not None:
        rows = [json.loads(line) for line in args.summarise.read_text().splitlines() if line]
        print(f"{len({r['clip'] for r in rows})} clips from {args.summarise}")
        print(summarise(rows))
        return 0
    if not SHARED.is_dir():
        print(f"shared clips not found at {SHARED}; nothing to measure", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    home = make_home(args.work)
    clips = pick_clips(args.clips, args.offset, args.seconds)
    donors = pick_clips(len(clips), args.offset + args.clips, args.seconds) or clips[::-1]
    only = args.only.split(",")
    chosen = args.transforms.split(",") if args.transforms else []
    tasks = [(i + args.offset, str(c), str(donors[i % len(donors)]), str(home), args.seconds,
              only, chosen) for i, c in enumerate(clips)]
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for clip_rows in pool.map(run_clip, tasks):
            rows += clip_rows
            print(f"  {clip_rows[0]['clip'] if clip_rows else '?'}: {len(clip_rows)} rows "
                  f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
            if args.out is not None:
                with args.out.open("a") as fh:
                    for r in clip_rows:
                        fh.write(json.dumps(r) + "\n")
    print(f"{len(clips)} clips (offset {args.offset}), {args.seconds:g} s each, "
          f"{time.perf_counter() - t0:.0f} s")
    print(summarise(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
