"""The keyed watermark: payload codec, embed/detect (v2, and v1 clips signed before v2),
attacks, keys, false hits, the averaging that v2 resists, import weight.

Clips and frames are marked by the sign path's marker (``tests.watermark.marking``) and read by
the watermark search (``veriframe.watermark.detect``), as ``sign`` and ``verify`` do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.watermark.marking import mark_clip, mark_frames
from veriframe.errors import WatermarkError
from veriframe.results import WatermarkState
from veriframe.signing import _Marker
from veriframe.watermark import Payload, WatermarkKey, detect, embed_luma
from veriframe.watermark.pattern import BLOCK_RUNS, RUN, frame_sign, pattern_for, tile_for
from veriframe.watermark.payload import (
    BCH_T,
    ID_BITS,
    codeword_bits,
    encode_bits,
    generator_matrix,
    osd_decode,
)
from veriframe.watermark.search import HYPOTHESES_PER_KEY
from veriframe.watermark.stats import correlation_p_value

media = pytest.importorskip("veriframe.media")

KEY = WatermarkKey(bytes(range(32)))
OTHER_KEY = WatermarkKey(bytes(range(1, 33)))
PAYLOAD = Payload(content_id=0x00A1B2C3D4E5F6)  # version 2, the current pattern
V1_PAYLOAD = Payload(content_id=0x00A1B2C3D4E5F6, version=1)


@pytest.fixture(scope="module")
def marked(wm_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float]]:
    """The clip marked as ``sign`` marks it, and the luma PSNR of each marked frame."""
    out = tmp_path_factory.mktemp("wm") / "marked.mp4"
    psnrs = mark_clip(wm_clip, out, key=KEY, payload=PAYLOAD)
    return out, psnrs


def test_payload_hex_roundtrip() -> None:
    p = Payload.new(version=3)
    assert len(p.hex) == 16
    assert Payload.from_hex(p.hex) == p
    assert p.version == 3
    with pytest.raises(WatermarkError):
        Payload.from_hex("xyz")
    with pytest.raises(WatermarkError):
        Payload(content_id=1 << 56)


def test_ecc_corrects_t_errors_and_rejects_noise() -> None:
    rng = np.random.default_rng(1)
    bits = encode_bits(PAYLOAD)
    assert bits.size == codeword_bits() == 248
    # BCH_T wrong bits, each received less surely than the right ones: the decoder the search
    # uses (soft, version byte known) gives back the payload and its codeword.
    soft = 2.0 * bits - 1.0
    soft[rng.choice(bits.size, BCH_T, replace=False)] *= -0.3
    payload, word = osd_decode(soft, version=PAYLOAD.version)
    assert payload == PAYLOAD and np.array_equal(word, bits)
    # Random words always decode to some payload; the test statistic says it means nothing
    # (z as the search computes it, with every hypothesis one key's search counts).
    for _ in range(50):
        noise = rng.normal(0.0, 1.0, bits.size)
        _, word = osd_decode(noise, version=2)
        z = float(noise @ (2.0 * word - 1.0)) / float(np.linalg.norm(noise))
        p = correlation_p_value(z=z, data_bits=ID_BITS, hypotheses=HYPOTHESES_PER_KEY)
        assert p > 1e-3, z


def test_generator_matrix_spans_the_code() -> None:
    g = generator_matrix()
    msg = np.unpackbits(np.frombuffer(PAYLOAD.to_bytes(), dtype=np.uint8))
    assert np.array_equal((msg.astype(np.int64) @ g) % 2, encode_bits(PAYLOAD))


def test_soft_decoder_goes_past_the_hard_decoding_radius() -> None:
    rng = np.random.default_rng(7)
    bits = encode_bits(PAYLOAD)
    soft = (2.0 * bits - 1.0) + rng.normal(0.0, 1.1, bits.size)
    errors = int(np.count_nonzero((soft > 0) != (bits > 0)))
    assert errors > BCH_T  # past what a hard BCH decoder can fix ...
    payload, codeword = osd_decode(soft)  # ... the soft decoder still gets it
    assert payload == PAYLOAD and np.array_equal(codeword, bits)
    with pytest.raises(ValueError):
        osd_decode(np.zeros(10))


def test_soft_decoder_flips_up_to_two_of_its_most_reliable_bits() -> None:
    # The two most reliable soft bits are wrong (two of the payload's own bits, which the
    # systematic code carries as they are), every other bit is right: the hard decision of the
    # most reliable positions re-encodes to a wrong word; only a candidate that flips both
    # (order 2) gives the codeword back, and it is the best correlated of all.
    bits = encode_bits(PAYLOAD)
    wrong = [20, 40]
    reliability = np.linspace(3.0, 1.0, bits.size)
    reliability[wrong] = (5.0, 4.9)
    soft = (2.0 * bits - 1.0) * reliability
    soft[wrong] *= -1.0
    for version in (PAYLOAD.version, None):
        payload, word = osd_decode(soft, version=version)
        assert payload == PAYLOAD and np.array_equal(word, bits)
        _, once = osd_decode(soft, version=version, order=1)
        assert not np.array_equal(once, bits)


def test_knowing_the_version_byte_decodes_more_and_fixes_it() -> None:
    # Only the 2^56 codewords with the expected version byte are searched: noisier words
    # decode, and whatever comes out carries that version.
    rng = np.random.default_rng(11)  # payloads drawn from it too: a fixed, repeatable case
    free = fixed = 0
    for _ in range(60):
        payload = Payload(content_id=int(rng.integers(0, 2**ID_BITS)))
        bits = encode_bits(payload)
        soft = (2.0 * bits - 1.0) + rng.normal(0.0, 1.3, bits.size)
        free += osd_decode(soft)[0] == payload
        got, word = osd_decode(soft, version=2)
        fixed += got == payload
        assert got.version == 2 and np.array_equal(word, encode_bits(got))
    assert fixed >= free + 3, (free, fixed)


def test_correlation_p_value_bound() -> None:
    # exp(-z^2/2) * 2^64 * hypotheses, capped at 1; monotone in z and in the hypotheses
    assert correlation_p_value(z=0.0, data_bits=64) == 1.0
    assert correlation_p_value(z=5.0, data_bits=64) == 1.0
    p = correlation_p_value(z=12.0, data_bits=64, hypotheses=4)
    assert p == pytest.approx(4 * 2.0**64 * np.exp(-72.0), rel=1e-9)
    assert correlation_p_value(z=12.0, data_bits=64, hypotheses=8) > p
    assert correlation_p_value(z=13.0, data_bits=64, hypotheses=4) < p
    # Under "no watermark" the statistic is a Rademacher sum: its tail obeys the bound.
    rng = np.random.default_rng(3)
    x = rng.standard_t(3, size=744) * np.linspace(0.1, 5.0, 744)  # heavy-tailed, uneven content
    z = (rng.choice([-1.0, 1.0], size=(20000, 744)) @ x) / np.linalg.norm(x)
    for t in (2.0, 3.0, 3.5):
        assert np.mean(z >= t) <= np.exp(-t * t / 2)


def test_unmarked_clip_searched_with_many_keys_never_fires(wm_clip: Path) -> None:
    sample = media.sample_frames(wm_clip, count=16)
    keys = [WatermarkKey(bytes([k]) * 32) for k in range(40, 48)]
    check = detect(sample, keys=keys)
    assert check.state == WatermarkState.ABSENT
    assert check.p_value is not None and check.p_value > 1e-3


def test_key_id_and_bad_key() -> None:
    assert len(KEY.key_id) == 16 and KEY.key_id != OTHER_KEY.key_id
    assert "secret" not in repr(KEY) and bytes(range(32)).hex() not in repr(KEY)
    with pytest.raises(WatermarkError) as err:
        WatermarkKey(b"short")
    assert err.value.code == "watermark.bad-key"


def test_embed_luma_quality_and_flat_areas() -> None:
    flat = np.full((360, 640), 100, dtype=np.uint8)
    out = embed_luma(flat, key=KEY, payload=PAYLOAD)
    diff = out.astype(int) - flat
    assert np.abs(diff).max() <= 2  # barely touched where there is nothing to hide it in
    with pytest.raises(WatermarkError):
        embed_luma(np.zeros((10, 10), np.uint8), key=KEY, payload=PAYLOAD)


def test_embed_detect_roundtrip(marked: tuple[Path, list[float]]) -> None:
    path, psnrs = marked
    assert len(psnrs) == 30
    assert min(psnrs) >= 42.0
    check = detect(media.sample_frames(path, count=32), keys=[OTHER_KEY, KEY])
    assert check.state == WatermarkState.PRESENT
    assert check.payload_id == PAYLOAD.hex and check.version == 2
    assert check.p_value is not None and check.p_value < 1e-12
    assert check.key_id == KEY.key_id
    assert check.bit_accuracy is not None and check.bit_accuracy > 0.9
    assert check.alignment is not None and abs(check.alignment["scale_x"] - 1.0) < 0.02
    assert check.alignment["modulated"] == 1.0


def test_p_value_counts_every_decode_of_every_search_and_key(
    marked: tuple[Path, list[float]],
) -> None:
    luma = media.sample_frames(marked[0], count=32).luma
    one = detect(luma, keys=[KEY])
    assert one.alignment is not None and one.p_value is not None
    z = one.alignment["payload_z"]
    # 2^56 codewords (the version byte is known) x every decode the searches may run, in
    # every orientation and region hypothesis
    expected = correlation_p_value(z=z, data_bits=ID_BITS, hypotheses=HYPOTHESES_PER_KEY)
    assert one.p_value == pytest.approx(expected, rel=0.05)  # z is rounded in alignment
    keys = [WatermarkKey(bytes([k]) * 32) for k in range(3)] + [KEY]
    four = detect(luma, keys=keys)
    assert four.payload_id == PAYLOAD.hex
    assert four.p_value == pytest.approx(4 * one.p_value, rel=1e-6)


def test_wrong_key_finds_nothing(marked: tuple[Path, list[float]]) -> None:
    check = detect(media.sample_frames(marked[0], count=32), keys=[OTHER_KEY])
    assert check.state == WatermarkState.ABSENT
    assert check.payload_id is None


def test_unmarked_and_flat_are_absent(wm_clip: Path) -> None:
    check = detect(media.sample_frames(wm_clip, count=32), keys=[KEY])
    assert check.state == WatermarkState.ABSENT
    assert check.p_value is not None and check.p_value > 1e-3
    flat = np.full((8, 360, 640), 90, dtype=np.uint8)
    assert detect(flat, keys=[KEY]).state == WatermarkState.ABSENT
    rng = np.random.default_rng(5)
    noise = rng.integers(0, 256, (8, 360, 640), dtype=np.uint8)
    assert detect(noise, keys=[KEY]).state == WatermarkState.ABSENT


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("crf28", {"crf": 28}),
        ("half", {"crf": 23, "scale": 0.5}),
        ("crop", {"crf": 23, "crop": 0.1}),
    ],
)
def test_survives_platform_reencode(
    marked: tuple[Path, list[float]], tmp_path: Path, name: str, kwargs: dict[str, object]
) -> None:
    out = tmp_path / f"{name}.mp4"
    media.transcode(marked[0], out, preset="veryfast", **kwargs)
    check = detect(media.sample_frames(out, count=32), keys=[KEY])
    assert check.state == WatermarkState.PRESENT, check
    assert check.payload_id == PAYLOAD.hex


def test_import_does_not_pull_torch_or_cv2() -> None:
    code = (
        "import sys, veriframe.watermark as w; w.known_marks;"
        "print('torch' in sys.modules, 'cv2' in sys.modules, 'imwatermark' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


# --- v2: a time-modulated mark ---------------------------------------------------------------


def _texture(n: int, h: int = 360, w: int = 640, seed: int = 3) -> np.ndarray:
    """(n, h, w) uint8: a textured background panning 2 px per frame (content that moves)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.normal(0.0, 1.0, (h, w + 2 * n)), 2.0)
    base = (base - base.min()) / (np.ptp(base) + 1e-9) * 180 + 38
    return np.stack([base[:, 2 * i : 2 * i + w] for i in range(n)]).astype(np.uint8)


