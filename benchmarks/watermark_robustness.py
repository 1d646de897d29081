"""Watermark robustness benchmark: embed, attack like a platform or a remover would, detect.

Builds a clip set from ../shared/clips/{real,synthetic} (GIFs skipped), normalised to H.264
excerpts at 832x480 and 1280x720 (alternating), 24 fps. Every clip is marked with its own
payload (version 2 unless ``--version 1``) by the sign path's marker, in the pass that re-encodes
it, as ``sign`` does (without the C2PA signature); every attack is applied to the marked clip and to
the clean one (false hits). Clean clips and their attacked versions depend only on the clip
set, so they are cached in ``--cache`` and reused by later runs.

Platform attacks re-encode with FFmpeg (``--preset`` for x264/x265). Removal attacks use only
the signed clip, no key: the attacker estimates the mark as the mean high-pass residual over
all frames (``mean``) or over clusters of frames whose residuals correlate (``cluster``) and
subtracts k times it; ``copy`` adds the frame-mean estimate (times k) to another clip, and is
scored by whether verify would call it ``recovered`` (mark found *and* the content fingerprint
matches the signed clip). PSNR-Y is against the signed clip, brought to the attacked clip's
geometry and timing (crop, scale, frame times); for ``copy`` it is against the other clip.

Geometric attacks (``--geometric``: flip, rotations, 9:16 reframe and letterbox, picture-in-
picture, square and edge crops, brightness x0.5, the reframe + CRF 28 chain and VideoSeal's
combined attack) are applied frame by frame to the decoded signed clip and re-encoded with x264;
``--peer`` runs invisible-watermark's dwtDct mark (64 bits, majority vote over 16 frames) on the
same clips and attacks, as the peer column.

    nice python benchmarks/watermark_robustness.py --clips 20 --jobs 1 --stress
    nice python benchmarks/watermark_robustness.py --clips 20 --offset 20   # held-out clips
    nice python benchmarks/watermark_robustness.py --clips 6 --offset 20 --removals - --peer
    python benchmarks/watermark_robustness.py --clips 4 --attacks h264_crf28,down_0.5x --removals -
"""

from __future__ import annotations

import argparse
import csv
import hashlib
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
from scipy.cluster.hierarchy import fcluster, linkage

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: benchmarks/ is on the path, not the repo
    sys.path.insert(0, str(REPO))

from benchmarks import _search_families  # noqa: E402

SHARED = (REPO / ".." / "shared" / "clips").resolve()
KEY_SECRET = bytes.fromhex("5a" * 32)  # a fixed benchmark key (not a real signer's key)
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "veriframe-wmbench-cache"

SIZES = [(832, 480), (1280, 720)]
SAMPLE = 32  # frames decoded per check, as verify does


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

# Stronger degradations (SECURITY.md's removal table), run with --stress.
STRESS: dict[str, Callable[[int, int, float], dict[str, Any]]] = {
    "h264_crf40": lambda w, h, d: {"crf": 40},
    "down_0.35x": lambda w, h, d: {"scale": 0.35},
    "crop_20%": lambda w, h, d: {"crop": 0.2},
    "crop_30%": lambda w, h, d: {"crop": 0.3},
    "crop_50%": lambda w, h, d: {"crop": 0.5},
}
ATTACKS_ALL = {**ATTACKS, **STRESS}

# Removal attacks without the key: (kind, k). ``cluster`` groups frames by the correlation of
# their high-pass residuals (average linkage) into CLUSTERS groups. ``noise`` adds Gaussian
# noise of sigma k to luma, ``blur`` blurs it with sigma k pixels (stress attacks).
REMOVALS: dict[str, tuple[str, float]] = {
    **{f"mean_x{k}": ("mean", float(k)) for k in (1, 2, 4, 8)},
    **{f"cluster_x{k}": ("cluster", float(k)) for k in (1, 2, 4, 8)},
    "copy_x1": ("copy", 1.0),
    "copy_x4": ("copy", 4.0),
}
PIXEL_STRESS: dict[str, tuple[str, float]] = {
    "noise_s10": ("noise", 10.0),
    "noise_s30": ("noise", 30.0),
    "blur_s1.5": ("blur", 1.5),
    "blur_s3": ("blur", 3.0),
}
REMOVALS_ALL = {**REMOVALS, **PIXEL_STRESS}
CLUSTERS = 8


# Geometric attacks (what short-video platforms do to the picture), applied frame by frame to
# the decoded signed clip and re-encoded with x264 at the row's CRF (23 unless named). Each
# function takes one frame, (H, W) luma or (H, W, 3) RGB, the matching background frame for
# picture-in-picture, and the clip's seed (the picture-in-picture position); ``black`` is the
# fill level (16 for studio-range luma, 0 for RGB).
def _cv2() -> Any:
    import cv2

    return cv2


