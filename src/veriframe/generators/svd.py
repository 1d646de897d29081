"""Stable Video Diffusion (SVD 14 frames, SVD-XT 25 frames) with
``StableVideoDiffusionPipeline``: image only, no prompt; 1024x576."""

from __future__ import annotations

from typing import Any

from veriframe.generators._diffusers import DiffusersGenerator, load_image
from veriframe.generators.base import GenerationRequest


class SVDGenerator(DiffusersGenerator):
    """SVD / SVD-XT (and the tiny build). ``guidance`` is the maximum guidance scale."""

    def call_kwargs(self, request: GenerationRequest, *, prompt: str | None) -> dict[str, Any]:
        """Keyword arguments for ``StableVideoDiffusionPipeline.__call__``."""
        s = self.spec
        width, height = request.width or s.width, request.height or s.height
        assert request.image is not None
        frames = request.frames or s.frames
        fps = request.fps or s.fps
        return {
            "image": load_image(request.image, width=width, height=height),
            "height": height,
            "width": width,
            "num_frames": frames,
            "num_inference_steps": request.steps or s.steps,
            "min_guidance_scale": 1.0,
            "max_guidance_scale": request.guidance if request.guidance is not None else s.guidance,
            "fps": round(fps),
            "motion_bucket_id": 127,
            "noise_aug_strength": 0.02,
            "decode_chunk_size": int(s.call_defaults.get("decode_chunk_size", 8)),
        }
