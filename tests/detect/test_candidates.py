"""Tests for the candidate pixel models: the NumPy inference of the residual network and of
boosted trees against their torch / scikit-learn originals, patch selection, and the
comparison harness on a tiny synthetic set."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from veriframe.detect import features as fx
from veriframe.detect import residual_net as rn
from veriframe.detect.trees import TreeEnsemble


def test_highpass_is_the_pixel_minus_its_3x3_mean() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 256, (2, 9, 11)).astype(np.uint8)
    r = rn.highpass(y)
    assert r.shape == (2, 7, 9)
    x = y.astype(np.float64)
    want = x[0, 3, 4] - x[0, 2:5, 3:6].mean()
    assert r[0, 2, 3] == pytest.approx(np.clip(want, -rn.RESIDUAL_CLIP, rn.RESIDUAL_CLIP)
                                       / rn.RESIDUAL_CLIP, abs=1e-5)
    assert np.abs(r).max() <= 1.0


def test_patches_avoid_flat_tiles_and_are_deterministic() -> None:
    rng = np.random.default_rng(2)
    luma = np.full((10, 256, 320), 128, dtype=np.uint8)
    luma[:, :, :128] = rng.integers(60, 200, (10, 256, 128))  # texture on the left only
    a = rn.select_patches(luma)
    b = rn.select_patches(luma)
    assert a.shape[1:] == (rn.PATCH, rn.PATCH) and 0 < len(a) <= rn.FRAMES * rn.PER_FRAME
    np.testing.assert_array_equal(a, b)
    assert all(p.std() >= rn.FLAT_STD for p in a)
    assert len(rn.select_patches(luma[:, :32, :32])) == 0
    assert len(rn.select_patches(np.full((4, 128, 128), 128, np.uint8))) == 0


def test_numpy_forward_equals_torch() -> None:
    torch = pytest.importorskip("torch")
    from veriframe.detect.lab import cnn

    torch.manual_seed(0)
    net = cnn.build()
    with torch.no_grad():  # larger biases than at init, so every ReLU matters
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    rng = np.random.default_rng(3)
    patches = rng.integers(0, 256, (70, rn.PATCH, rn.PATCH)).astype(np.uint8)
    with torch.no_grad():
        want = net(torch.from_numpy(patches[:, None].astype(np.float32))).numpy()
    exported = cnn.export(net)
    got = exported.patch_logits(patches)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    again = rn.ResidualNet.from_json(json.loads(json.dumps(exported.to_json())))
    np.testing.assert_allclose(again.patch_logits(patches), got, atol=1e-6)


def test_numpy_trees_equal_sklearn() -> None:
    pytest.importorskip("sklearn")
    from veriframe.detect.lab.trees import export_trees, fit_trees

    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 6))
    y = ((x[:, 0] + np.sin(2 * x[:, 1]) + 0.5 * rng.normal(size=400)) > 0).astype(int)
    x[rng.random(x.shape) < 0.05] = np.nan  # missing values take the learned side
    est = fit_trees(x, y, sample_weight=rng.uniform(0.5, 1.5, 400))
    trees = export_trees(est)
    xt = rng.normal(size=(300, 6))
    xt[rng.random(xt.shape) < 0.05] = np.nan
    np.testing.assert_allclose(trees.predict_proba(xt), est.predict_proba(xt)[:, 1],
                               atol=1e-9)
    again = TreeEnsemble.from_json(json.loads(json.dumps(trees.to_json())))
    np.testing.assert_allclose(again.decision(xt), trees.decision(xt), atol=1e-12)


def test_tree_arrays_are_checked() -> None:
    bad = {"feature": [0, -1, -1], "threshold": [0.0, 0.0, 0.0], "missing_left": [1, 0, 0],
           "left": [1, -1, -1], "right": [7, -1, -1], "value": [0.0, 1.0, -1.0],
           "roots": [0], "baseline": 0.0, "depth": 2}
    with pytest.raises(ValueError, match="out of range"):
        TreeEnsemble.from_json(bad)


@pytest.mark.slow
def test_numpy_forward_is_fast_on_a_720p_sample() -> None:
    luma = np.random.default_rng(5).integers(0, 256, (32, 720, 1280)).astype(np.uint8)
    net = rn.random_net((8, 16, 16, 32), (2, 2, 1, 2))
    net.p_synthetic(luma)
    t = time.process_time()
    for _ in range(3):
        net.p_synthetic(luma)
    assert (time.process_time() - t) / 3 < 0.3


def _tiny_data(tmp_path: Path) -> object:
    """96 clips of 8 sources (4 synthetic, 3 real, one with both) with features that
    carry the label in one column and patches whose noise differs by class."""
    from veriframe.detect.lab.candidates import CandidateData
    from veriframe.detect.lab.dataset import Clip, family_groups
    from veriframe.detect.lab.training import Dataset, View

    rng = np.random.default_rng(6)
    clips, labels = [], []
    for s in range(8):
        for i in range(12):
            label = int(s < 4) if s != 7 else i % 2
            clips.append(Clip(path=tmp_path / f"s{s}_{i}.mp4", label=label, group=f"src{s}",
                              generator="CogVideoX" if label else "camera", is_gif=False))
            labels.append(label)
    y = np.array(labels)
    width = len(fx.CLIP_FEATURES)

    def view() -> View:
        x = rng.normal(size=(len(y), width))
        x[:, 0] += 1.5 * y
        meta = rng.normal(size=(len(y), 8))
        quality = np.tile([32, 32, 320, 240, 0.0], (len(y), 1))
        return View(x=x, meta=meta, quality=quality)

    def patches() -> list[np.ndarray]:
        out = []
        for label in y:
            yy, xx = np.mgrid[0:rn.PATCH, 0:rn.PATCH]
            base = 128 + 40 * np.sin(xx / 9.0 + rng.uniform(0, 6, (8, 1, 1))) * np.cos(yy / 13.0)
            noise = rng.normal(0, 0.7 if label else 4.0, base.shape)
            out.append(np.clip(base + noise, 0, 255).astype(np.uint8))
        return out

    ds = Dataset(clips=tuple(clips), y=y, groups=np.array([c.group for c in clips]),
                 family_groups=np.array(family_groups(clips)), orig=view(),
                 augmented=(view(),), normalised=view())
    return CandidateData(ds=ds, patches={"published": patches(), "copy0": patches(),
                                         "normalised": patches()})


@pytest.mark.slow
def test_compare_reports_every_candidate(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from veriframe.detect.lab.candidates import compare, table, timing_table

    data = _tiny_data(tmp_path)
    report = compare(data, protocols=("source",),  # type: ignore[arg-type]
                     folds={"features": 3, "cnn": 3}, n_boot=20, cnn_kw={"max_visits": 6000})
    json.dumps(report, allow_nan=False)
    for row in ("features", "features+meta", "trees", "cnn"):
        for view in ("published", "normalised"):
            s = report["results"][f"{row}/source/{view}"]
            assert s["auc"] is not None and 0.0 <= s["ece"] <= 1.0
            assert 0.0 <= s["abstain_share"] <= 1.0
    assert report["folds"]["trees/source"]["scheme"] == "leave-one-out"
    assert report["folds"]["cnn/source"] == {"scheme": "3-fold", "folds": 3}
    # The class cue is plain in both the features and the patches.
    assert report["results"]["trees/source/published"]["auc"] > 0.6
    assert report["results"]["cnn/source/published"]["auc"] > 0.75
    assert len(report["predictions"]) == 96
    assert "cnn" in table(report) and "trees/source" in timing_table(report)


def test_folds_keep_groups_whole() -> None:
    from veriframe.detect.lab.candidates import fold_of

    keys = np.array(["a", "a", "b", "c", "c", "c", "d"])
    loo = fold_of(keys, None)
    assert len(set(loo.tolist())) == 4
    k2 = fold_of(keys, 2)
    for g in set(keys.tolist()):
        assert len(set(k2[keys == g].tolist())) == 1


def test_merged_keys_join_groups_of_either_kind() -> None:
    from veriframe.detect.lab.candidates import merge_keys

    fam = ["f1", "f1", "f2", "f3", "f4"]
    dup = ["s1", "s2", "s2", "s3", "s4"]
    keys = merge_keys(fam, dup)
    assert keys[0] == keys[1] == keys[2] != keys[3]
    assert len(set(keys.tolist())) == 3
