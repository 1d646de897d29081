"""Tests for veriframe.detect: features, metadata and provenance signals, models, CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.clipgen import make_clip
from veriframe.detect import features as fx
from veriframe.detect.metadata import METADATA_FEATURES, match_format, metadata_evidence
from veriframe.detect.model import Detector
from veriframe.detect.training import (
    TOP_K_CHOICES,
    Matrix,
    auc,
    ece,
    fit,
    group_weights,
    rank_features,
    single_feature_oof_auc,
    train,
    within_source_table,
)
from veriframe.errors import DetectorError
from veriframe.results import (
    CredentialCheck,
    CredentialState,
    KnownMark,
    WatermarkCheck,
    WatermarkState,
)

REPO = Path(__file__).resolve().parents[2]
AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


@dataclass
class FakeInfo:
    width: int = 320
    height: int = 240
    fps: float = 30.0
    frame_count: int = 300
    duration: float = 10.0
    has_audio: bool = True
    encoder: str | None = "Lavf61.1.100"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeSample:
    rgb: np.ndarray
    luma: np.ndarray | None
    indices: tuple[int, ...]
    timestamps: tuple[float, ...]
    info: Any


def _sample(seed: int = 0, n: int = 6, h: int = 96, w: int = 128, smooth: bool = False,
            info: Any = None) -> FakeSample:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    frames = []
    for i in range(n):
        base = 120 + 50 * np.sin(xx / 9.0 + i / 3) * np.cos(yy / 13.0)
        noise = rng.normal(0, 1.0 if smooth else 10.0, (h, w, 3))
        frames.append(np.clip(base[..., None] + noise, 0, 255).astype(np.uint8))
    rgb = np.stack(frames)
    return FakeSample(rgb=rgb, luma=None, indices=tuple(range(0, 2 * n, 2)),
                      timestamps=tuple(i / 15 for i in range(0, 2 * n, 2)),
                      info=info or FakeInfo())


# ------------------------------------------------------------------ features
def test_features_shape_and_determinism() -> None:
    s = _sample()
    a = fx.extract(s)
    b = fx.extract(s)
    assert a.frames.shape == (6, len(fx.FRAME_FEATURES))
    assert a.pooled.shape == (len(fx.POOLED_FEATURES),)
    assert a.clip_vector().shape == (len(fx.CLIP_FEATURES),)
    assert a.frame_vectors().shape == (6, len(fx.CLIP_FEATURES))
    assert np.array_equal(a.clip_vector(), b.clip_vector())
    assert np.isfinite(a.clip_vector()).all()


def test_features_see_pixels() -> None:
    noisy = fx.extract(_sample(smooth=False)).clip_vector()
    smooth = fx.extract(_sample(smooth=True)).clip_vector()
    for name in ("fs_noise_mean", "flat_res_mean", "fs_flat_res_mean"):
        i = fx.CLIP_FEATURES.index(name)
        assert noisy[i] > smooth[i] + 0.3, name  # log10 noise level: ~10x more noise


def test_features_bounded_frames_and_small_frames() -> None:
    feats = fx.extract(_sample(n=40), max_frames=8)
    assert feats.frames.shape[0] == 8
    with pytest.raises(ValueError):
        fx.extract(_sample(h=20, w=20))


def test_family_columns_cover_features() -> None:
    cols = sorted(c for fam in fx.FAMILIES for c in fx.family_columns(fam))
    assert cols == list(range(len(fx.CLIP_FEATURES)))


def test_area_resampling_shrinks_and_preserves_mean() -> None:
    for n_in, n_out in ((720, 256), (1280, 455), (300, 256), (10, 3)):
        a = fx.area_matrix(n_in, n_out)
        assert a.shape == (n_out, n_in)
        assert np.allclose(np.asarray(a.sum(axis=1)).ravel(), 1.0, atol=1e-5)
    with pytest.raises(ValueError):
        fx.area_matrix(100, 200)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 256, (720, 1280)).astype(np.uint8)
    s = fx.fixed_scale(y)
    assert s.shape == (256, 455)
    assert abs(float(s.mean()) - float(y.mean())) < 0.5
    small = rng.integers(0, 256, (144, 176)).astype(np.uint8)
    assert fx.fixed_scale(small).shape == (144, 176)  # never enlarged
    assert np.allclose(fx.fixed_scale(np.full((600, 800), 77, np.uint8)), 77.0, atol=1e-3)


def test_fixed_scale_features_ignore_resolution() -> None:
    # The same picture at twice the size (each pixel doubled) gives the same fixed-scale
    # picture, so the fixed-scale features agree: they encode content, not resolution.
    rng = np.random.default_rng(3)
    base = np.clip(120 + rng.normal(0, 12, (4, 288, 512, 3)), 0, 255).astype(np.uint8)
    big = base.repeat(2, axis=1).repeat(2, axis=2)
    cols = [i for i, n in enumerate(fx.CLIP_FEATURES) if n.startswith("fs_")]
    a = fx.extract(FakeSample(rgb=base, luma=None, indices=(0, 1, 2, 3),
                              timestamps=(0.0, 0.1, 0.2, 0.3), info=None)).clip_vector()
    b = fx.extract(FakeSample(rgb=big, luma=None, indices=(0, 1, 2, 3),
                              timestamps=(0.0, 0.1, 0.2, 0.3), info=None)).clip_vector()
    assert np.allclose(a[cols], b[cols], atol=0.02)


def test_immerkaer_noise_estimate() -> None:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:256, 0:256].astype(np.float32)
    ramp = 0.3 * xx + 0.2 * yy  # a linear ramp has no noise
    assert fx.immerkaer_sigma(ramp) < 1e-3
    for sigma in (2.0, 8.0):
        est = fx.immerkaer_sigma(ramp + rng.normal(0, sigma, ramp.shape).astype(np.float32))
        assert abs(est - sigma) < 0.1 * sigma


def test_grid_peaks_see_period_four_pattern() -> None:
    n = 256
    rng = np.random.default_rng(2)
    spec = rng.uniform(0.9, 1.1, (n, n))
    flat = fx.grid_peaks(spec)
    spec[n // 4, n // 4] = spec[3 * n // 4, n // 4] = 1000.0  # off-axis period-4 peaks
    peaked = fx.grid_peaks(spec)
    names = [p for p in fx.POOLED_FEATURES if p.startswith("grid")]
    i_off, i_axis = names.index("grid4_off"), names.index("grid4_axis")
    assert peaked[i_off] > flat[i_off] + 1.0
    assert abs(peaked[i_axis] - flat[i_axis]) < 1e-9
    # and from pixels: a period-4 checker added to noise raises the off-axis period-4 peak
    yy, xx = np.mgrid[0:192, 0:192]
    checker = 6.0 * np.sign(np.sin(np.pi * (xx + 0.5) / 2) * np.sin(np.pi * (yy + 0.5) / 2))
    frames = rng.normal(120, 5, (4, 192, 192, 1))
    plain = np.clip(frames.repeat(3, -1), 0, 255).astype(np.uint8)
    grid = np.clip((frames + checker[None, :, :, None]).repeat(3, -1), 0, 255).astype(np.uint8)
    j = fx.CLIP_FEATURES.index("grid4_off")
    ts = (0.0, 0.1, 0.2, 0.3)
    a = fx.extract(FakeSample(rgb=plain, luma=None, indices=(0, 1, 2, 3), timestamps=ts,
                              info=None)).clip_vector()[j]
    b = fx.extract(FakeSample(rgb=grid, luma=None, indices=(0, 1, 2, 3), timestamps=ts,
                              info=None)).clip_vector()[j]
    assert b > a + 1.0


def test_temporal_residual_correlation() -> None:
    rng = np.random.default_rng(4)
    still = np.clip(rng.normal(120, 10, (1, 96, 128, 3)), 0, 255).astype(np.uint8)
    same = FakeSample(rgb=still.repeat(4, axis=0), luma=None, indices=(0, 1, 2, 3),
                      timestamps=(0.0, 0.1, 0.2, 0.3), info=None)
    fresh = FakeSample(rgb=np.clip(rng.normal(120, 10, (4, 96, 128, 3)), 0, 255)
                       .astype(np.uint8), luma=None, indices=(0, 1, 2, 3),
                       timestamps=(0.0, 0.1, 0.2, 0.3), info=None)
    j = fx.CLIP_FEATURES.index("t_res_corr")
    assert fx.extract(same).clip_vector()[j] > 0.99
    assert abs(fx.extract(fresh).clip_vector()[j]) < 0.1


# ------------------------------------------------------------------ metadata
def test_metadata_fires_on_cogvideox_format(clip_dir: Path) -> None:
    from veriframe.media import probe

    cog = make_clip(clip_dir / "cog_like.mp4", seconds=49 / 8, width=240, height=160, fps=8,
                    audio=False)
    cam = make_clip(clip_dir / "cam_like.mp4", seconds=10.0, width=240, height=160, fps=30,
                    audio=True)
    ev_cog = metadata_evidence(probe(cog))
    ev_cam = metadata_evidence(probe(cam))
    names = list(METADATA_FEATURES)
    assert ev_cog.vector[names.index("meta_frames_4k1")] == 1.0
    assert ev_cog.vector[names.index("meta_fps_low")] == 1.0
    assert ev_cam.vector[names.index("meta_frames_4k1")] == 0.0
    assert ev_cam.vector[names.index("meta_fps_low")] == 0.0
    # the shipped model turns those into a higher metadata-driven score
    det = Detector.load("default")
    s_cog = det.score_file(cog)
    s_cam = det.score_file(cam)
    meta_cog = {s.name: s for s in s_cog.signals if s.kind == "metadata"}
    meta_cam = {s.name: s for s in s_cam.signals if s.kind == "metadata"}
    assert meta_cog["frames_4k1"].p_synthetic > 0.5 > meta_cam["frames_4k1"].p_synthetic
    assert s_cog.p_synthetic > s_cam.p_synthetic


def test_exact_format_match_and_tool_tags() -> None:
    assert match_format(width=720, height=480, fps=8.0, frames=49) == (1.0, "CogVideoX 1.0")
    assert match_format(width=1920, height=1080, fps=30.0, frames=300)[0] == 0.0
    ev = metadata_evidence(FakeInfo(tags={"workflow": '{"3": {"class_type": "KSampler"}}'}))
    assert ev.tool_tags == ("workflow",)
    assert metadata_evidence(FakeInfo(tags={"title": "holiday"})).tool_tags == ()


# ------------------------------------------------------------------ models
def _toy_matrix(n_groups: int = 4, per: int = 6) -> Matrix:
    rng = np.random.default_rng(1)
    rows, meta, y, groups = [], [], [], []
    for g in range(n_groups):
        for i in range(per):
            label = i % 2
            rows.append(rng.normal(0, 1, len(fx.CLIP_FEATURES)) + 1.5 * label)
            meta.append(rng.integers(0, 2, len(METADATA_FEATURES)).astype(float))
            y.append(label)
            groups.append(f"src{g}")
    return Matrix(np.array(rows), np.array(meta), np.array(y), np.array(groups))


def test_group_weights_balance_sources_and_classes() -> None:
    y = np.array([0] * 10 + [0] * 2 + [1] * 3 + [1] * 1)
    g = np.array(["a"] * 10 + ["b"] * 2 + ["c"] * 3 + ["d"])
    w = group_weights(y, g)
    assert np.isclose(w[y == 0].sum(), w[y == 1].sum())
    assert np.isclose(w[g == "a"].sum(), w[g == "b"].sum())
    assert np.isclose(w[g == "c"].sum(), w[g == "d"].sum())
    assert np.isclose(w.mean(), 1.0)


def test_rank_features_and_fit_keep_the_informative_column() -> None:
    rng = np.random.default_rng(5)
    m = _toy_matrix(n_groups=5)
    noise = rng.normal(0, 1, m.forensic.shape)
    j = 7
    noise[:, j] += 3.0 * m.y  # only column j carries the label
    m = Matrix(noise, m.meta, m.y, m.groups)
    order, ranking = rank_features(m)
    assert order[0] == j
    assert ranking[0][0] == fx.CLIP_FEATURES[j] and ranking[0][1] > 0.9
    det = fit(m)
    assert j in det.columns and len(det.columns) in TOP_K_CHOICES
    assert det.info["forensic_nested_oof_auc"] > 0.9
    fixed = fit(m, top_k=2)
    assert len(fixed.columns) == 2 and j in fixed.columns


def test_vectorised_single_feature_auc_matches_sklearn() -> None:
    from veriframe.detect.training import _fit_forensic, _univariate_logreg

    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 80)
    g = rng.integers(0, 5, 80).astype(str)
    x = rng.normal(0, 1, (80, 3)) + y[:, None] * np.array([0.0, 1.0, -2.0])
    w = group_weights(y, g)
    coef, icpt, _, _ = _univariate_logreg(x, y, w)
    for j in range(3):
        lr = _fit_forensic(x[:, [j]], y, g, 1.0).steps[-1][1]
        assert abs(coef[j] - lr.coef_[0, 0]) < 1e-3
        assert abs(icpt[j] - lr.intercept_[0]) < 1e-3
    scores = single_feature_oof_auc(x, y, g)
    assert scores.shape == (3,)
    assert scores[2] > 0.8 and scores[1] > 0.6


def test_within_source_table() -> None:
    rows = [{"source": "a/b", "n": 4, "n_synthetic": 2, "auc_forensic": 0.75, "auc_all": 1.0}]
    text = within_source_table(rows)
    assert "| a/b | 4 | 2 | 0.750 | 1.000 |" in text


def test_fit_with_augmentation_uses_both_copies() -> None:
    m = _toy_matrix(n_groups=4)
    rng = np.random.default_rng(7)
    copy = Matrix(m.forensic + rng.normal(0, 0.1, m.forensic.shape), m.meta, m.y, m.groups)
    det = fit(m, augment=copy)
    assert det.info["augmented"] is True
    assert det.info["n_clips"] == len(m.y)
    assert m.stack(copy).forensic.shape == (2 * len(m.y), m.forensic.shape[1])
    assert auc(m.y, det.forensic_p(m.forensic)) > 0.9


def test_fit_learns_separable_toy_data(tmp_path: Path) -> None:
    m = _toy_matrix()
    det = fit(m)
    p = det.forensic_p(m.forensic)
    assert auc(m.y, p) > 0.9
    det.save(tmp_path / "toy")
    again = Detector.load(tmp_path / "toy")
    assert np.allclose(again.forensic_p(m.forensic), p)
    assert again.columns == det.columns


def test_missing_model() -> None:
    with pytest.raises(DetectorError) as exc:
        Detector.load("no-such-detector")
    assert exc.value.code == "detector.not-found"


def test_train_on_tiny_synthetic_dataset(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for g in range(3):
        make_clip(data / "real" / f"cam{g}__a.mp4", seconds=1.0, width=128, height=96, fps=12,
                  audio=False, seed=g)
        make_clip(data / "synthetic" / f"gen{g}__a.mp4", seconds=1.0, width=128, height=96,
                  fps=8, audio=False, seed=10 + g)
    out = tmp_path / "models" / "tiny"
    det = train(data=data, out=out, cache_dir=tmp_path / "cache")
    assert (out / "model.json").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["summary"]) == {"forensic", "all"}
    card = (out / "card.md").read_text()
    assert "Known failure modes" in card and "Licences" in card
    loaded = Detector.load(out)
    check = loaded.score_file(data / "synthetic" / "gen0__a.mp4")
    assert check.state == "scored" and 0.0 <= check.p_synthetic <= 1.0
    assert det.info["n_clips"] == 6


def test_metrics_helpers() -> None:
    y = np.array([0, 0, 1, 1])
    assert auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert auc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert ece(y, np.array([0.0, 0.0, 1.0, 1.0])) == 0.0
    assert ece(y, np.array([0.9, 0.9, 0.9, 0.9])) == pytest.approx(0.4)


# ------------------------------------------------------------------ shipped model + fusion
def test_default_model_scores_a_clip(small_clip: Path) -> None:
    det = Detector.load("default")
    check = det.score_file(small_clip)
    assert check.state == "scored" and check.model == "default"
    assert 0.0 <= check.p_synthetic <= 1.0
    kinds = {s.kind for s in check.signals}
    assert {"forensic", "metadata"} <= kinds
    assert check.frame_scores and all(0 <= f.p_synthetic <= 1 for f in check.frame_scores)
    ts = [f.timestamp for f in check.frame_scores]
    assert ts == sorted(ts)
    off = det.score_file(small_clip, use_metadata=False)
    assert not off.used_metadata and {s.kind for s in off.signals} == {"forensic"}
    json.dumps(check.to_dict())


def test_provenance_dominates() -> None:
    det = Detector.load("default")
    sample = _sample(info=FakeInfo())
    base = det.score(sample)
    cred = CredentialCheck(state=CredentialState.VALID, digital_source_type=AI)
    ai = det.score(sample, credentials=cred)
    assert ai.p_synthetic >= 0.99
    top = ai.signals[0]
    assert top.kind == "provenance" and top.value == "trainedAlgorithmicMedia"
    if base.p_synthetic < 0.99:
        assert top.weight == 1.0
        assert all(s.weight == 0.0 for s in ai.signals[1:])
    # an invalid manifest's claim does not count
    bad = CredentialCheck(state=CredentialState.INVALID, digital_source_type=AI)
    assert det.score(sample, credentials=bad).p_synthetic == base.p_synthetic
    # a trusted capture claim caps; an untrusted one is shown but does not count
    cap = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
    trusted = det.score(sample, credentials=CredentialCheck(state=CredentialState.TRUSTED,
                                                            digital_source_type=cap))
    assert trusted.p_synthetic <= 0.10
    untrusted = det.score(sample, credentials=CredentialCheck(state=CredentialState.VALID,
                                                              digital_source_type=cap))
    assert untrusted.p_synthetic == base.p_synthetic
    # a known generator mark at a tiny p-value is decisive
    mark = KnownMark(name="stability-sdxl", method="dwtDct", matching_bits=47, total_bits=48,
                     p_value=1e-12, frames=8)
    wm = WatermarkCheck(state=WatermarkState.ABSENT, known_generator_marks=(mark,))
    assert det.score(sample, watermark=wm).p_synthetic >= 0.99


def test_cli_detect_json(small_clip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from veriframe.cli import main

    assert main(["detect", str(small_clip), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["detection"]["state"] == "scored"
    assert main(["detect", str(small_clip), "--json", "--model", "nope"]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "detector.not-found"
