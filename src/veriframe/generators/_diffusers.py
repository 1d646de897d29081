"""What every diffusers-backed generator shares: loading, seeding, progress, effects, frames.

Family modules (``wan``, ``cogvideox``, ``svd``, ``hunyuan``) subclass
:class:`DiffusersGenerator` and only say how a request becomes pipeline keyword arguments.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from veriframe.errors import GenerateError
from veriframe.generators.base import (
    GenerationOutput,
    GenerationRequest,
    ModelSpec,
    ProgressFn,
    RuntimeOptions,
    frames_to_uint8,
)
from veriframe.generators.effects import Effect, EffectAdapter, require_lora, sha256_file


class DiffusersGenerator:
    """A :class:`~veriframe.generators.base.Generator` over one diffusers pipeline."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        weights: str | os.PathLike[str] | None = None,
        home: str | os.PathLike[str] | None = None,
        options: RuntimeOptions | None = None,
        catalog: dict[str, Effect] | None = None,
        lora_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.spec = spec
        self.weights = weights
        self.home = home
        self.options = options or RuntimeOptions()
        self.catalog = catalog
        self.lora_dir = lora_dir
        self._pipe: Any = None
        self._adapter: EffectAdapter | None = None
        self.weights_path: Path | None = None
        self.weights_source: str | None = None
        self._extras: dict[str, Any] = {}
        self._base_scheduler: Any = None

    # -- loading -------------------------------------------------------------------------------
    @property
    def pipe(self) -> Any:
        """The loaded pipeline (loaded on first use)."""
        if self._pipe is None:
            from veriframe.generators.loading import call_extras, load_pipeline

            self._pipe, where = load_pipeline(
                self.spec, weights=self.weights, home=self.home, options=self.options
            )
            self.weights_path, self.weights_source = where.path, where.source
            self._extras = call_extras(where.path)
            self._base_scheduler = self._pipe.scheduler
        return self._pipe

    # -- hooks for the families ----------------------------------------------------------------
    def call_kwargs(self, request: GenerationRequest, *, prompt: str | None) -> dict[str, Any]:
        """Pipeline keyword arguments for ``request`` (families override)."""
        raise NotImplementedError

    def needs_image(self) -> bool:
        """Whether the model is conditioned on an input image."""
        return self.spec.task == "i2v"

    # -- generation ----------------------------------------------------------------------------
    def generate(
        self, request: GenerationRequest, *, progress: ProgressFn | None = None
    ) -> GenerationOutput:
        """Run one generation; return RGB uint8 frames and the manifest parameters."""
        import torch

        if self.needs_image() and request.image is None:
            raise GenerateError(
                "generate.image-required", f"{self.spec.id} is image-to-video: give --image",
                "pass a JPEG or PNG with --image",
            )
        effect = self._effect(request)
        pipe = self.pipe
        params: dict[str, Any] = {}
        prompt = request.prompt
        flow_shift = self.spec.flow_shift
        guidance = request.guidance
        if effect is not None:
            lora = require_lora(effect, lora_dir=self.lora_dir)
            strength = request.lora_strength if request.lora_strength is not None else (
                effect.strength)
            if self._adapter is None:
                self._adapter = EffectAdapter(pipe, target_rank=self._target_rank())
            self._adapter.activate(lora, strength=strength)
            prompt = effect.prompt(request.prompt)
            flow_shift = effect.flow_shift
            guidance = guidance if guidance is not None else effect.guidance
            params["effect"] = {
                "name": effect.key, "title": effect.name, "trigger": effect.trigger,
                "lora_repo": effect.repo_id, "lora_file": lora.name,
                "lora_sha256": sha256_file(lora), "lora_strength": strength,
                "catalog_confirmed": effect.confirmed, "licence": effect.licence,
            }
        elif self._adapter is not None:
            self._adapter.deactivate()
        self._set_flow_shift(flow_shift)
        request = _with(request, guidance=guidance)
        kwargs = self.call_kwargs(request, prompt=prompt)
        kwargs.update({k: v for k, v in self._extras.items() if k not in kwargs})
        steps = int(kwargs.get("num_inference_steps", self.spec.steps))
        device = "cpu" if self.options.offload != "none" else str(getattr(pipe, "device", "cpu"))
        # Some pipelines draw from the global RNG too: seed it as well as the generator.
        torch.manual_seed(request.seed)
        kwargs["generator"] = torch.Generator(device=device).manual_seed(request.seed)
        kwargs["output_type"] = "np"
        if progress is not None:
            def _step(_pipe: Any, i: int, _t: Any, cb: dict[str, Any]) -> dict[str, Any]:
                progress("denoise", i + 1, steps)
                return cb

            kwargs["callback_on_step_end"] = _step
            progress("denoise", 0, steps)
        started = time.perf_counter()
        try:
            with torch.inference_mode():
                result = pipe(**kwargs)
        except torch.cuda.OutOfMemoryError as exc:
            raise GenerateError(
                "generate.out-of-memory", f"the GPU ran out of memory: {exc}",
                "try --offload model (or group), --quantize fp8-layerwise, --vae-tiling, "
                "fewer --frames or a smaller size",
            ) from exc
        seconds = time.perf_counter() - started
        frames = frames_to_uint8(result.frames)
        params.update(self._record(kwargs, request))
        return GenerationOutput(
            frames=frames,
            fps=float(request.fps or self.spec.fps),
            model=self.spec.title,
            model_version=self._version(),
            parameters=params,
            prompt=prompt,
            seconds=seconds,
        )

    def _effect(self, request: GenerationRequest) -> Effect | None:
        if not request.effect:
            return None
        from veriframe.generators.effects import get_effect, load_catalog

        if not self.spec.effects:
            raise GenerateError(
                "generate.effect-unsupported",
                f"effects are Wan2.1 I2V LoRAs; {self.spec.id} cannot use them",
                "use --model wan2.1-i2v-480p (or -720p)",
            )
        if self.catalog is None:
            self.catalog = load_catalog()
        return get_effect(request.effect, catalog=self.catalog)

    def _target_rank(self) -> int:
        ranks = [e.rank for e in (self.catalog or {}).values()]
        return max(ranks or [32])

    def _set_flow_shift(self, shift: float | None) -> None:
        base = self._base_scheduler
        if shift is None or base is None:
            return
        cfg = base.config
        key = "flow_shift" if "flow_shift" in cfg else "shift" if "shift" in cfg else None
        if key is None:
            return
        if cfg[key] == shift:
            self._pipe.scheduler = base
        else:
            self._pipe.scheduler = type(base).from_config(cfg, **{key: shift})

    def _version(self) -> str | None:
        if self.spec.tiny:
            return "tiny-random"
        if self.weights_source == "hf-cache" and self.weights_path is not None:
            return f"{self.spec.repo_id}@{self.weights_path.name}"
        return str(self.weights_path) if self.weights_path else None

    def _record(self, kwargs: dict[str, Any], request: GenerationRequest) -> dict[str, Any]:
        """What of the call goes into the manifest (no tensors, no prompt text)."""
        keep: dict[str, Any] = {}
        for key, value in kwargs.items():
            if key in ("image", "prompt", "negative_prompt", "generator", "callback_on_step_end",
                       "output_type"):
                continue
            if isinstance(value, (bool, int, float, str)) or value is None:
                keep[key] = value
            elif isinstance(value, dict):
                keep[key] = {k: v for k, v in value.items() if isinstance(v, (int, float, str))}
        pipe = self._pipe
        keep.update({
            "model_id": self.spec.id,
            "pipeline": type(pipe).__name__,
            "scheduler": type(pipe.scheduler).__name__,
            "seed": request.seed,
            "dtype": str(getattr(pipe, "dtype", "")).replace("torch.", ""),
            "weights_source": self.weights_source,
            "runtime": {"offload": self.options.offload, "quantize": self.options.quantize,
                        "vae_tiling": self.options.vae_tiling,
                        "vae_slicing": self.options.vae_slicing},
        })
        flow = getattr(pipe.scheduler, "config", {})
        for key in ("flow_shift", "shift"):
            if key in flow:
                keep["flow_shift"] = flow[key]
        return keep


def load_image(path: Path, *, width: int, height: int) -> Any:
    """The input image as RGB PIL, resized (cover + centre crop) to ``width`` x ``height``."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            img = ImageOps.exif_transpose(opened).convert("RGB")
    except FileNotFoundError:
        raise GenerateError(
            "generate.image-missing", f"input image {path} does not exist", "check --image"
        ) from None
    except (UnidentifiedImageError, OSError) as exc:
        raise GenerateError(
            "generate.image-unreadable", f"cannot read {path} as an image: {exc}",
            "give a JPEG or PNG",
        ) from None
    return ImageOps.fit(img, (width, height), method=Image.Resampling.LANCZOS)


def _with(request: GenerationRequest, **changes: Any) -> GenerationRequest:
    import dataclasses

    return dataclasses.replace(request, **changes)


def round_frames(n: int, *, temporal: int = 4) -> int:
    """The nearest valid frame count ``temporal * k + 1`` at or above ``n`` (causal 3D VAEs)."""
    n = max(1, int(n))
    return ((n - 1 + temporal - 1) // temporal) * temporal + 1
