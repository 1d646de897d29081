"""A multi-scale perceptual fingerprint of the content: per-frame hashes of a few spread frames.

Stored with a signed manifest so that ``verify`` can tell whether content that carries a
recovered watermark is the content that was signed (a copied mark on other content is not).
Each frame gets two hashes, and two fingerprints match only when both scales match:

* coarse: the classic pHash, the frame's luma reduced to 32x32 by area averaging, a 2-D DCT,
  and the signs of the 8x8 lowest frequencies (DC excluded) against their median;
* fine: the luma reduced to 64x64, band-passed (difference of Gaussians, sigma 0.7 and 3 grid
  units, i.e. detail of roughly 1/60 to 1/12 of the frame), averaged over a 16x16 grid of
  cells: the sign of each cell, plus a mask of the cells whose magnitude is in the frame's
  upper half ("reliable" cells; flat cells, whose sign is noise, are not compared).

The coarse hash alone only sees what survives heavy blurring, so keeping a signed clip's blurred
image and replacing every detail with other content passed it (issue 7); the fine hash sees
that detail. Both survive re-encoding, rescaling and brightness changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from veriframe.errors import WatermarkError

FRAMES = 8
SIDE = 32
LOW = 8
COARSE_BITS = LOW * LOW
FINE_SIDE = 64  # normalised frame for the fine hash
FINE_SIGMAS = (0.7, 3.0)  # band-pass, in grid units of the normalised frame
FINE_GRID = 16  # cells per side: 256 fine bits per frame
FINE_BITS = FINE_GRID * FINE_GRID
BITS_PER_FRAME = COARSE_BITS + 2 * FINE_BITS  # coarse, fine signs, fine mask
HEX_PER_FRAME = BITS_PER_FRAME // 4
VERSION = "p2"
# Distances at or below this mean "same content": the larger of the two scales' distances.
# Re-encoded (CRF 28/35), 0.5x/0.75x rescaled and +-10% brightness copies measured <= 0.12 in
# the tests; unrelated clips >= 0.3, a blurred-original/other-detail hybrid ~0.4.
MATCH_THRESHOLD = 0.2


def _area_resize(y: np.ndarray, side: int) -> np.ndarray:
    h, w = y.shape
    if h < side or w < side:  # upsample by repetition first: area sampling stays well defined
        y = np.repeat(np.repeat(y, -(-side // h), axis=0), -(-side // w), axis=1)
        h, w = y.shape
    ry = np.linspace(0, h, side + 1).astype(np.int64)
    rx = np.linspace(0, w, side + 1).astype(np.int64)
    rows = np.add.reduceat(y.astype(np.float64), ry[:-1], axis=0) / np.diff(ry)[:, None]
    return np.add.reduceat(rows, rx[:-1], axis=1) / np.diff(rx)[None, :]


def _coarse_hash(y: np.ndarray) -> np.ndarray:
    from scipy.fft import dctn  # SciPy on first use: the package front stays light

    coeffs = dctn(_area_resize(y, SIDE), norm="ortho")[:LOW, :LOW].ravel()
    ac = coeffs[1:]
    bits = np.zeros(COARSE_BITS, dtype=np.uint8)
    bits[1:] = ac > np.median(ac)
    bits[0] = coeffs[0] > SIDE * 128.0  # overall brightness above mid-grey
    return bits


def _fine_hash(y: np.ndarray) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    g = _area_resize(y, FINE_SIDE)
    band = gaussian_filter(g, FINE_SIGMAS[0], mode="reflect") - gaussian_filter(
        g, FINE_SIGMAS[1], mode="reflect"
    )
    cells = _area_resize(band, FINE_GRID).ravel()
    mag = np.abs(cells)
    reliable = mag >= np.median(mag)
    return np.concatenate([(cells > 0).astype(np.uint8), reliable.astype(np.uint8)])


def _frame_hash(y: np.ndarray) -> np.ndarray:
    return np.concatenate([_coarse_hash(y), _fine_hash(y)])


def fingerprint(sample: Any, *, frames: int = FRAMES) -> str:
    """Fingerprint of a FrameSample (or (N, H, W) luma array): ``"p2:"`` + 144 hex per frame."""
    luma = np.asarray(getattr(sample, "luma", sample))
    if luma.ndim == 2:
        luma = luma[None]
    if luma.ndim != 3 or luma.shape[0] == 0 or min(luma.shape[1:]) < SIDE:
        raise WatermarkError(
            "watermark.bad-sample",
            "cannot fingerprint: expected (N, H, W) luma frames at least 32x32",
            "pass a FrameSample from veriframe.media.sample_frames",
        )
    n = luma.shape[0]
    idx = np.linspace(0, n - 1, min(n, frames)).round().astype(np.int64)
    hexes = [np.packbits(_frame_hash(luma[i])).tobytes().hex() for i in idx]
    return VERSION + ":" + "".join(hexes)


def _parse(fp: str) -> np.ndarray:
    prefix, sep, body = fp.partition(":")
    if sep and prefix != VERSION and len(prefix) == 2 and prefix[0] == "p" and prefix[1:].isdigit():
        raise WatermarkError(
            "watermark.fingerprint-version",
            f"fingerprint version {prefix!r} cannot be compared with {VERSION!r} fingerprints",
            f"{prefix} fingerprints were made by another veriframe version; re-sign the content "
            f"(or compare fingerprints computed by the same version)",
        )
    if prefix != VERSION or not body or len(body) % HEX_PER_FRAME:
        raise WatermarkError(
            "watermark.bad-fingerprint",
            f"not a veriframe fingerprint: {fp[:24]!r}",
            f"fingerprints look like {VERSION}:<{HEX_PER_FRAME} hex digits per frame>",
        )
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        raise WatermarkError(
            "watermark.bad-fingerprint", "fingerprint is not hex", "recompute it"
        ) from None
    return np.unpackbits(np.frombuffer(raw, dtype=np.uint8)).reshape(-1, BITS_PER_FRAME)


def _pair_distances(ha: np.ndarray, hb: np.ndarray, *, fine_only: bool = False,
                    keep: np.ndarray | None = None) -> np.ndarray:
    """(len(ha), len(hb)) frame-pair distances: the larger of the coarse and fine distances
    (only the fine one with ``fine_only``, over the fine cells ``keep`` if given)."""
    sa = ha[:, COARSE_BITS : COARSE_BITS + FINE_BITS].astype(bool)
    sb = hb[:, COARSE_BITS : COARSE_BITS + FINE_BITS].astype(bool)
    ma = ha[:, COARSE_BITS + FINE_BITS :].astype(bool)
    mb = hb[:, COARSE_BITS + FINE_BITS :].astype(bool)
    if keep is not None:
        ma, mb = ma & keep[None, :], mb & keep[None, :]
    differ = sa[:, None, :] != sb[None, :, :]
    # Each side's reliable cells compared with the other's signs; the worse of the two.
    na = np.maximum(ma.sum(axis=1), 1)[:, None]
    nb = np.maximum(mb.sum(axis=1), 1)[None, :]
    fine_a = (differ & ma[:, None, :]).sum(axis=2) / na
    fine_b = (differ & mb[None, :, :]).sum(axis=2) / nb
    fine = np.maximum(fine_a, fine_b)
    if fine_only:
        return fine
    ca, cb = ha[:, :COARSE_BITS], hb[:, :COARSE_BITS]
    coarse = (ca[:, None, :] != cb[None, :, :]).mean(axis=2)
    return np.maximum(coarse, fine)


def fingerprint_distance(a: str, b: str) -> float:
    """Distance in [0, 1] between two fingerprints: 0 same content, ~0.5 unrelated.

    Per pair of frames, the larger of the coarse (pHash) and fine (band-pass) distances, so a
    match needs both scales to match; then for every frame of one, the nearest frame of the
    other (samples taken at slightly different times or frame rates still pair up), averaged
    both ways. Compare with :data:`MATCH_THRESHOLD`. Raises ``WatermarkError``
    (``watermark.fingerprint-version``) for a fingerprint of another version (e.g. ``p1:``).
    """
    return _nearest_both_ways(_pair_distances(_parse(a), _parse(b)))


def fine_distance(a: str, b: str, *, ignore: np.ndarray | None = None) -> float:
    """Like :func:`fingerprint_distance` on the fine (band-pass sign) scale alone, leaving out
    the cells of the fine grid where ``ignore`` (shape (FINE_GRID, FINE_GRID), True: left out)
    is set, e.g. under an overlay that a comparison already allowed."""
    return _nearest_both_ways(fine_pair_distances(a, b, ignore=ignore))


def fine_pair_distances(a: str, b: str, *, ignore: np.ndarray | None = None) -> np.ndarray:
    """(frames of ``a``, frames of ``b``) fine-scale distances of every pair of frames (cells
    where ``ignore`` is set left out), for callers that choose which frames to pair."""
    keep = None if ignore is None else ~np.asarray(ignore, dtype=bool).reshape(FINE_BITS)
    return _pair_distances(_parse(a), _parse(b), fine_only=True, keep=keep)


# The sign path keeps at most this many of the frames it marks for the fingerprint, evenly
# strided (see :func:`signed_frame_indices`).
SIGN_KEEP = 64


def signed_frame_indices(total: int) -> list[int]:
    """The frame indices (presentation order, from 0) whose hashes a clip of ``total`` frames
    signed by veriframe carries in its fingerprint, in fingerprint order.

    The sign path keeps every ``stride``-th marked frame as it encodes, halving what it kept
    and doubling the stride whenever more than :data:`SIGN_KEEP` are kept; the fingerprint
    takes :data:`FRAMES` of those, evenly spread (as :func:`fingerprint` does)."""
    stride = 1
    while -(-total // stride) > SIGN_KEEP:
        stride *= 2
    kept = list(range(0, max(total, 0), stride))
    if not kept:
        return []
    pick = np.linspace(0, len(kept) - 1, min(len(kept), FRAMES)).round().astype(np.int64)
    return [kept[i] for i in pick]


def _nearest_both_ways(d: np.ndarray) -> float:
    """Each frame's distance to the nearest frame of the other sample, averaged both ways."""
    return float((d.min(axis=1).mean() + d.min(axis=0).mean()) / 2.0)


# Below this luma standard deviation (8-bit levels, frames area-resized to 64x64) a clip is
# nearly flat: its hash bits are decided by codec noise, so a re-encode can flip enough of them
# to look like other content. Such a comparison is reported as inconclusive, never as a match.
MIN_STRUCTURE = 6.0


def structure(sample: Any) -> float:
    """How much spatial structure a sample has: mean luma std of 64x64 versions of its frames."""
    luma = np.asarray(sample.luma if hasattr(sample, "luma") else sample)
    if luma.ndim == 2:
        luma = luma[None]
    stds = [float(_area_resize(frame.astype(np.float32), 64).std()) for frame in luma[:FRAMES]]
    return float(np.mean(stds)) if stds else 0.0


def coarse_hashes(fp: str) -> list[int]:
    """The per-frame 64-bit coarse hashes (pHash) of a fingerprint, as integers.

    An index keys on pieces of these (a re-encoded copy keeps most of their bits) to find
    candidate matches among many stored fingerprints before comparing them in full.
    """
    bits = _parse(fp)[:, :COARSE_BITS]
    return [int.from_bytes(np.packbits(row).tobytes(), "big") for row in bits]