def _resize_any(a: np.ndarray, w: int, h: int) -> np.ndarray:
    cv2 = _cv2()
    shrink = w < a.shape[1]
    return np.asarray(
        cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    )


def _rotate(a: np.ndarray, deg: float, black: int) -> np.ndarray:
    """Turn counter-clockwise by ``deg`` about the centre, same size, corners filled."""
    cv2 = _cv2()
    h, w = a.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    fill = (black,) * (a.shape[2] if a.ndim == 3 else 1)
    return np.asarray(
        cv2.warpAffine(a, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=fill)
    )


def _centre_crop(a: np.ndarray, keep_w: float, keep_h: float) -> np.ndarray:
    h, w = a.shape[:2]
    cw, ch = max(2, round(w * keep_w) // 2 * 2), max(2, round(h * keep_h) // 2 * 2)
    x, y = (w - cw) // 2, (h - ch) // 2
    return a[y : y + ch, x : x + cw]


def _reframe(a: np.ndarray) -> np.ndarray:
    """16:9 -> 9:16: the full-height centre crop keeping 31.6 % of the width, to 1080x1920."""
    return _resize_any(np.ascontiguousarray(_centre_crop(a, 0.316, 1.0)), 1080, 1920)


def _letterbox(a: np.ndarray, black: int) -> np.ndarray:
    """16:9 into a 1080x1920 portrait frame: scaled to the width, black bars above and below."""
    h, w = a.shape[:2]
    nh = round(h * 1080 / w) // 2 * 2
    out = np.full((1920, 1080, *a.shape[2:]), black, dtype=np.uint8)
    y0 = (1920 - nh) // 2 // 2 * 2
    out[y0 : y0 + nh] = _resize_any(a, 1080, nh)
    return out


def _pip(a: np.ndarray, bg: np.ndarray, seed: int) -> np.ndarray:
    """The clip at 0.5x pasted into another clip's frame, at a position drawn per clip."""
    h, w = a.shape[:2]
    sw, sh = w // 2 // 2 * 2, h // 2 // 2 * 2
    rng = np.random.default_rng(seed)
    x0 = int(rng.integers(0, w - sw + 1)) // 2 * 2
    y0 = int(rng.integers(0, h - sh + 1)) // 2 * 2
    out = np.array(bg[:h, :w], copy=True)
    out[y0 : y0 + sh, x0 : x0 + sw] = _resize_any(a, sw, sh)
    return out


def _dim(a: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(np.rint(a.astype(np.float32) * factor), 0, 255).astype(np.uint8)


GeoFn = Callable[[np.ndarray, np.ndarray, int, int], np.ndarray]
# name -> (frame function (frame, background, seed, black), CRF of the re-encode)
GEOMETRIC: dict[str, tuple[GeoFn, int]] = {
    "hflip": (lambda a, bg, s, k: a[:, ::-1], 23),
    "rot_+2": (lambda a, bg, s, k: _rotate(a, 2.0, k), 23),
    "rot_+5": (lambda a, bg, s, k: _rotate(a, 5.0, k), 23),
    "rot_-5": (lambda a, bg, s, k: _rotate(a, -5.0, k), 23),
    "rot_+10": (lambda a, bg, s, k: _rotate(a, 10.0, k), 23),
    "rot_-10": (lambda a, bg, s, k: _rotate(a, -10.0, k), 23),
    "rot_90": (lambda a, bg, s, k: np.rot90(a), 23),
    "reframe_9x16": (lambda a, bg, s, k: _reframe(a), 23),
    "letterbox_9x16": (lambda a, bg, s, k: _letterbox(a, k), 23),
    "pip_0.5x": (lambda a, bg, s, k: _pip(a, bg, s), 23),
    "crop_1x1": (lambda a, bg, s, k: _centre_crop(a, a.shape[0] / a.shape[1], 1.0), 23),
    "crop_edge_0.71": (lambda a, bg, s, k: _centre_crop(a, 0.71, 0.71), 23),
    "crop_edge_0.55": (lambda a, bg, s, k: _centre_crop(a, 0.55, 0.55), 23),
    "bright_x0.5": (lambda a, bg, s, k: _dim(a, 0.5), 23),
    "chain_reframe_crf28": (lambda a, bg, s, k: _reframe(a), 28),
    "videoseal_combined": (lambda a, bg, s, k: _dim(_centre_crop(a, 0.71, 0.71), 0.5), 30),
}


def geo_encode(
    frames: np.ndarray,
    dst: Path,
    name: str,
    *,
    fps: float,
    seed: int,
    background: np.ndarray | None,
    preset: str,
    luma: bool,
) -> None:
    """Apply geometric attack ``name`` to every frame and encode it with x264.

    ``luma``: ``frames`` are (N, H, W) luma planes written as the luma of the output exactly
    (chroma neutral), else (N, H, W, 3) RGB frames converted by the encoder as usual.
    """
    from veriframe import media

    fn, crf = GEOMETRIC[name]
    black = 16 if luma else 0
    n = len(frames)

    def bg(i: int) -> np.ndarray:
        if background is None:
            return np.full_like(frames[0], black)
        b = background[i % len(background)]
        h, w = frames.shape[1:3]
        return b if b.shape[:2] == (h, w) else _resize_any(b, w, h)

    def even(a: np.ndarray) -> np.ndarray:
        h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
        return np.ascontiguousarray(a[:h, :w])

    out = [even(fn(frames[i], bg(i), seed, black)) for i in range(n)]
    if luma:
        zeros = np.zeros((*out[0].shape, 3), dtype=np.uint8)
        media.write_video(
            dst,
            (zeros for _ in out),
            fps=fps,
            crf=crf,
            preset=preset,
            transform=lambda i, y: out[i],
        )
    else:
        media.write_video(dst, iter(out), fps=fps, crf=crf, preset=preset)


def geo_reference(signed: np.ndarray, name: str, sample: Any, seed: int, bg: Any) -> np.ndarray:
    """The signed luma at the sample's frames, attacked alike but not encoded (for PSNR)."""
    fn, _ = GEOMETRIC[name]
    idx = [min(len(signed) - 1, i) for i in sample.indices]
    ref = []
    for i in idx:
        b = bg[i % len(bg)] if bg is not None else np.full_like(signed[i], 16)
        if b.shape != signed[i].shape:
            b = _resize_any(b, signed.shape[2], signed.shape[1])
        ref.append(fn(signed[i], b, seed, 16))
    th, tw = sample.luma.shape[1:]
    return np.stack([np.ascontiguousarray(r[:th, :tw]) for r in ref])


# The peer column: invisible-watermark's DWT-DCT mark (as Stability's SVD/SDXL scripts embed
# it), 64 bits in every frame, read by majority vote over PEER_FRAMES frames of the sample.
PEER_FRAMES = 16


def peer_bits(seed: bytes) -> list[int]:
    return [int(b) for b in np.unpackbits(np.frombuffer(seed[:8], dtype=np.uint8))]


def peer_embed(src: Path, dst: Path, bits: list[int], fps: float) -> None:
    """Mark every frame of ``src`` with dwtDct (64 bits) and encode at CRF 18."""
    from imwatermark import WatermarkEncoder

    from veriframe import media

    enc = WatermarkEncoder()
    enc.set_watermark("bits", bits)
    rgb = media.read_frames(src, luma=False).rgb
    assert rgb is not None
    frames = (
        np.ascontiguousarray(enc.encode(np.ascontiguousarray(f[:, :, ::-1]), "dwtDct")[:, :, ::-1])
        for f in rgb
    )
    media.write_video(dst, frames, fps=fps, crf=18, preset="veryfast")


def peer_read(path: Path, bits: list[int]) -> tuple[bool, float]:
    """The majority vote of the dwtDct bits over the sample: whether it equals ``bits``, and
    the fraction of the 64 voted bits that do (0.5 is chance; a frame whose mark is gone tends
    to read all zeros, so a wiped mark scores the payload's share of zero bits)."""
    from imwatermark import WatermarkDecoder

    from veriframe import media

    rgb = media.sample_frames(path, count=PEER_FRAMES, luma=False).rgb
    assert rgb is not None
    dec = WatermarkDecoder("bits", len(bits))
    votes = np.zeros(len(bits))
    for f in rgb:
        if min(f.shape[:2]) < 256:
            continue
        got = dec.decode(np.ascontiguousarray(f[:, :, ::-1]), "dwtDct")
        votes += np.where(np.asarray(got, dtype=bool), 1.0, -1.0)
    same = (votes > 0) == np.asarray(bits, dtype=bool)
    return bool(same.all()), float(same.mean())


def pick_clips(n: int) -> list[Path]:
    """``n`` non-GIF clips, alternating real and synthetic, large enough to normalise, none from
    the repositories of ``HOLDOUT.txt``."""
    with open(SHARED / "INDEX.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    holdout = set()
    if (SHARED / "HOLDOUT.txt").exists():  # kept for independent evaluation: never used here
        lines = (SHARED / "HOLDOUT.txt").read_text().splitlines()
        holdout = {x.strip() for x in lines if x.strip() and not x.startswith("#")}
    real, synth = [], []
    for r in rows:
        if r["is_gif"] == "1" or min(int(r["width"]), int(r["height"])) < 240:
            continue
        if r.get("source_repo") in holdout:
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


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB over whole stacks of uint8 planes (one MSE for all frames)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))


def mark_clip(src: Path, dst: Path, *, key: Any, payload: Any) -> dict[str, float]:
    """Mark ``src`` into ``dst`` as ``sign`` does (the sign path's marker, in the pass that
    re-encodes at CRF 18), without the C2PA signature: frames, luma PSNR floor, marking fps."""
    from veriframe import media
    from veriframe.signing import _Marker

    marker = _Marker(key, payload, fps=float(media.probe(src).fps or 0.0))
    psnrs: list[float] = []

    def transform(index: int, y: np.ndarray) -> np.ndarray:
        out = marker(index, y)
        psnrs.append(psnr(y, out))
        return out

    t0 = time.perf_counter()
    media.rewrite_video(src, dst, transform=transform, crf=18)
    seconds = time.perf_counter() - t0
    finite = [p for p in psnrs if p < 99.0] or [99.0]
    return {"frames": len(psnrs), "psnr_min": min(finite),
            "fps": len(psnrs) / seconds if seconds > 0 else 0.0}


def _resize(y: np.ndarray, w: int, h: int) -> np.ndarray:
    """FFmpeg's scaler (through PyAV), as the attack encodes use it."""
    import av

    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(y), format="gray")
    return np.asarray(frame.reformat(width=w, height=h, format="gray").to_ndarray())


