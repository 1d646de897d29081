"""``ProvenancePipeline``: wrap any diffusers video pipeline so every output is marked and signed.

::

    pipe = WanImageToVideoPipeline.from_pretrained(...)
    vf = ProvenancePipeline(pipe, output="clip.mp4", fps=16)
    frames = vf(image=img, prompt="...", generator=torch.Generator().manual_seed(7))

Called like the pipeline, it returns the frames (as the pipeline's own output object) and writes
a watermarked, C2PA-signed MP4 through :func:`veriframe.signing.sign_frames`. The manifest
records the pipeline class, the model id and revision (from ``pipe.config`` /
``name_or_path``), the scheduler class, the seed and the call parameters. Fail closed: when
marking or signing fails, the error is raised and nothing is written, the frames included.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veriframe.generators.base import frames_to_uint8

if TYPE_CHECKING:
    from veriframe.credentials import SigningIdentity
    from veriframe.results import SignResult

_SKIP = {"generator", "callback_on_step_end", "callback_on_step_end_tensor_inputs", "latents",
         "prompt_embeds", "negative_prompt_embeds", "image_embeds", "output_type",
         "return_dict", "prompt", "negative_prompt", "image", "last_image"}


class ProvenancePipeline:
    """A diffusers video pipeline whose every output is watermarked and signed."""

    def __init__(
        self,
        pipe: Any,
        *,
        output: str | os.PathLike[str],
        signer: SigningIdentity | None = None,
        home: str | os.PathLike[str] | None = None,
        passphrase: str | None = None,
        fps: float | None = None,
        model: str | None = None,
        record_prompt: bool = False,
        store: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
    ) -> None:
        self.pipe = pipe
        self.output = Path(output)
        self.signer = signer
        self.home = home
        self.passphrase = passphrase
        self.fps = fps
        self.model = model
        self.record_prompt = record_prompt
        self.store = store
        self.overwrite = overwrite
        self.last_result: SignResult | None = None

    def __getattr__(self, name: str) -> Any:
        # Everything else (enable_model_cpu_offload, load_lora_weights, ...) is the pipeline's.
        if name == "pipe":
            raise AttributeError(name)
        return getattr(self.pipe, name)

    def __call__(self, *args: Any, output: str | os.PathLike[str] | None = None,
                 **kwargs: Any) -> Any:
        """Run the pipeline, then mark and sign its frames into ``output`` (or the default)."""
        from veriframe.credentials import ManifestSpec
        from veriframe.signing import sign_frames

        if args:
            raise TypeError("call ProvenancePipeline with keyword arguments, like the pipeline")
        want = kwargs.get("output_type", "np")
        if want in ("latent", "pt"):
            kwargs["output_type"] = "np"  # we need pixels to sign; returned as np
        else:
            kwargs.setdefault("output_type", "np")
        seed = _seed(kwargs.get("generator"))
        result = self.pipe(**kwargs)
        frames_obj = result.frames if hasattr(result, "frames") else result[0]
        frames = frames_to_uint8(frames_obj)
        params = self.describe(kwargs, seed=seed)
        prompt = kwargs.get("prompt")
        image = kwargs.get("image")
        spec = ManifestSpec(
            title=Path(output or self.output).name,
            model=self.model or params.get("model_id") or type(self.pipe).__name__,
            model_version=params.get("revision"),
            parameters=params,
            prompt=prompt if isinstance(prompt, str) else None,
            record_prompt=self.record_prompt,
            input_image=Path(image) if isinstance(image, (str, os.PathLike)) else None,
        )
        self.last_result = sign_frames(
            frames, fps=float(self.fps or kwargs.get("fps") or _default_fps(self.pipe)),
            output=output or self.output, spec=spec, identity=self.signer, home=self.home,
            passphrase=self.passphrase, store=self.store, overwrite=self.overwrite,
        )
        return result

    def describe(self, kwargs: dict[str, Any], *, seed: int | None) -> dict[str, Any]:
        """The manifest parameters for one call: pipeline, model, scheduler, seed, arguments."""
        pipe = self.pipe
        config = getattr(pipe, "config", {}) or {}
        name = getattr(pipe, "name_or_path", None) or config.get("_name_or_path")
        params: dict[str, Any] = {
            "pipeline": type(pipe).__name__,
            "model_id": str(name) if name else None,
            "revision": _revision(name),
            "scheduler": type(getattr(pipe, "scheduler", None)).__name__,
            "seed": seed,
            "diffusers_version": config.get("_diffusers_version"),
        }
        denoiser = getattr(pipe, "transformer", None) or getattr(pipe, "unet", None)
        if denoiser is not None:
            params["denoiser"] = type(denoiser).__name__
            dtype = getattr(denoiser, "dtype", None)
            params["dtype"] = str(dtype).replace("torch.", "") if dtype is not None else None
        image = kwargs.get("image")
        if image is not None and hasattr(image, "tobytes"):
            params["input_image_sha256"] = hashlib.sha256(image.tobytes()).hexdigest()
        call = {}
        for key, value in kwargs.items():
            if key in _SKIP:
                continue
            if isinstance(value, (bool, int, float, str)) or value is None:
                call[key] = value
        params["call"] = call
        return params


def _seed(generator: Any) -> int | None:
    if generator is None:
        return None
    if isinstance(generator, list):
        generator = generator[0] if generator else None
    initial = getattr(generator, "initial_seed", None)
    return int(initial()) if callable(initial) else None


def _revision(name: Any) -> str | None:
    """The snapshot commit when the pipeline came from the Hugging Face cache."""
    if not name:
        return None
    parts = Path(str(name)).parts
    if "snapshots" in parts:
        i = parts.index("snapshots")
        if i + 1 < len(parts):
            return parts[i + 1]
    return None


def _default_fps(pipe: Any) -> float:
    cls = type(pipe).__name__
    if cls.startswith("Wan"):
        return 16.0
    if cls.startswith("CogVideoX"):
        return 8.0
    if cls.startswith("StableVideo"):
        return 7.0
    if cls.startswith("Hunyuan"):
        return 24.0
    return 16.0
