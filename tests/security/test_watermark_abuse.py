"""Watermark abuse: copying a genuine mark onto other content, forging one without the key,
and removing one. verify must never vouch for content the mark was not made for."""

from __future__ import annotations

import secrets
from pathlib import Path

import av
import numpy as np

from tests.security.conftest import SignedSet
from tests.watermark.marking import mark_clip
from veriframe import media, watermark
from veriframe.verification import verify


def _other_clip(path: Path, *, frames: int, width: int = 320, height: int = 240,
                fps: int = 12) -> Path:
    """Content unlike the signed clip: a moving checkerboard with a bright bar, no audio."""
    yy, xx = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "16", "preset": "veryfast"}
        for i in range(frames):
            board = (((xx + 4 * i) // 24 + yy // 24) % 2) * 120 + 60
            bar = (np.abs(yy - (i * 9) % height) < 14) * 70
            rgb = np.clip(np.stack([board + bar, board * 0.7 + 30, 220 - board * 0.5], -1),
                          0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _add(residual: np.ndarray) -> media.encode.LumaTransform:  # type: ignore[name-defined]
    def transform(index: int, y: np.ndarray) -> np.ndarray:
        r = residual[index % len(residual)] if residual.ndim == 3 else residual
        return np.clip(y.astype(np.float32) + r, 0, 255).astype(np.uint8)

    return transform


def _assert_mismatch(report: object) -> None:
    wm = report.watermark  # type: ignore[attr-defined]
    # The copied mark must really be found, or this test would not exercise the defence.
    assert wm.state.value == "present", wm
    assert wm.recovered is not None, wm
    # The segment fingerprints signed into the manifest decide: no placement of the signed
    # picture matches (mismatch), or what matches differs in places (edited): never recovered.
    assert wm.recovered.state in ("mismatch", "edited"), wm.recovered
    assert wm.recovered.comparison == "segments", wm.recovered
    assert report.verdict.value == "tampered"  # type: ignore[attr-defined]


def test_copied_residual_is_reported_as_mismatch(signed_set: SignedSet, tmp_path: Path) -> None:
    # The attacker has the original and the signed clip: residual = marked - original, per frame.
    orig = media.read_frames(signed_set.source).luma.astype(np.float32)
    marked = media.read_frames(signed_set.signed).luma.astype(np.float32)
    n = min(len(orig), len(marked))
    residual = marked[:n] - orig[:n]
    other = _other_clip(tmp_path / "other.mp4", frames=n)
    forged = tmp_path / "forged.mp4"
    media.rewrite_video(other, forged, transform=_add(residual), crf=16)
    _assert_mismatch(verify(forged, home=signed_set.home, detector=None))


def test_mark_estimated_without_the_original_is_reported_as_mismatch(
    signed_set: SignedSet, tmp_path: Path
) -> None:
    # Only the signed clip: the mark is the same in every frame, so averaging the high-pass
    # residual over frames estimates it (content averages out). Copied onto other content.
    from scipy.ndimage import uniform_filter

    marked = media.read_frames(signed_set.signed).luma.astype(np.float32)
    high = marked - np.stack([uniform_filter(f, size=5) for f in marked])
    estimate = high.mean(axis=0)
    estimate *= 2.0 / max(1e-6, float(np.abs(estimate).mean()))  # boost to ~2 grey levels
    other = _other_clip(tmp_path / "other.mp4", frames=len(marked))
    forged = tmp_path / "forged.mp4"
    media.rewrite_video(other, forged, transform=_add(estimate), crf=16)
    report = verify(forged, home=signed_set.home, detector=None)
    # Either the estimate carried the mark (then it must be flagged), or it did not.
    if report.watermark.state.value == "present":
        _assert_mismatch(report)
    else:
        assert report.verdict.value == "unsigned"


def test_averaging_one_signed_clip_does_not_remove_the_mark(
    signed_set: SignedSet, tmp_path: Path
) -> None:
    # The averaging attack that removed v1 marks: with only the signed clip, estimate the mark
    # as the frame mean of the high-pass residual (at the mark's own scale) and subtract k x
    # it. A v2 mark changes sign over time under the key, so the mean holds (next to) none of
    # it and the mark stays; the same per cluster of frames whose residuals correlate.
    from benchmarks.watermark_robustness import estimate

    marked = media.read_frames(signed_set.signed).luma
    sigma = 0.8 * min(marked.shape[1:]) / 96
    key = _home_key(signed_set)
    for kind, k in (("mean", 1.0), ("mean", 4.0), ("cluster", 2.0)):
        est = estimate(marked, kind, sigma)
        attacked = tmp_path / f"{kind}_{k:g}.mp4"

        def subtract(index: int, y: np.ndarray, est: np.ndarray = est, k: float = k) -> np.ndarray:
            e = est[min(index, len(est) - 1)]
            return np.clip(np.rint(y.astype(np.float32) - k * e), 0, 255).astype(np.uint8)

        media.rewrite_video(signed_set.signed, attacked, transform=subtract, crf=18)
        check = watermark.detect(media.sample_frames(attacked, count=32), keys=[key])
        assert check.payload_id == signed_set.payload_id, (kind, k, check)


def test_random_keys_find_nothing_on_a_marked_clip(signed_set: SignedSet) -> None:
    sample = media.sample_frames(signed_set.signed, count=16)
    own = watermark.detect(sample, keys=[_home_key(signed_set)])
    assert own.state.value == "present"  # the real key finds it...
    for _ in range(4):  # ...keys an attacker could guess find nothing
        check = watermark.detect(sample, keys=[watermark.WatermarkKey(secrets.token_bytes(32))])
        assert check.state.value != "present", check


def test_mark_forged_with_a_guessed_key_is_not_recognised(
    signed_set: SignedSet, tmp_path: Path
) -> None:
    # The payload id is public (it is in the manifest's soft-binding assertion); the key is not.
    stolen_id = watermark.Payload.from_hex(signed_set.payload_id) if hasattr(
        watermark.Payload, "from_hex") else watermark.Payload.new()
    forged = tmp_path / "forged.mp4"  # marked as the sign path marks, with the guessed key
    mark_clip(signed_set.source, forged,
              key=watermark.WatermarkKey(secrets.token_bytes(32)), payload=stolen_id)
    report = verify(forged, home=signed_set.home, detector=None)
    assert report.watermark.state.value != "present"
    assert report.watermark.recovered is None
    assert report.verdict.value == "unsigned"


def test_destroying_the_mark_reads_unsigned_not_fake(
    signed_set: SignedSet, tmp_path: Path
) -> None:
    # Removal is possible with enough damage (here: 4x downscale at CRF 40 after stripping the
    # manifest). The honest outcome is "no provenance found" (exit 3), never "tampered".
    degraded = tmp_path / "degraded.mp4"
    media.transcode(signed_set.signed, degraded, scale=(80, 60), crf=40)
    report = verify(degraded, home=signed_set.home, detector=None)
    assert report.credentials.state.value == "absent"
    assert report.watermark.state.value != "present"
    assert report.verdict.value == "unsigned"


def _home_key(signed_set: SignedSet) -> watermark.WatermarkKey:
    from veriframe.credentials.keys import load_watermark_keys

    return watermark.WatermarkKey(load_watermark_keys(home=signed_set.home)[0])


def test_low_frequency_hybrid_copy_is_not_vouched_for(
    signed_set: SignedSet, tmp_path: Path
) -> None:
    # Known failing (issue 7 report): the content fingerprint is a pHash of 32x32 thumbnails,
    # so it only sees low frequencies. With the signed clip alone (no key, no original), keep
    # its blurred luma, replace every detail with other content, and add the mark estimated by
    # frame averaging: the result is visibly different content (PSNR ~20 dB against the
    # original) and verify must not vouch for it ("recovered").
    from scipy.ndimage import gaussian_filter, uniform_filter

    marked = media.read_frames(signed_set.signed).luma.astype(np.float32)
    high = marked - np.stack([uniform_filter(f, size=5) for f in marked])
    estimate = high.mean(axis=0)
    estimate *= 2.0 / max(1e-6, float(np.abs(estimate).mean()))
    low = np.stack([gaussian_filter(f, 8) for f in marked])
    other = _other_clip(tmp_path / "other.mp4", frames=len(marked))

    def hybrid(index: int, y: np.ndarray) -> np.ndarray:
        yo = y.astype(np.float32)
        out = yo - gaussian_filter(yo, 8) + low[min(index, len(low) - 1)] + estimate
        return np.clip(out, 0, 255).astype(np.uint8)

    forged = tmp_path / "hybrid.mp4"
    media.rewrite_video(other, forged, transform=hybrid, crf=16)
    got = media.read_frames(forged).luma.astype(np.float32)[: len(marked)]
    mse = float(((got - marked[: len(got)]) ** 2).mean())
    assert 10 * np.log10(255**2 / mse) < 25  # really different content
    report = verify(forged, home=signed_set.home, detector=None)
    assert report.verdict.value != "recovered", report.watermark.recovered
