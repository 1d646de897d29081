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
from veriframe.detect.lab.dataset import Clip, family_groups
from veriframe.detect.lab.metrics import auc, ece
from veriframe.detect.lab.training import (
    Dataset,
    Recipe,
    View,
    fit,
    group_weights,
    grouped_folds,
    rank_features,
    single_feature_oof_auc,
)
from veriframe.detect.lab.workflow import train
from veriframe.detect.metadata import METADATA_FEATURES, match_format, metadata_evidence
from veriframe.detect.model import Detector
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
def _toy_dataset(n_groups: int = 4, per: int = 6, copies: int = 0, seed: int = 1,
                 informative: int | None = None) -> Dataset:
    """Random clips: every source holds both classes; with ``informative`` only that column
    carries the label, otherwise every column does a little."""
    rng = np.random.default_rng(seed)
    p, m = len(fx.CLIP_FEATURES), len(METADATA_FEATURES)
    y = np.array([i % 2 for _ in range(n_groups) for i in range(per)])
    groups = np.array([f"src{g}" for g in range(n_groups) for _ in range(per)])
    shift = np.zeros(p)
    if informative is None:
        shift[:] = 1.5
    else:
        shift[informative] = 3.0

    def view() -> View:
        x = rng.normal(0, 1, (len(y), p)) + y[:, None] * shift
        quality = np.tile([32, 32, 640, 360, 0.0], (len(y), 1)).astype(float)
        return View(x=x, meta=rng.integers(0, 2, (len(y), m)).astype(float), quality=quality)

    clips = tuple(Clip(path=Path(f"{g}_{i}.mp4"), label=int(lab), group=str(g),
                       generator="toy" if lab else "camera", is_gif=False)
                  for i, (lab, g) in enumerate(zip(y, groups, strict=True)))
    return Dataset(clips=clips, y=y, groups=groups, family_groups=groups.copy(), orig=view(),
                   augmented=tuple(view() for _ in range(copies)), normalised=view())


def test_group_weights_balance_sources_and_classes() -> None:
    y = np.array([0] * 10 + [0] * 2 + [1] * 3 + [1] * 1)
    g = np.array(["a"] * 10 + ["b"] * 2 + ["c"] * 3 + ["d"])
    w = group_weights(y, g)
    assert np.isclose(w[y == 0].sum(), w[y == 1].sum())
    assert np.isclose(w[g == "a"].sum(), w[g == "b"].sum())
    assert np.isclose(w[g == "c"].sum(), w[g == "d"].sum())
    assert np.isclose(w.mean(), 1.0)


def test_grouped_folds_keep_groups_whole_and_balanced() -> None:
    g = np.array(["a"] * 9 + ["b"] * 5 + ["c"] * 4 + ["d"] * 3 + ["e"] * 2)
    folds = grouped_folds(g, 3)
    for name in "abcde":
        assert len(set(folds[g == name])) == 1
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 4 and len(sizes) == 3


def test_rank_features_and_fit_keep_the_informative_column() -> None:
    j = 7
    ds = _toy_dataset(n_groups=5, informative=j)
    order, ranking = rank_features(ds.orig.x, ds.y, ds.groups)
    assert order[0] == j
    assert ranking[0][0] == fx.CLIP_FEATURES[j] and ranking[0][1] > 0.9
    det = fit(ds, recipe=Recipe(k_grid=(1, 5), c_grid=(0.1, 1.0), inner_folds=3))
    assert j in det.columns and len(det.columns) in (1, 5)
    assert det.info["inner_oof_auc"] > 0.9
    assert det.info["calibrator_slope"] > 0


def test_vectorised_single_feature_auc_matches_sklearn() -> None:
    from veriframe.detect.lab.training import _fit_forensic, _univariate_logreg

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
    assert np.allclose(scores, [auc(y, s) for s in _oof_columns(x, y, g)])


def _oof_columns(x: np.ndarray, y: np.ndarray, g: np.ndarray) -> list[np.ndarray]:
    from veriframe.detect.lab.training import _univariate_logreg

    out = np.zeros(x.shape)
    for name in np.unique(g):
        te = g == name
        coef, icpt, mean, scale = _univariate_logreg(x[~te], y[~te],
                                                     group_weights(y[~te], g[~te]))
        out[te] = (x[te] - mean) / scale * coef + icpt
    return [out[:, j] for j in range(x.shape[1])]


