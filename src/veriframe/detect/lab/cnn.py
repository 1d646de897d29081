"""The residual-patch network in the lab: patches of every clip version (cached), training
from scratch on CPU with torch, and the export to
:class:`veriframe.detect.residual_net.ResidualNet`.

Patches come from the sample the runtime decodes (:func:`decode_luma`: ``sample_runs`` with
:data:`~veriframe.detect.features.SAMPLE_COUNT` frames, luma only) and are cut by
:func:`veriframe.detect.residual_net.select_patches`, so training and scoring see the same
kind of patch. They are cached as uint8 ``.npz`` per clip and version under
``cache_dir/patches``, keyed by the file, the version (published, a platform copy, the
normalised copy), the patch settings and :func:`sample_key` (the feature version, the sample
size and the decoder's source), so a change to the runtime sample invalidates them.

The network (:func:`build`) is the fixed high-pass residual, then 3x3 convolutions with ReLU
(:data:`CHANNELS`, :data:`STRIDES`), global average pooling and one linear unit: a logit per
patch; a clip's raw score is its mean patch logit. :func:`fit` trains it on the platform
copies' patches (as the feature model is trained), every clip weighted like the feature
model's rows, and calibrates it (Platt, class- and source-balanced, prior added once) on the
published clips and copies of sources held out of its training (:data:`CALIB_SHARE` of the
training sources). Torch is imported inside the functions that need it.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from veriframe.detect import features as fx
from veriframe.detect import residual_net as rn
from veriframe.detect.lab import augment
from veriframe.detect.lab.augment import TranscodeSpec
from veriframe.detect.lab.dataset import Clip
from veriframe.errors import DetectorError, VeriframeError

CHANNELS = (8, 16, 16, 32)
STRIDES = (2, 2, 1, 2)
EPOCHS = 4
MAX_PATCH_VISITS = 200_000  # bounds training time (about 1 ms per patch visit on one core)
BATCH = 128
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4
CALIB_SHARE = 0.2  # share of the training sources kept out of training, for the calibration
PATCH_SETTINGS = (rn.PATCH, rn.FRAMES, rn.PER_FRAME, rn.FLAT_STD, rn.CLIPPED_SHARE)

Progress = Callable[[int, int, Clip], None]


@lru_cache(maxsize=1)
def sample_key() -> str:
    """What the runtime sample depends on: the feature version, the sample size and the
    decoder's source (so caches go stale when any of them changes)."""
    from veriframe.media import decode

    src = Path(decode.__file__).read_bytes()
    raw = f"v{fx.FEATURE_VERSION}|n{fx.SAMPLE_COUNT}|{hashlib.sha256(src).hexdigest()}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def decode_luma(path: Path) -> np.ndarray:
    """The luma frames (N, H, W) of the sample the runtime decodes of ``path``."""
    from veriframe.media import probe, sample_runs

    info = probe(path)
    sample = sample_runs(path, count=fx.SAMPLE_COUNT, info=info, rgb=False, luma=True)
    assert sample.luma is not None
    return sample.luma


def _identity(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def _variant(spec: TranscodeSpec | None) -> str:
    return "orig" if spec is None else f"spec-{spec.key()}"


def clip_patches(
    clips: Sequence[Clip],
    *,
    cache_dir: Path,
    transform: TranscodeSpec | Callable[[Clip], TranscodeSpec] | None = None,
    training: bool = False,
    progress: Progress | None = None,
) -> list[np.ndarray]:
    """The uint8 patches (P, S, S) of every clip as it is or of its ``transform`` (a spec or
    a function giving one per clip; transcodes shared with the feature cache under
    ``cache_dir``). ``training``: patch positions drawn per clip and version (platform copies
    the network learns from) instead of the runtime's fixed seed."""
    folder = cache_dir / "patches"
    folder.mkdir(parents=True, exist_ok=True)
    out: list[np.ndarray] = []
    for i, clip in enumerate(clips):
        if progress is not None:
            progress(i, len(clips), clip)
        spec = transform(clip) if callable(transform) else transform
        variant = _variant(spec)
        try:
            ident = _identity(clip.path)
        except OSError as exc:
            raise DetectorError("detector.bad-dataset", f"cannot read {clip.path}: {exc}",
                                "check the dataset's file paths") from None
        seed_text = f"{clip.path.name}|{variant}" if training else ""
        raw = f"{ident}|{variant}|{sample_key()}|{PATCH_SETTINGS}|{seed_text}"
        key = hashlib.sha256(raw.encode()).hexdigest()[:32]
        cached = folder / f"{key}.npz"
        if cached.is_file():
            with np.load(cached, allow_pickle=False) as z:
                out.append(z["patches"])
            continue
        seed = (int.from_bytes(hashlib.sha256(seed_text.encode()).digest()[:4], "little")
                if training else rn.RUNTIME_SEED)
        try:
            src = clip.path if spec is None else augment.apply(clip.path, spec,
                                                               cache_dir=cache_dir)
            patches = rn.select_patches(decode_luma(src), seed=seed)
        except VeriframeError as exc:
            raise DetectorError("detector.bad-clip",
                                f"cannot cut patches of {clip.path}: {exc.message}",
                                exc.hint or "remove the clip from the dataset") from None
        tmp = cached.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, patches=patches)
        os.replace(tmp, cached)
        out.append(patches)
    return out