def reference(signed: np.ndarray, fps: float, kw: dict[str, Any], sample: Any) -> np.ndarray:
    """The signed frames at the attacked sample's times, cropped and scaled like the attack."""
    start = float(kw.get("start") or 0.0)
    idx = [min(len(signed) - 1, round((start + t) * fps)) for t in sample.timestamps]
    frames = signed[idx]
    crop = kw.get("crop")
    if crop:
        h, w = frames.shape[1:]
        cw, ch = max(2, round(w * (1 - crop)) // 2 * 2), max(2, round(h * (1 - crop)) // 2 * 2)
        x, y = (w - cw) // 2, (h - ch) // 2
        frames = frames[:, y : y + ch, x : x + cw]
    th, tw = sample.luma.shape[1:]
    if frames.shape[1:] != (th, tw):
        frames = np.stack([_resize(f, tw, th) for f in frames])
    return frames


def highpass(frames: np.ndarray, sigma: float) -> np.ndarray:
    """Per-frame high-pass residual: the frame minus its Gaussian blur (float32)."""
    f = frames.astype(np.float32)
    return f - np.stack([ndimage.gaussian_filter(x, sigma) for x in f])


def clusters(res: np.ndarray, count: int) -> np.ndarray:
    """Frame labels: average-linkage clusters of the residuals' correlation (1 - r)."""
    n = len(res)
    v = res[:, ::4, ::4].reshape(n, -1).astype(np.float64)
    v -= v.mean(axis=1, keepdims=True)
    v /= np.linalg.norm(v, axis=1, keepdims=True) + 1e-9
    dist = 1.0 - v @ v.T
    link = linkage(dist[np.triu_indices(n, 1)], method="average")
    return np.asarray(fcluster(link, t=count, criterion="maxclust")) - 1


def estimate(frames: np.ndarray, kind: str, sigma: float) -> np.ndarray:
    """The key-free estimate of the mark in every frame: (N, H, W) float32."""
    res = highpass(frames, sigma)
    if kind in ("mean", "copy"):
        return np.broadcast_to(res.mean(axis=0), res.shape)
    labels = clusters(res, CLUSTERS)
    out = np.empty_like(res)
    for c in np.unique(labels):
        out[labels == c] = res[labels == c].mean(axis=0)
    return out


def degrade(src: Path, dst: Path, kind: str, sigma: float) -> None:
    """Re-encode ``src`` (CRF 18) with Gaussian noise added to, or a blur applied to, luma."""
    from veriframe import media

    def transform(index: int, y: np.ndarray) -> np.ndarray:
        f = y.astype(np.float32)
        if kind == "noise":
            f += np.random.default_rng(index).normal(0.0, sigma, f.shape).astype(np.float32)
        else:
            f = ndimage.gaussian_filter(f, sigma)
        return np.clip(np.rint(f), 0, 255).astype(np.uint8)

    media.rewrite_video(src, dst, transform=transform, crf=18, preset="veryfast")


def subtract(src: Path, dst: Path, est: np.ndarray, k: float) -> None:
    """Re-encode ``src`` (CRF 18) with ``k`` times ``est`` taken off every frame's luma."""
    from veriframe import media

    def transform(index: int, y: np.ndarray) -> np.ndarray:
        e = est[min(index, len(est) - 1)]
        return np.clip(np.rint(y.astype(np.float32) - k * e), 0, 255).astype(np.uint8)

    media.rewrite_video(src, dst, transform=transform, crf=18, preset="veryfast")


def _cached_sample(path: Path, make: Callable[[Path], None]) -> np.ndarray:
    """The 32-frame luma sample of a clip made by ``make``, kept as .npy in the cache."""
    from veriframe import media

    if not path.exists():
        with tempfile.TemporaryDirectory(prefix="wmclean") as tmp:
            out = Path(tmp) / "clip.mp4"
            make(out)
            luma = media.sample_frames(out, count=SAMPLE, rgb=False).luma
        tmp_npy = path.with_suffix(".part.npy")
        np.save(tmp_npy, luma)
        tmp_npy.replace(path)
    return np.load(path)


def normalised(cache: Path, index: int, src: str, seconds: float) -> Path:
    """The clean clip ``index`` as an H.264 excerpt at its benchmark size (cached)."""
    from veriframe import media

    w, h = SIZES[index % len(SIZES)]
    tag = hashlib.sha256(f"{src}|{w}x{h}|{seconds}".encode()).hexdigest()[:12]
    out = cache / f"clean_{index:02d}_{tag}.mp4"
    if not out.exists():
        part = out.with_suffix(".part.mp4")
        media.transcode(src, part, crf=18, scale=(w, h), fps=24, duration=seconds)
        part.replace(out)
    return out


def run_clip(args: tuple[Any, ...]) -> dict[str, Any]:
    """Embed, attack and detect one clip (runs in a worker)."""
    from veriframe import media
    from veriframe.results import WatermarkState
    from veriframe.watermark import (
        MATCH_THRESHOLD,
        Payload,
        WatermarkKey,
        detect,
        fingerprint,
        fingerprint_distance,
    )
    from veriframe.watermark.pattern import chip_px

    index, clean, other, attacks, removals, preset, version, cache, geometric, peer = args
    clean, cache = Path(clean), Path(cache)
    other = Path(other) if other else None
    key = WatermarkKey(KEY_SECRET)
    info = media.probe(clean)
    w, h, fps = info.width, info.height, float(info.fps or 24.0)
    res: dict[str, Any] = {"clip": clean.name, "size": f"{w}x{h}", "attacks": {}}
    ckey = f"{clean.stem}"
    sigma = 0.8 * chip_px(h, w)  # the attacker's high-pass: the mark's own scale
    present = WatermarkState.PRESENT
    detect_times: list[tuple[float, tuple[int, ...]]] = []

    def check(luma: np.ndarray) -> Any:
        t0 = time.perf_counter()
        c = detect(luma, keys=[key])
        detect_times.append((time.perf_counter() - t0, luma.shape))
        return c

    with tempfile.TemporaryDirectory(prefix="wmbench") as tmp:
        t = Path(tmp)
        digest = hashlib.sha256(f"{clean.name}|{index}".encode()).digest()
        payload = Payload(content_id=int.from_bytes(digest[:7], "big"), version=version)
        marked = t / "marked.mp4"
        stats = mark_clip(clean, marked, key=key, payload=payload)
        signed = media.read_frames(marked).luma
        original = media.read_frames(clean).luma
        n = min(len(signed), len(original))
        res.update(
            psnr=psnr(signed[:n], original[:n]),
            psnr_min=stats["psnr_min"],
            embed_fps=stats["fps"],
            frames=stats["frames"],
            size_ratio=marked.stat().st_size / clean.stat().st_size,
        )
        pairs = zip(original[::12], signed[::12], strict=False)
        res["ssim"] = float(np.mean([ssim(a, b) for a, b in pairs]))
        sample = media.sample_frames(marked, count=SAMPLE, rgb=False)
        c = check(sample.luma)
        res["attacks"]["none"] = (c.payload_id == payload.hex, c.bit_accuracy, c.p_value, 99.0)
        fh = int(check(media.sample_frames(clean, count=SAMPLE, rgb=False).luma).state == present)
        checked = 1
        dur = info.duration or n / fps
        for name in attacks:
            kw = ATTACKS_ALL[name](w, h, dur)
            ext = kw.pop("ext", ".mp4")
            out = t / f"m_{name}{ext}"
            media.transcode(marked, out, preset=preset, **kw)
            s = media.sample_frames(out, count=SAMPLE, rgb=False)
            c = check(s.luma)
            ps = psnr(s.luma, reference(signed, fps, kw, s))
            res["attacks"][name] = (c.payload_id == payload.hex, c.bit_accuracy, c.p_value, ps)
            out.unlink()

            def make_clean(dst: Path, kw: dict[str, Any] = kw, ext: str = ext) -> None:
                tmp_out = dst.with_suffix(ext)
                media.transcode(clean, tmp_out, preset=preset, **kw)
                tmp_out.replace(dst)

            luma = _cached_sample(cache / f"{ckey}_{name}_{preset}.npy", make_clean)
            fh += int(check(luma).state == present)
            checked += 1
        for name in removals:
            kind, k = REMOVALS_ALL[name]
            out = t / f"r_{name}.mp4"
            if kind == "copy":
                if other is None:
                    continue
                base = media.read_frames(other).luma
                est = estimate(signed, "mean", sigma)
                subtract(other, out, est, -k)
                s = media.sample_frames(out, count=SAMPLE, rgb=False)
                got = media.read_frames(out).luma
                c = check(s.luma)
                ps = psnr(got[: len(base)], base[: len(got)])
                dist = fingerprint_distance(fingerprint(s), fingerprint(sample))
                recovered = c.state == present and dist <= MATCH_THRESHOLD
                res["attacks"][name] = (c.state == present, recovered, c.p_value, ps)
            else:
                if kind in ("noise", "blur"):
                    degrade(marked, out, kind, k)
                else:
                    subtract(marked, out, estimate(signed, kind, sigma), k)
                s = media.sample_frames(out, count=SAMPLE, rgb=False)
                got = media.read_frames(out).luma
                c = check(s.luma)
                ps = psnr(got[: len(signed)], signed[: len(got)])
                res["attacks"][name] = (c.payload_id == payload.hex, c.bit_accuracy, c.p_value, ps)

                def make_clean_r(dst: Path, kind: str = kind, k: float = k) -> None:
                    tmp_out = dst.with_suffix(".mp4")
                    if kind in ("noise", "blur"):
                        degrade(clean, tmp_out, kind, k)
                    else:
                        subtract(clean, tmp_out, estimate(original, kind, sigma), k)
                    tmp_out.replace(dst)

                luma = _cached_sample(cache / f"{ckey}_{name}.npy", make_clean_r)
                fh += int(check(luma).state == present)
                checked += 1
            out.unlink()
        bg_luma = media.read_frames(other, rgb=False).luma if other is not None else None
        peer_marked = t / "peer.mp4"
        pbits = peer_bits(digest[8:16])
        if peer:
            peer_embed(clean, peer_marked, pbits, fps)
            res["peer"], res["peer_acc"] = {}, {}
            res["peer"]["none"], res["peer_acc"]["none"] = peer_read(peer_marked, pbits)
            for name in attacks:
                kw = ATTACKS_ALL[name](w, h, dur)
                ext = kw.pop("ext", ".mp4")
                out = t / f"p_{name}{ext}"
                media.transcode(peer_marked, out, preset=preset, **kw)
                res["peer"][name], res["peer_acc"][name] = peer_read(out, pbits)
                out.unlink()
        seed = int.from_bytes(digest[16:20], "big")
        for name in geometric:
            out = t / f"g_{name}.mp4"
            geo_encode(signed, out, name, fps=fps, seed=seed, background=bg_luma,
                       preset=preset, luma=True)
            s = media.sample_frames(out, count=SAMPLE, rgb=False)
            c = check(s.luma)
            ps = psnr(s.luma, geo_reference(signed, name, s, seed, bg_luma))
            res["attacks"][name] = (c.payload_id == payload.hex, c.bit_accuracy, c.p_value, ps)
            res.setdefault("geometry", {})[name] = dict(c.alignment or {})
            out.unlink()

            def make_clean_g(dst: Path, name: str = name) -> None:
                geo_encode(original, dst.with_suffix(".g.mp4"), name, fps=fps, seed=seed,
                           background=bg_luma, preset=preset, luma=True)
                dst.with_suffix(".g.mp4").replace(dst)

            luma = _cached_sample(cache / f"{ckey}_{name}_{preset}_geo.npy", make_clean_g)
            fh += int(check(luma).state == present)
            checked += 1
            if peer:
                prgb = media.read_frames(peer_marked, luma=False).rgb
                bg_rgb = media.read_frames(other, luma=False).rgb if other is not None else None
                assert prgb is not None
                out = t / f"pg_{name}.mp4"
                geo_encode(prgb, out, name, fps=fps, seed=seed, background=bg_rgb,
                           preset=preset, luma=False)
                del prgb, bg_rgb
                res["peer"][name], res["peer_acc"][name] = peer_read(out, pbits)
                out.unlink()
        res["false_hits"] = fh
        res["clean_checked"] = checked
        res["detect"] = detect_times
    return res


def _copy_target(cleans: list[Path], i: int) -> str:
    """The copy attack's target: the next clip of the same size ("" when there is none)."""
    same = [j for j in range(len(cleans)) if j != i and j % len(SIZES) == i % len(SIZES)]
    later = [j for j in same if j > i]
    pick = (later or same or [None])[0]
    return "" if pick is None else str(cleans[pick])


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=4.0, help="excerpt length per clip")
    ap.add_argument("--attacks", default=",".join(ATTACKS), help="comma-separated subset, - none")
    ap.add_argument("--removals", default=",".join(REMOVALS), help="comma-separated subset, - none")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument(
        "--preset", default="veryfast", help="x264/x265 preset of the attack encodes (speed only)"
    )
    ap.add_argument("--stress", action="store_true", help="add the stronger degradations")
    ap.add_argument("--version", type=int, default=2, help="pattern version to embed (1 or 2)")
    ap.add_argument("--offset", type=int, default=0, help="skip this many clips (held-out sets)")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="clean clips and samples")
    ap.add_argument(
        "--geometric",
        default=",".join(GEOMETRIC),
        help="comma-separated geometric attacks (flip, rotation, reframe, ...), - none",
    )
    ap.add_argument(
        "--jsonl",
        type=Path,
        default=None,
        help="append each clip's results to this file as it finishes (a long run that is cut"
        " short keeps what it measured; --report prints the tables from it)",
    )
    ap.add_argument(
        "--report",
        type=Path,
        default=None,
        help="print the tables from a --jsonl file of an earlier run, and run nothing",
    )
    ap.add_argument(
        "--peer",
        action="store_true",
        help="also run invisible-watermark's dwtDct mark on the same clips and attacks",
    )
    ap.add_argument(
        "--without",
        default="",
        help="mark-search hypothesis families to leave out, to see what each one finds: "
        f"comma-separated, of {', '.join(_search_families.FAMILIES)} (still counted in the "
        "p-value; the library always searches them all)",
    )
    a = ap.parse_args(argv)
    try:
        without = _search_families.parse(a.without)
    except ValueError as exc:
        ap.error(str(exc))
    attacks = [x for x in a.attacks.split(",") if x and x != "-"]
    removals = [x for x in a.removals.split(",") if x and x != "-"]
    geometric = [x for x in a.geometric.split(",") if x and x != "-"]
    if a.stress:
        attacks += [x for x in STRESS if x not in attacks]
        removals += [x for x in PIXEL_STRESS if x not in removals]
    unknown = (set(attacks) - set(ATTACKS_ALL)) | (set(removals) - set(REMOVALS_ALL))
    unknown |= set(geometric) - set(GEOMETRIC)
    if unknown:
        known = [*ATTACKS_ALL, *REMOVALS_ALL, *GEOMETRIC]
        ap.error(f"unknown attacks: {sorted(unknown)}; known: {known}")
    if not SHARED.is_dir():
        print(f"shared clips not found at {SHARED}", file=sys.stderr)
        return 1
    if a.report is not None:
        import json

        done = [json.loads(x) for x in a.report.read_text().splitlines() if x.strip()]
        if not done:
            ap.error(f"no results in {a.report}")
        print(f"report of {len(done)} clips from {a.report}")
        return _tables(done, attacks, geometric, removals, 0.0)
    a.cache.mkdir(parents=True, exist_ok=True)
    sources = pick_clips(a.offset + a.clips)[a.offset :]
    print("command:", "python " + " ".join([sys.argv[0], *(argv or sys.argv[1:])]))
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()}"
        f" python {platform.python_version()} numpy {np.__version__}"
    )
    print(
        f"clips: {len(sources)} ({a.seconds:g} s each, 832x480 / 1280x720 alternating, 24 fps);"
        f" pattern v{a.version}; attack encodes: preset {a.preset}; cache {a.cache}"
    )
    if without:
        print(f"mark search WITHOUT: {', '.join(without)} (not the shipped search)")
    t0 = time.time()
    cleans = [normalised(a.cache, a.offset + i, str(s), a.seconds) for i, s in enumerate(sources)]
    n = len(cleans)
    jobs = [
        (
            i,
            str(c),
            _copy_target(cleans, i),
            attacks,
            removals,
            a.preset,
            a.version,
            str(a.cache),
            geometric,
            a.peer,
        )
        for i, c in enumerate(cleans)
    ]
    results = []
    with ProcessPoolExecutor(max(1, a.jobs), initializer=_search_families.leave_out,
                             initargs=(without,)) as ex:
        for r in ex.map(run_clip, jobs):
            results.append(r)
            if a.jsonl is not None:
                import json

                with open(a.jsonl, "a") as fh:
                    fh.write(json.dumps(r, default=float) + "\n")
            bad = [k for k, v in r["attacks"].items() if not v[0] and not k.startswith("copy")]
            print(f"  done {len(results)}/{n} {r['clip'][:40]} missed: {bad}", flush=True)
    return _tables(results, attacks, geometric, removals, t0)