def test_v2_signs_come_in_runs_and_balance_over_every_block() -> None:
    pay = Payload(content_id=0x00A1B2C3D4E5F6, version=2)
    signs = np.array([frame_sign(KEY, i, payload=pay) for i in range(RUN * BLOCK_RUNS * 40)])
    assert set(np.unique(signs)) == {-1.0, 1.0}
    runs = signs.reshape(-1, RUN)
    assert np.all(runs == runs[:, :1])  # a run shares one sign
    assert np.all(runs[:, 0].reshape(-1, BLOCK_RUNS).sum(axis=1) == 0)  # each block balances
    other = np.array([frame_sign(OTHER_KEY, i, payload=pay) for i in range(signs.size)])
    assert 0.3 < np.mean(other == signs) < 0.7  # the schedule is keyed
    far = 4096 * RUN * BLOCK_RUNS  # past the precomputed blocks it goes on, still balanced
    assert sum(frame_sign(KEY, far + i * RUN, payload=pay) for i in range(BLOCK_RUNS)) == 0
    with pytest.raises(ValueError):
        frame_sign(KEY, -1, payload=pay)


def test_v2_clips_of_one_key_have_unrelated_schedules() -> None:
    # Averaging many clips of one signer frame by frame: frame i carries + in about half of
    # them and - in the others, so the mark cancels there as well.
    pays = [Payload(content_id=0x5EED00 + n, version=2) for n in range(64)]
    signs = np.array([[frame_sign(KEY, i, payload=p) for i in range(0, 256, RUN)] for p in pays])
    column_means = np.abs(signs.mean(axis=0))
    assert float(column_means.mean()) < 0.25
    assert float(column_means.max()) < 0.6


