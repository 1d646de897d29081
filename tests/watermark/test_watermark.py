"""The keyed watermark: payload codec, embed/detect, attacks, keys, false hits, import weight."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from veriframe.errors import WatermarkError
from veriframe.results import WatermarkState
from veriframe.watermark import (
    Payload,
    WatermarkKey,
    detect,
    embed_luma,
    embed_video,
)
from veriframe.watermark.payload import (
    BCH_T,
    codeword_bits,
    decode_bits,
    encode_bits,
    generator_matrix,
    osd_decode,
)
from veriframe.watermark.stats import correlation_p_value, decode_p_value

media = pytest.importorskip("veriframe.media")

KEY = WatermarkKey(bytes(range(32)))
OTHER_KEY = WatermarkKey(bytes(range(1, 33)))
PAYLOAD = Payload(content_id=0x00A1B2C3D4E5F6, version=1)


@pytest.fixture(scope="module")
def marked(wm_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("wm") / "marked.mp4"
    stats = embed_video(wm_clip, out, key=KEY, payload=PAYLOAD)
    return out, stats


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
    noisy = bits.copy()
    noisy[rng.choice(bits.size, BCH_T, replace=False)] ^= 1
    decoded = decode_bits(noisy)
    assert decoded is not None and decoded.payload == PAYLOAD and decoded.errors == BCH_T
    # Random words almost never decode, and the test statistic says so when they do.
    words = rng.integers(0, 2, (200, 248)).astype(np.uint8)
    hits = sum(decode_bits(w) is not None for w in words)
    assert hits <= 2
    assert decode_p_value(n=248, k=64, errors=BCH_T, hypotheses=1e9) < 1e-6


def test_generator_matrix_spans_the_code() -> None:
    g = generator_matrix()
    msg = np.unpackbits(np.frombuffer(PAYLOAD.to_bytes(), dtype=np.uint8))
    assert np.array_equal((msg.astype(np.int64) @ g) % 2, encode_bits(PAYLOAD))


def test_soft_decoder_goes_past_the_hard_decoding_radius() -> None:
    rng = np.random.default_rng(7)
    bits = encode_bits(PAYLOAD)
    soft = (2.0 * bits - 1.0) + rng.normal(0.0, 1.1, bits.size)
    errors = int(np.count_nonzero((soft > 0) != (bits > 0)))
    assert errors > BCH_T  # the hard decoder cannot fix this word ...
    assert decode_bits((soft > 0).astype(np.uint8)) is None or errors <= BCH_T
    payload, codeword = osd_decode(soft)  # ... the soft one can
    assert payload == PAYLOAD and np.array_equal(codeword, bits)
    with pytest.raises(ValueError):
        osd_decode(np.zeros(10))


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
    keys = [WatermarkKey(bytes([k]) * 32) for k in range(40, 64)]
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


def test_embed_detect_roundtrip(marked: tuple[Path, object]) -> None:
    path, stats = marked
    assert stats.frames == 30
    assert stats.psnr_y_min >= 42.0
    check = detect(media.sample_frames(path, count=32), keys=[OTHER_KEY, KEY])
    assert check.state == WatermarkState.PRESENT
    assert check.payload_id == PAYLOAD.hex and check.version == 1
    assert check.p_value is not None and check.p_value < 1e-12
    assert check.key_id == KEY.key_id
    assert check.bit_accuracy is not None and check.bit_accuracy > 0.9
    assert check.alignment is not None and abs(check.alignment["scale_x"] - 1.0) < 0.02


def test_wrong_key_finds_nothing(marked: tuple[Path, object]) -> None:
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
    marked: tuple[Path, object], tmp_path: Path, name: str, kwargs: dict[str, object]
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
