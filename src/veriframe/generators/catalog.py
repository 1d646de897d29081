"""The model registry, filled with the built-in table: real open models and their tiny
offline builds.

Sizes are the bf16 weight sizes measured on the published checkpoints (see docs/generation.md);
without offloading, peak GPU memory is above them (activations, the VAE decode).
"""

from __future__ import annotations

from veriframe.errors import GenerateError
from veriframe.generators.base import ModelSpec

_WAN_NEG = (
    "blurry, low quality, static, overexposed, worst quality, jpeg artifacts, deformed, "
    "disfigured, extra fingers, messy background, walking backwards"
)

BUILTIN_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="wan2.1-i2v-480p", family="wan", title="Wan2.1-I2V-14B-480P", task="i2v",
        pipeline="WanImageToVideoPipeline", repo_id="Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
        frames=81, fps=16, width=832, height=480, steps=40, guidance=5.0, flow_shift=3.0,
        weights_gib=42.6, needs=("gpu", "ftfy"), effects=True, licence="Apache-2.0",
        notes="the Remade-AI effect LoRAs were trained on this model",
        call_defaults={"negative_prompt": _WAN_NEG},
    ),
    ModelSpec(
        id="wan2.1-i2v-720p", family="wan", title="Wan2.1-I2V-14B-720P", task="i2v",
        pipeline="WanImageToVideoPipeline", repo_id="Wan-AI/Wan2.1-I2V-14B-720P-Diffusers",
        frames=81, fps=16, width=1280, height=720, steps=40, guidance=5.0, flow_shift=5.0,
        weights_gib=42.6, needs=("gpu", "ftfy"), effects=True, licence="Apache-2.0",
        call_defaults={"negative_prompt": _WAN_NEG},
    ),
    ModelSpec(
        id="cogvideox-5b-i2v", family="cogvideox", title="CogVideoX-5B-I2V", task="i2v",
        pipeline="CogVideoXImageToVideoPipeline", repo_id="THUDM/CogVideoX-5b-I2V",
        frames=49, fps=8, width=720, height=480, steps=50, guidance=6.0,
        weights_gib=19.5, needs=("gpu",), licence="CogVideoX LICENSE (transformer)",
        call_defaults={"use_dynamic_cfg": True},
    ),
    ModelSpec(
        id="cogvideox-5b", family="cogvideox", title="CogVideoX-5B (text to video)", task="t2v",
        pipeline="CogVideoXPipeline", repo_id="THUDM/CogVideoX-5b",
        frames=49, fps=8, width=720, height=480, steps=50, guidance=6.0,
        weights_gib=19.5, needs=("gpu",), licence="CogVideoX LICENSE (transformer)",
        call_defaults={"use_dynamic_cfg": True},
    ),
    ModelSpec(
        id="svd", family="svd", title="Stable Video Diffusion (14 frames)", task="i2v",
        pipeline="StableVideoDiffusionPipeline",
        repo_id="stabilityai/stable-video-diffusion-img2vid",
        frames=14, fps=7, width=1024, height=576, steps=25, guidance=3.0,
        weights_gib=4.2, needs=("gpu",), licence="Stability AI Community (gated on the Hub)",
        call_defaults={"decode_chunk_size": 8},
    ),
    ModelSpec(
        id="svd-xt", family="svd", title="Stable Video Diffusion XT (25 frames)", task="i2v",
        pipeline="StableVideoDiffusionPipeline",
        repo_id="stabilityai/stable-video-diffusion-img2vid-xt",
        frames=25, fps=7, width=1024, height=576, steps=25, guidance=3.0,
        weights_gib=4.2, needs=("gpu",), licence="Stability AI Community (gated on the Hub)",
        call_defaults={"decode_chunk_size": 8},
    ),
    ModelSpec(
        id="hunyuanvideo-i2v", family="hunyuan", title="HunyuanVideo-I2V", task="i2v",
        pipeline="HunyuanVideoImageToVideoPipeline",
        repo_id="hunyuanvideo-community/HunyuanVideo-I2V",
        frames=129, fps=24, width=1280, height=720, steps=50, guidance=1.0,
        weights_gib=41.0, needs=("gpu",), licence="Tencent Hunyuan Community License",
    ),
    ModelSpec(
        id="hunyuanvideo-avatar", family="external", title="HunyuanVideo-Avatar", task="avatar",
        frames=129, fps=25, width=704, height=704, steps=50, guidance=7.5,
        needs=("gpu", "external checkout", "audio"), licence="Tencent Hunyuan Community License",
        notes="runs your checkout of Tencent-Hunyuan/HunyuanVideo-Avatar in its own environment; "
        "configure it in generators.toml (see docs/generation.md)",
    ),
    # Tiny random-weight builds of the same architectures (tests, the demo, benchmarks).
    ModelSpec(
        id="tiny-wan", family="wan", title="tiny random-weight Wan2.1 I2V", task="i2v",
        pipeline="WanImageToVideoPipeline", frames=9, fps=16, width=128, height=128, steps=2,
        guidance=6.0, flow_shift=5.0, effects=True, tiny=True,
        notes="built offline on first use; output is noise-like",
    ),
    ModelSpec(
        id="tiny-cogvideox", family="cogvideox", title="tiny random-weight CogVideoX I2V",
        task="i2v", pipeline="CogVideoXImageToVideoPipeline", frames=9, fps=8, width=128,
        height=128, steps=2, guidance=6.0, tiny=True, notes="built offline on first use",
    ),
    ModelSpec(
        id="tiny-svd", family="svd", title="tiny random-weight SVD", task="i2v",
        pipeline="StableVideoDiffusionPipeline", frames=4, fps=7, width=128, height=128, steps=2,
        guidance=3.0, tiny=True, notes="built offline on first use",
        call_defaults={"decode_chunk_size": 4},
    ),
    ModelSpec(
        id="tiny-hunyuan", family="hunyuan", title="tiny random-weight HunyuanVideo I2V",
        task="i2v", pipeline="HunyuanVideoImageToVideoPipeline", frames=9, fps=24, width=128,
        height=128, steps=2, guidance=1.0, tiny=True, notes="built offline on first use",
    ),
)


_REGISTRY: dict[str, ModelSpec] = {spec.id: spec for spec in BUILTIN_MODELS}


def register_model(spec: ModelSpec, *, replace: bool = False) -> None:
    """Add ``spec`` to the registry (``replace`` to overwrite an existing id)."""
    if spec.id in _REGISTRY and not replace:
        raise ValueError(f"model id {spec.id!r} is already registered")
    _REGISTRY[spec.id] = spec


def list_models() -> list[ModelSpec]:
    """Every registered model, real ones first, then the tiny builds."""
    return sorted(_REGISTRY.values(), key=lambda s: (s.tiny, s.family, s.id))


def get_model(model_id: str) -> ModelSpec:
    """The spec called ``model_id``; :class:`GenerateError` ``generate.unknown-model`` if none."""
    spec = _REGISTRY.get(model_id.lower())
    if spec is None:
        known = ", ".join(s.id for s in list_models())
        raise GenerateError(
            "generate.unknown-model",
            f"no model called {model_id!r}",
            f"run `veriframe models list`; known: {known}",
        )
    return spec