def test_v2_frame_mean_of_one_clip_does_not_reveal_the_pattern() -> None:
    # The averaging attack on the mark itself: the mean over frames of what was added.
    frames = _texture(2 * RUN * BLOCK_RUNS)
    pattern = pattern_for(KEY, PAYLOAD, *frames.shape[1:]).ravel()

    def mean_added(payload: Payload) -> np.ndarray:
        marked, _ = mark_frames(frames, key=KEY, payload=payload)
        return np.mean(marked.astype(np.float64) - frames, axis=0)

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        a = a.ravel() - a.mean()
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))

    v1_pattern = pattern_for(KEY, V1_PAYLOAD, *frames.shape[1:]).ravel()
    assert corr(mean_added(V1_PAYLOAD), v1_pattern) > 0.9  # v1: the mean is the mark
    v2_mean = mean_added(PAYLOAD)
    assert abs(corr(v2_mean, pattern)) < 0.1  # v2: nothing of it is left in the mean
    one = embed_luma(frames[0], key=KEY, payload=PAYLOAD, index=0).astype(np.float64) - frames[0]
    assert abs(corr(one, pattern)) > 0.8  # while every frame carries it, with its sign
    assert np.abs(v2_mean).mean() < 0.25 * np.abs(one).mean()


def test_v2_is_read_without_frame_numbers() -> None:
    # An excerpt that starts mid-run, frames shuffled, every third frame kept (a rate change):
    # the detector never sees a frame number.
    frames = _texture(72, seed=8)
    marked, psnrs = mark_frames(frames, key=KEY, payload=PAYLOAD, start=37)
    rng = np.random.default_rng(2)
    for luma in (marked[rng.permutation(len(marked))][:32], marked[::3], marked[5:9]):
        check = detect(luma, keys=[KEY])
        assert check.state == WatermarkState.PRESENT and check.payload_id == PAYLOAD.hex
    assert len(psnrs) == 72 and min(psnrs) >= 42.0
    assert np.array_equal(marked[3], embed_luma(frames[3], key=KEY, payload=PAYLOAD, index=40))


