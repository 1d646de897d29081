"""Wan2.1 image-to-video (480p / 720p) with diffusers ``WanImageToVideoPipeline``.

81 frames at 16 fps, 832x480 (or 1280x720). Takes the Remade-AI effect LoRAs (``--effect``).
Frame counts are rounded up to 4k+1 (the causal VAE's temporal stride).
"""

from __future__ import annotations

from typing import Any

from veriframe.generators._diffusers import DiffusersGenerator, load_image, round_frames
from veriframe.generators.base import GenerationRequest


class WanGenerator(DiffusersGenerator):
    """Wan2.1 I2V 14B (and its tiny build)."""

    def call_kwargs(self, request: GenerationRequest, *, prompt: str | None) -> dict[str, Any]:
        """Keyword arguments for ``WanImageToVideoPipeline.__call__``."""
        s = self.spec
        width, height = request.width or s.width, request.height or s.height
        assert request.image is not None
        kwargs: dict[str, Any] = {
            "image": load_image(request.image, width=width, height=height),
            "prompt": prompt or "",
            "height": height,
            "width": width,
            "num_frames": round_frames(request.frames or s.frames),
            "num_inference_steps": request.steps or s.steps,
            "guidance_scale": request.guidance if request.guidance is not None else s.guidance,
        }
        negative = request.negative_prompt or s.call_defaults.get("negative_prompt")
        if negative:
            kwargs["negative_prompt"] = negative
        return kwargs