def test_pixel_model_learns_from_the_copies_only() -> None:
    ds = _toy_dataset(n_groups=4, copies=2)
    # Published clips carry no signal at all: a model trained on them could not rank.
    flat = View(x=np.zeros_like(ds.orig.x), meta=ds.orig.meta, quality=ds.orig.quality)
    ds = Dataset(clips=ds.clips, y=ds.y, groups=ds.groups, family_groups=ds.family_groups,
                 orig=flat, augmented=ds.augmented, normalised=ds.normalised)
    det = fit(ds, recipe=Recipe(k_grid=(0,), c_grid=(0.1,), inner_folds=4))
    assert det.info["n_rows_pixel_model"] == 2 * len(ds.y)
    assert det.info["n_rows_calibration"] == 3 * len(ds.y)
    assert auc(ds.y, det.forensic_p(ds.augmented[0].x)) > 0.9


def test_fit_exports_numbers_and_round_trips(tmp_path: Path) -> None:
    ds = _toy_dataset()
    det = fit(ds, recipe=Recipe(k_grid=(5, 0), c_grid=(0.1,), inner_folds=4))
    p = det.forensic_p(ds.orig.x)
    assert auc(ds.y, p) > 0.9
    assert det.abstain.ood is not None and det.abstain.ood.threshold > 0
    det.save(tmp_path / "toy")
    again = Detector.load(tmp_path / "toy")
    assert np.array_equal(again.forensic_p(ds.orig.x), p)
    assert again.columns == det.columns