def test_v2_survives_subtracting_the_frame_mean_estimate(tmp_path: Path) -> None:
    # The averaging attack, done as a remover would (no key): frame-mean high-pass, k x.
    from scipy import ndimage

    frames = _texture(48, seed=4)
    marked = mark_frames(frames, key=KEY, payload=PAYLOAD)[0].astype(np.float32)
    high = marked - np.stack([ndimage.gaussian_filter(f, 0.8 * 360 / 96) for f in marked])
    estimate = high.mean(axis=0)
    for k in (1, 4, 8):
        attacked = np.clip(np.rint(marked - k * estimate), 0, 255).astype(np.uint8)
        check = detect(attacked[::2], keys=[KEY])
        assert check.payload_id == PAYLOAD.hex, k


def test_unsupported_version_is_refused() -> None:
    frame = _texture(1)[0]
    with pytest.raises(WatermarkError) as err:
        embed_luma(frame, key=KEY, payload=Payload(content_id=5, version=3))
    assert err.value.code == "watermark.unsupported-version"
    with pytest.raises(WatermarkError) as err:  # nor does the sign path's marker make one
        _Marker(KEY, Payload(content_id=5, version=0), fps=24.0)(0, frame)
    assert err.value.code == "watermark.unsupported-version"


def test_keyed_layouts_are_pinned() -> None:
    # Marks already in the world were made with these layouts: a change of numpy's random
    # streams (or of this code) that moved them would make every earlier clip undetectable.
    import hashlib

    digests = {
        1: "ddef222e389d8e9a3cc920bd708d664c",
        2: "7499f223822bc29793e8b92c96ccf12f",
    }
    for version, digest in digests.items():
        tile = tile_for(KEY, Payload(content_id=0x00A1B2C3D4E5F6, version=version))
        assert hashlib.sha256((tile > 0).tobytes()).hexdigest()[:32] == digest
    pay = Payload(content_id=0x00A1B2C3D4E5F6, version=2)
    signs = "".join(
        "+" if frame_sign(KEY, i, payload=pay) > 0 else "-" for i in range(0, 64, RUN)
    )
    assert signs == "-++--+-+--++-++-"