# ------------------------------------------------------------------------------ torch
def build(channels: Sequence[int] = CHANNELS, strides: Sequence[int] = STRIDES) -> Any:
    """The network as a torch module: uint8-valued float patches (B, 1, S, S) -> logits (B,)."""
    import torch
    from torch import nn

    class HighPass(nn.Module):
        """:func:`veriframe.detect.residual_net.highpass` in torch (fixed)."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            box = nn.functional.avg_pool2d(x, 3, stride=1)
            r = x[..., 1:-1, 1:-1] - box
            return torch.clamp(r, -rn.RESIDUAL_CLIP, rn.RESIDUAL_CLIP) / rn.RESIDUAL_CLIP

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.highpass = HighPass()
            layers: list[nn.Module] = []
            c_in = 1
            for c, s in zip(channels, strides, strict=True):
                layers += [nn.Conv2d(c_in, c, 3, stride=s), nn.ReLU()]
                c_in = c
            self.convs = nn.Sequential(*layers)
            self.head = nn.Linear(c_in, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.convs(self.highpass(x))
            return self.head(h.mean(dim=(2, 3)))[:, 0]

    return Net()


def export(net: Any, *, slope: float = 1.0, intercept: float = 0.0) -> rn.ResidualNet:
    """A trained :func:`build` module as NumPy arrays, with its Platt calibration."""
    from torch import nn

    convs = []
    for layer in net.convs:
        if isinstance(layer, nn.Conv2d):
            bias = layer.bias
            assert bias is not None
            convs.append((layer.weight.detach().cpu().numpy().astype(np.float32),
                          bias.detach().cpu().numpy().astype(np.float32),
                          int(layer.stride[0])))
    head = net.head
    return rn.ResidualNet(convs=tuple(convs),
                          head_w=head.weight.detach().cpu().numpy()[0].astype(np.float64),
                          head_b=float(head.bias.detach().cpu().numpy()[0]),
                          platt_slope=slope, platt_intercept=intercept)


def train_net(patches: Sequence[np.ndarray], y: np.ndarray, weights: np.ndarray, *,
              epochs: int = EPOCHS, max_visits: int = MAX_PATCH_VISITS, seed: int = 0,
              channels: Sequence[int] = CHANNELS, strides: Sequence[int] = STRIDES) -> Any:
    """Train :func:`build` on the patches of clips with labels ``y`` and clip ``weights``
    (each clip's weight spread over its patches); one thread, Adam, random horizontal
    flips. At most ``max_visits`` patch visits in all."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    counts = np.array([len(p) for p in patches])
    keep = counts > 0
    x = np.concatenate([p for p, k in zip(patches, keep, strict=True) if k])
    py = np.repeat(np.asarray(y, dtype=np.float32)[keep], counts[keep])
    pw = np.repeat((np.asarray(weights, dtype=np.float64)[keep] / counts[keep]), counts[keep])
    pw = (pw / pw.mean()).astype(np.float32)
    net = build(channels, strides)
    opt = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    total = min(epochs * len(x), max_visits)
    steps = max(1, total // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LEARNING_RATE, total_steps=steps)
    order = np.zeros(0, dtype=np.int64)
    net.train()
    for _ in range(steps):
        if len(order) < BATCH:
            order = np.concatenate([order, rng.permutation(len(x))])
        idx, order = order[:BATCH], order[BATCH:]
        xb = x[idx].astype(np.float32)
        flip = rng.random(len(idx)) < 0.5
        xb[flip] = xb[flip][:, :, ::-1]
        xt = torch.from_numpy(np.ascontiguousarray(xb[:, None]))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            net(xt), torch.from_numpy(py[idx]), weight=torch.from_numpy(pw[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    net.eval()
    return net


def clip_logits(net: rn.ResidualNet, patches: Sequence[np.ndarray]) -> np.ndarray:
    """Mean patch logit of every clip (NaN for a clip without patches), NumPy forward."""
    return np.array([net.clip_logit(p) for p in patches])


def _calib_split(y: np.ndarray, groups: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A mask of the clips whose sources are kept out of training for the calibration:
    about ``share`` of the sources of each class mix (all-real, all-synthetic, both)."""
    rng = np.random.default_rng(seed)
    names = sorted(set(groups.tolist()))
    kind = {g: (int(y[groups == g].min()), int(y[groups == g].max())) for g in names}
    held: set[str] = set()
    for k in sorted(set(kind.values())):
        members = [g for g in names if kind[g] == k]
        n = round(share * len(members))
        if n and len(members) > 1:
            held.update(rng.choice(members, size=n, replace=False).tolist())
    return np.array([g in held for g in groups])


def fit(train_patches: Sequence[Sequence[np.ndarray]],
        calib_patches: Sequence[Sequence[np.ndarray]], y: np.ndarray, groups: np.ndarray, *,
        prior: float, seed: int = 0, **train_kw: Any) -> rn.ResidualNet:
    """Train and calibrate a network on the clips ``y``/``groups``.

    ``train_patches``: per training view (the platform copies), the patches of every clip;
    ``calib_patches``: per calibration view (published and copies). The network learns from
    the training views of the sources outside a :func:`_calib_split`; the Platt calibration
    (class- and source-balanced, prior log-odds of ``prior`` added) from the calibration
    views of the held sources.
    """
    from veriframe.detect.lab.training import group_weights
    from veriframe.detect.lab.trees import fit_platt

    y = np.asarray(y)
    groups = np.asarray(groups)
    held = _calib_split(y, groups, CALIB_SHARE, seed)
    if len(np.unique(y[held])) < 2 or len(np.unique(y[~held])) < 2:
        held = np.zeros(len(y), dtype=bool)
    tr = ~held
    k = len(train_patches)
    pats = [p for view in train_patches for p, t in zip(view, tr, strict=True) if t]
    w = np.tile(group_weights(y[tr], groups[tr]), k) / k
    net = export(train_net(pats, np.tile(y[tr], k), w, seed=seed, **train_kw))
    cal = held if held.any() else np.ones(len(y), dtype=bool)
    z = np.concatenate([clip_logits(net, [p for p, c in zip(view, cal, strict=True) if c])
                        for view in calib_patches])
    yc = np.tile(y[cal], len(calib_patches))
    gc = np.tile(groups[cal], len(calib_patches))
    ok = np.isfinite(z)
    slope, icpt = fit_platt(z[ok], yc[ok], group_weights(yc[ok], gc[ok]))
    prior = min(max(prior, 1e-3), 1 - 1e-3)
    return rn.ResidualNet(convs=net.convs, head_w=net.head_w, head_b=net.head_b,
                          platt_slope=slope, platt_intercept=icpt + math.log(prior / (1 - prior)))


def p_of(net: rn.ResidualNet, patches: Sequence[np.ndarray]) -> np.ndarray:
    """Calibrated p of every clip (NaN without patches)."""
    z = clip_logits(net, patches)
    t = np.clip(net.platt_slope * z + net.platt_intercept, -50.0, 50.0)
    return np.asarray(1.0 / (1.0 + np.exp(-t)))


__all__ = ["CHANNELS", "EPOCHS", "STRIDES", "build", "clip_patches", "decode_luma", "export",
           "fit", "p_of", "sample_key", "train_net"]
