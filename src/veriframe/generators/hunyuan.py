"""HunyuanVideo image-to-video with ``HunyuanVideoImageToVideoPipeline`` (129 frames, 24 fps,
1280x720). HunyuanVideo-Avatar has no diffusers support: see :mod:`.external`."""

from __future__ import annotations

from typing import Any

from veriframe.generators._diffusers import DiffusersGenerator, load_image, round_frames
from veriframe.generators.base import GenerationRequest


class HunyuanGenerator(DiffusersGenerator):
    """HunyuanVideo I2V (and the tiny build, whose prompt template sits beside its weights)."""

    def call_kwargs(self, request: GenerationRequest, *, prompt: str | None) -> dict[str, Any]:
        """Keyword arguments for ``HunyuanVideoImageToVideoPipeline.__call__``."""
        s = self.spec
        width, height = request.width or s.width, request.height or s.height
        assert request.image is not None
        return {
            "image": load_image(request.image, width=width, height=height),
            "prompt": prompt or "",
            "height": height,
            "width": width,
            "num_frames": round_frames(request.frames or s.frames),
            "num_inference_steps": request.steps or s.steps,
            "guidance_scale": request.guidance if request.guidance is not None else s.guidance,
        }