def test_v1_clip_made_by_the_old_embedder_is_still_detected(
    wm_clip: Path, tmp_path: Path
) -> None:
    # embed_luma with a version-1 payload is the v1 code path, unchanged (a v1 clip).
    out = tmp_path / "v1.mp4"
    psnrs = mark_clip(wm_clip, out, key=KEY, payload=V1_PAYLOAD)
    assert min(psnrs) >= 42.0
    frame = media.read_frames(out).luma[0]
    v1_frame = embed_luma(frame, key=KEY, payload=V1_PAYLOAD)
    assert np.array_equal(v1_frame, embed_luma(frame, key=KEY, payload=V1_PAYLOAD, index=5))
    for path in (out, tmp_path / "v1_crf28.mp4"):
        if path != out:
            media.transcode(out, path, crf=28, preset="veryfast")
        check = detect(media.sample_frames(path, count=32), keys=[KEY])
        assert check.state == WatermarkState.PRESENT, check
        assert check.payload_id == V1_PAYLOAD.hex and check.version == 1
        assert check.alignment is not None and check.alignment["modulated"] == 0.0


def test_frames_fold_into_the_average_of_each_phase_bin() -> None:
    # The fast fold (matrix products) against the plain definition: the mean of the pixels
    # whose row and column phases fall in each bin.
    from veriframe.watermark.search import _fold_frames, _phase_bins

    rng = np.random.default_rng(5)
    stack = rng.normal(size=(3, 61, 97)).astype(np.float32)
    for ty, tx, nbins in ((13.7, 21.3, 16), (40.0, 9.5, 8), (70.0, 120.0, 64)):
        by = _phase_bins(stack.shape[1], ty, nbins)
        bx = _phase_bins(stack.shape[2], tx, nbins)
        want = np.zeros((3, nbins, nbins))
        for b in range(nbins):
            for c in range(nbins):
                cell = stack[:, by == b][:, :, bx == c]
                if cell.size:
                    want[:, b, c] = cell.reshape(3, -1).mean(axis=1)
        got = _fold_frames(stack, ty, tx, nbins)
        assert got.dtype == np.float32 and got.shape == (3, nbins, nbins)
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_largest_orders_like_a_full_sort_ties_and_nans_included() -> None:
    # The search picks its best offsets by a partition; it must pick them, in the same order,
    # as the full sort it replaced, also where values tie or are NaN.
    from veriframe.watermark.search import _largest

    rng = np.random.default_rng(11)
    for trial in range(3000):
        n, k = int(rng.integers(1, 200)), int(rng.integers(1, 6))
        values = rng.normal(size=n).astype(np.float32)
        if trial % 3 == 1:  # many ties
            values = rng.integers(0, 4, size=n).astype(np.float32)
        elif trial % 3 == 2:
            values[rng.integers(0, n, size=2)] = np.nan
        np.testing.assert_array_equal(_largest(values, k), np.argsort(values)[::-1][:k])