def _tables(
    results: list[dict[str, Any]],
    attacks: list[str],
    geometric: list[str],
    removals: list[str],
    t0: float,
) -> int:
    """Print the result tables (from this run, or from a --jsonl file)."""
    n = len(results)
    attacks = [x for x in attacks if all(x in r["attacks"] for r in results)]
    geometric = [x for x in geometric if all(x in r["attacks"] for r in results)]
    removals = [x for x in removals if all(x in r["attacks"] for r in results)]
    names = ["none", *attacks, *geometric, *[r for r in removals if not r.startswith("copy")]]
    peer_col = all("peer" in r for r in results)
    acc_col = peer_col and all("peer_acc" in r for r in results)  # older runs lack it
    print(f"\n{'attack':24s} {'n':>3s} {'exact':>7s} {'bit_acc':>8s} {'p_median':>9s} "
          f"{'p_max':>9s} {'PSNR-Y med':>10s} {'min':>6s} {'exact@>=35dB':>13s}"
          + (f" {'dwtDct exact':>12s}" if peer_col else "")
          + (f" {'dwtDct bits':>11s}" if acc_col else ""))
    for name in names:
        rows = [r["attacks"][name] for r in results]
        exact = sum(1 for ok, _, _, _ in rows if ok)
        accs = [acc for _, acc, _, _ in rows if acc is not None]
        ps = [p if p is not None else 1.0 for _, _, p, _ in rows]
        db = [d for _, _, _, d in rows]
        above = [ok for ok, _, _, d in rows if d >= 35.0]
        acc_s = f"{statistics.mean(accs):.3f}" if accs else "-"
        db_s = f"{_median(db):10.1f} {min(db):6.1f}" if name != "none" else f"{'-':>10s} {'-':>6s}"
        above_s = f"{sum(above)}/{len(above)}" if above else "-"
        peer_s = ""
        if peer_col and all(name in r["peer"] for r in results):
            peer_s = f" {sum(r['peer'][name] for r in results) / n:12.1%}"
        elif peer_col:
            peer_s = f" {'-':>12s}"
        if acc_col and all(name in r["peer_acc"] for r in results):
            peer_s += f" {statistics.mean(r['peer_acc'][name] for r in results):11.3f}"
        elif acc_col:
            peer_s += f" {'-':>11s}"
        print(
            f"{name:24s} {n:3d} {exact / n:7.1%} {acc_s:>8s} {statistics.median(ps):9.1e} "
            f"{max(ps):9.1e} {db_s} {above_s:>13s}{peer_s}"
        )
    for name in [r for r in removals if r.startswith("copy")]:
        rows = [r["attacks"][name] for r in results if name in r["attacks"]]
        if not rows:
            continue
        found = sum(1 for hit, _, _, _ in rows if hit)
        rec = sum(1 for _, recovered, _, _ in rows if recovered)
        db = [d for _, _, _, d in rows]
        print(
            f"{name:24s} {len(rows):3d} mark found on the other clip: {found}/{len(rows)}; would"
            f" read `recovered`: {rec}/{len(rows)}; PSNR-Y vs the other clip median"
            f" {_median(db):.1f} dB"
        )
    print("(exact: 64-bit id recovered; bit_acc: mean over clips whose codeword decoded; PSNR-Y:"
          " attacked vs signed clip, median and min over clips; exact@>=35dB: among clips whose"
          " attacked version kept PSNR-Y >= 35 dB)")
    if acc_col:
        print("(dwtDct exact: all 64 bits of the 16-frame majority vote right; dwtDct bits: mean"
              " share of the 64 voted bits right, 0.5 is chance; the peer's 'none' is after its"
              " own CRF 18 encode)")
    psnrs = [r["psnr"] for r in results]
    mins = [r["psnr_min"] for r in results]
    ssims = [r["ssim"] for r in results]
    print(f"\nPSNR-Y marked vs original (per clip, after the CRF 18 encode): median "
          f"{_median(psnrs):.2f} dB, min {min(psnrs):.2f} dB; of the mark alone (worst frame, "
          f"before encoding): min {min(mins):.2f} dB")
    print(f"SSIM-Y marked vs original: mean {statistics.mean(ssims):.4f}, min {min(ssims):.4f}")
    ratios = [r["size_ratio"] for r in results]
    print(f"file size marked / clean at CRF 18: median {_median(ratios):.2f}, "
          f"max {max(ratios):.2f}")
    fh = sum(r["false_hits"] for r in results)
    checked = sum(r["clean_checked"] for r in results)
    print(f"false hits on clean clips and their attacked versions: {fh} / {checked}")
    for size in sorted({r["size"] for r in results}):
        sub = [r for r in results if r["size"] == size]
        efps = statistics.mean(r["embed_fps"] for r in sub)
        full = sub[0]["detect"][0][1][1:]
        dts = [dt for r in sub for dt, shape in r["detect"] if shape[1:] == full]
        dfps = SAMPLE / _median(dts) if dts else float("nan")
        print(f"{size}: embed {efps:.1f} fps (decode+mark+x264 medium), detect {dfps:.0f} fps "
              f"(32-frame sample, excl. decoding, median of marked and clean checks)")
    if t0:
        print(f"\nwall time {time.time() - t0:.0f} s")
    for r in results:
        bad = [k for k, v in r["attacks"].items() if not v[0] and not k.startswith("copy")]
        missed = ",".join(bad) or "-"
        print(f"  {r['clip'][:40]:40s} {r['size']:9s} psnr {r['psnr']:.1f} missed: {missed}")
    if geometric:
        print("\nrecovered geometry (median over clips where the id was exact):")
        for name in geometric:
            got = [
                r["geometry"][name]
                for r in results
                if r["attacks"][name][0] and name in r.get("geometry", {})
            ]
            if not got:
                print(f"  {name:22s} -")
                continue
            keys = ("mirror", "rotation", "scale_x", "scale_y", "region_w", "region_h")
            parts = [
                f"{k}={_median([g[k] for g in got if k in g]):g}"
                for k in keys
                if any(k in g for g in got)
            ]
            print(f"  {name:22s} " + " ".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
