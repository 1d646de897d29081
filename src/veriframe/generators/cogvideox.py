"""CogVideoX-5B image-to-video and text-to-video (``CogVideoXImageToVideoPipeline``,
``CogVideoXPipeline``): 49 frames at 8 fps, 720x480."""

from __future__ import annotations

from typing import Any

from veriframe.generators._diffusers import DiffusersGenerator, load_image, round_frames
from veriframe.generators.base import GenerationRequest


class CogVideoXGenerator(DiffusersGenerator):
    """CogVideoX-5B I2V / T2V (and the tiny I2V build, fixed to its built size)."""

    def call_kwargs(self, request: GenerationRequest, *, prompt: str | None) -> dict[str, Any]:
        """Keyword arguments for the CogVideoX pipelines."""
        s = self.spec
        # Learned position embeddings fix the tiny build's size; real models take any.
        width = s.width if s.tiny else request.width or s.width
        height = s.height if s.tiny else request.height or s.height
        kwargs: dict[str, Any] = {
            "prompt": prompt or "",
            "height": height,
            "width": width,
            "num_frames": round_frames(request.frames or s.frames),
            "num_inference_steps": request.steps or s.steps,
            "guidance_scale": request.guidance if request.guidance is not None else s.guidance,
        }
        if "use_dynamic_cfg" in s.call_defaults:
            kwargs["use_dynamic_cfg"] = s.call_defaults["use_dynamic_cfg"]
        if s.task == "i2v":
            assert request.image is not None
            kwargs["image"] = load_image(request.image, width=width, height=height)
        if request.negative_prompt:
            kwargs["negative_prompt"] = request.negative_prompt
        return kwargs
