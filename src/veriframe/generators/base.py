"""The Generator protocol, the requests and outputs it works with, and the model registry.

Nothing here imports torch or diffusers: ``veriframe models list`` and ``effects list`` work on
the core install. A backend module (``wan``, ``cogvideox``, ``svd``, ``hunyuan``, ``external``)
turns a :class:`ModelSpec` plus a :class:`GenerationRequest` into a :class:`GenerationOutput`
(RGB uint8 frames, fps, what to record in the manifest); :mod:`veriframe.generators.generate`
then marks and signs those frames through :func:`veriframe.signing.sign_frames`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from veriframe.errors import GenerateError

# A progress hook: (stage, completed, total). Stages: "denoise", "encode".
ProgressFn = Callable[[str, int, int], None]

OFFLOAD_CHOICES = ("none", "model", "sequential", "group")
DTYPE_CHOICES = ("auto", "bf16", "fp16", "fp32")
QUANTIZE_CHOICES = ("none", "int8wo", "fp8-layerwise")


@dataclass(frozen=True)
class ModelSpec:
    """One generator the user can name with ``--model``.

    ``pipeline`` is the diffusers class name (looked up lazily), ``repo_id``/``revision`` where
    the weights live on the Hugging Face Hub, ``family`` the backend module that runs it.
    ``tiny`` models are random-weight builds of the same architecture, made offline on first
    use (tests and the demo).
    """

    id: str
    family: str  # wan | cogvideox | svd | hunyuan | external
    title: str
    task: str  # i2v | t2v | avatar
    pipeline: str = ""
    repo_id: str | None = None
    revision: str | None = None
    frames: int = 81
    fps: float = 16.0
    width: int = 832
    height: int = 480
    steps: int = 50
    guidance: float = 5.0
    flow_shift: float | None = None
    weights_gib: float | None = None  # bf16 weight size; peak VRAM without offload is above it
    needs: tuple[str, ...] = ()  # what else it needs: "gpu", "ftfy", "audio", ...
    effects: bool = False  # takes the Remade-AI effect LoRAs
    tiny: bool = False
    licence: str = ""
    notes: str = ""
    call_defaults: Mapping[str, Any] = field(default_factory=dict)  # extra pipeline kwargs

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        out = dataclasses.asdict(self)
        out["needs"] = list(self.needs)
        out["call_defaults"] = dict(self.call_defaults)
        return out


@dataclass(frozen=True)
class RuntimeOptions:
    """How to place and shrink a pipeline: dtype, offloading, quantization, VAE tiling.

    ``offload``: ``model`` (``enable_model_cpu_offload``), ``sequential``
    (``enable_sequential_cpu_offload``), ``group`` (diffusers group offloading, block level)
    need an accelerator. ``quantize``: ``int8wo`` (torchao int8 weight-only on the
    transformer), ``fp8-layerwise`` (weights stored in float8, computed in ``dtype``).
    """

    dtype: str = "auto"
    device: str | None = None  # None: cuda/mps/xpu when present, else cpu
    offload: str = "none"
    quantize: str = "none"
    vae_tiling: bool = False
    vae_slicing: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("dtype", self.dtype, DTYPE_CHOICES),
            ("offload", self.offload, OFFLOAD_CHOICES),
            ("quantize", self.quantize, QUANTIZE_CHOICES),
        ):
            if value not in allowed:
                raise GenerateError(
                    "generate.bad-option",
                    f"--{name} {value!r} is not one of {', '.join(allowed)}",
                    f"choose one of: {', '.join(allowed)}",
                )


@dataclass(frozen=True)
class GenerationRequest:
    """What the user asked for. ``None`` means the model's recommended value."""

    image: Path | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    audio: Path | None = None
    seed: int = 0
    steps: int | None = None
    frames: int | None = None
    width: int | None = None
    height: int | None = None
    guidance: float | None = None
    fps: float | None = None
    effect: str | None = None
    lora_strength: float | None = None
    record_prompt: bool = False


@dataclass(frozen=True)
class GenerationOutput:
    """Frames a backend produced and what the manifest should say about them."""

    frames: np.ndarray | None  # (N, H, W, 3) uint8 RGB; None when ``video`` is given
    fps: float
    model: str
    model_version: str | None
    parameters: Mapping[str, Any]
    prompt: str | None = None
    audio: Path | None = None  # an audio track to keep (copied into the signed MP4)
    seconds: float = 0.0  # wall time of the generation itself
    video: Path | None = None  # a finished video file (external tools) to sign as it is


@runtime_checkable
class Generator(Protocol):
    """A backend: loads its model once, then generates any number of clips."""

    spec: ModelSpec

    def generate(
        self, request: GenerationRequest, *, progress: ProgressFn | None = None
    ) -> GenerationOutput:
        """Run one generation and return RGB uint8 frames (never writes a file)."""
        ...


def frames_to_uint8(frames: Any) -> np.ndarray:
    """A diffusers ``.frames`` result (np float [0,1], uint8, PIL list) as (N,H,W,3) uint8."""
    if isinstance(frames, list) and frames and isinstance(frames[0], list):
        frames = frames[0]  # batch of PIL lists
    if isinstance(frames, list):
        arr = np.stack([np.asarray(f.convert("RGB")) if hasattr(f, "convert") else np.asarray(f)
                        for f in frames])
    else:
        if hasattr(frames, "detach"):  # torch tensor
            frames = frames.detach().float().cpu().numpy()
        arr = np.asarray(frames)
        if arr.ndim == 5:
            arr = arr[0]
        if arr.ndim == 4 and arr.shape[-1] not in (1, 3) and arr.shape[1] in (1, 3):
            arr = np.moveaxis(arr, 1, -1)  # (N,C,H,W) -> (N,H,W,C)
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3):
        raise GenerateError(
            "generate.bad-output",
            f"the pipeline returned frames of shape {arr.shape}, expected (N, H, W, 3)",
            "call the pipeline with output_type='np' (or 'pil')",
        )
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if arr.dtype != np.uint8:
        arr = np.clip(np.nan_to_num(arr.astype(np.float32)) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)