def test_cross_validation_never_trains_on_the_held_out_source(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from veriframe.detect.lab import evaluation

    ds = _toy_dataset(n_groups=4, copies=1)
    seen: list[set[str]] = []
    real_fit = evaluation.fit

    def spy(train: Dataset, **kw: Any) -> Detector:
        seen.append(set(train.groups.tolist()))
        return real_fit(train, **kw)

    monkeypatch.setattr(evaluation, "fit", spy)
    fs = evaluation.cross_validate(ds, "loso", recipe=Recipe(k_grid=(0,), c_grid=(0.1,),
                                                             inner_folds=3))
    assert [sorted({"src0", "src1", "src2", "src3"} - s) for s in seen] == [
        ["src0"], ["src1"], ["src2"], ["src3"]]
    for key in (("published", "pixels"), ("normalised", "all")):
        assert np.isfinite(fs.p[key]).all()


def test_family_groups_keep_families_together() -> None:
    def clip(gen: str, label: int, group: str) -> Clip:
        return Clip(path=Path(f"{group}-{gen}.mp4"), label=label, group=group, generator=gen,
                    is_gif=False)

    clips = [clip("CogVideoX", 1, "a/one"), clip("camera", 0, "a/one"),
             clip("CogVideoX (SAT)", 1, "b/two"), clip("unknown", 1, "b/two"),
             clip("Open-Sora-Plan v0", 1, "c/three"), clip("OpenAI Sora", 1, "d/four"),
             clip("camera", 0, "e/five")]
    assert [c.family for c in clips] == ["CogVideoX", "real", "CogVideoX", "unknown (b/two)",
                                         "Open-Sora-Plan", "Sora", "real"]
    groups = family_groups(clips)
    assert groups[0] == groups[1] == groups[2] == groups[3]
    assert groups[4] != groups[5] and groups[6] == "e/five"


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
    recipe = Recipe(k_grid=(5,), c_grid=(0.1,), inner_folds=3)
    det = train(data=data, out=out, cache_dir=tmp_path / "cache", copies=1, recipe=recipe)
    assert (out / "model.json").is_file()
    assert len(list((tmp_path / "cache" / "transcodes").glob("*.mp4"))) == 12  # copy + norm
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"loso/published/pixels", "loso/normalised/all", "logo/published/all"} <= set(
        metrics["summary"])
    assert metrics["summary"]["loso/published/pixels"]["n"] == 6
    card = (out / "card.md").read_text()
    assert "Known failure modes" in card and "Licences" in card and "inconclusive" in card
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
    from veriframe._cli import main

    assert main(["detect", str(small_clip), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["detection"]["state"] == "scored"
    assert main(["detect", str(small_clip), "--json", "--model", "nope"]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "detector.not-found"


# ------------------------------------------------------------------ abstention
def _animation(n: int = 12, h: int = 270, w: int = 480) -> FakeSample:
    """Flat mid-tone shapes sliding over a flat background: a cartoon or a slide deck."""
    frames = np.empty((n, h, w, 3), dtype=np.uint8)
    for i in range(n):
        f = np.empty((h, w, 3), dtype=np.uint8)
        f[:] = (90, 150, 200)
        f[40:140, 30 + 8 * i : 160 + 8 * i] = (230, 200, 60)
        f[150:250, 300 - 6 * i : 420 - 6 * i] = (30, 60, 40)
        frames[i] = f
    return FakeSample(rgb=frames, luma=None, indices=tuple(range(n)),
                      timestamps=tuple(i / 10 for i in range(n)), info=FakeInfo())


def test_sample_quality_sees_flat_pictures_and_repeated_frames() -> None:
    anim = fx.extract(_animation()).quality
    assert anim is not None and anim.flat_fraction > 0.6
    camera = fx.extract(_sample(n=12, h=270, w=480)).quality
    assert camera is not None and camera.flat_fraction < 0.05 and camera.distinct == 12
    # a frame-rate up-conversion repeats frames: each one counted once
    rep = _sample(n=4, h=96, w=128)
    doubled = FakeSample(rgb=rep.rgb.repeat(3, axis=0), luma=None, indices=tuple(range(12)),
                         timestamps=tuple(i / 30 for i in range(12)), info=FakeInfo())
    q = fx.extract(doubled).quality
    assert q is not None and (q.frames, q.distinct) == (12, 4)


def test_block_match_finds_a_shift() -> None:
    rng = np.random.default_rng(9)
    a = ndimage_smooth(rng.normal(0, 20, (96, 160)))
    b = np.roll(a, (2, -3), axis=(0, 1))
    vy, vx, best, zero = fx.block_match(a, b)
    inner = (slice(1, -1), slice(1, -1))
    assert np.median(vy[inner]) == 2 and np.median(vx[inner]) == -3
    assert float(best[inner].mean()) < 0.1 * float(zero[inner].mean())
    vy0, vx0, _, _ = fx.block_match(a, a)
    assert not vy0.any() and not vx0.any()


def ndimage_smooth(x: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return np.asarray(ndimage.gaussian_filter(x, 2.0) + 128.0, dtype=np.float32)


def test_detector_abstains_out_of_its_depth() -> None:
    ds = _toy_dataset(n_groups=4, copies=1)
    det = fit(ds, recipe=Recipe(k_grid=(0,), c_grid=(0.1,), inner_folds=4))
    q = fx.SampleQuality(frames=32, distinct=32, width=640, height=360, flat_fraction=0.0)
    inside = ds.orig.x[:1]
    assert det.out_of_depth(q, inside) is None
    short = fx.SampleQuality(frames=5, distinct=5, width=640, height=360, flat_fraction=0.0)
    assert "too short" in (det.out_of_depth(short, inside) or "")
    tiny = fx.SampleQuality(frames=32, distinct=32, width=120, height=96, flat_fraction=0.0)
    assert "too small" in (det.out_of_depth(tiny, inside) or "")
    flat = fx.SampleQuality(frames=32, distinct=32, width=640, height=360, flat_fraction=0.7)
    assert "animation" in (det.out_of_depth(flat, inside) or "")
    far = inside + 50.0
    assert "unlike the clips" in (det.out_of_depth(q, far) or "")
    assert det.uncertain(0.5) and det.uncertain(0.9) is None and det.uncertain(0.1) is None


def test_scoring_an_animation_is_inconclusive_and_provenance_still_decides() -> None:
    ds = _toy_dataset(n_groups=4, copies=1)
    det = fit(ds, recipe=Recipe(k_grid=(0,), c_grid=(0.1,), inner_folds=4))
    check = det.score(_animation())
    assert check.state == "scored" and check.inconclusive
    assert "animation" in check.inconclusive
    assert check.to_dict()["inconclusive"] == check.inconclusive
    cred = CredentialCheck(state=CredentialState.VALID, digital_source_type=AI)
    decided = det.score(_animation(), credentials=cred)
    assert decided.p_synthetic >= 0.99 and decided.inconclusive is None
