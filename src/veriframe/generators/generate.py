"""Generate and sign: pick a backend, run it, mark + encode + sign the frames (fail closed).

:func:`make_generator` builds the backend for a model id (keep it to generate many clips with
one loaded model: switching effects hot-swaps the LoRA); :func:`generate_video` runs one
generation and writes the signed MP4 through :func:`veriframe.signing.sign_frames` (or
``sign_video`` for an external tool's finished file). If marking or signing fails nothing is
written and the :class:`~veriframe.errors.VeriframeError` says why.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veriframe.errors import GenerateError
from veriframe.generators.base import (
    GenerationOutput,
    GenerationRequest,
    Generator,
    ProgressFn,
    RuntimeOptions,
)
from veriframe.generators.catalog import get_model

if TYPE_CHECKING:
    from veriframe.credentials import SigningIdentity
    from veriframe.results import SignResult
    from veriframe.settings import Settings


@dataclass(frozen=True)
class GenerateResult:
    """A signed generation: the sign result plus timings and what was recorded."""

    sign: SignResult
    model: str
    seconds_generate: float
    seconds_sign: float
    frames: int
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        from veriframe.results import to_jsonable

        return {
            "output": self.sign.output, "model": self.model, "frames": self.frames,
            "payload_id": self.sign.payload_id, "manifest_label": self.sign.manifest_label,
            "seconds_generate": round(self.seconds_generate, 3),
            "seconds_sign": round(self.seconds_sign, 3),
            "parameters": to_jsonable(self.parameters), "sign": self.sign.to_dict(),
        }


def make_generator(
    model: str,
    *,
    weights: str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
    options: RuntimeOptions | None = None,
    effects_catalog: str | os.PathLike[str] | None = None,
    lora_dir: str | os.PathLike[str] | None = None,
    generators_config: str | os.PathLike[str] | None = None,
) -> Generator:
    """The backend for ``model`` (a built-in id or an ``[external.*]`` tool from the config)."""
    from veriframe.generators.external import ExternalGenerator, external_spec, load_tools

    tools = load_tools(generators_config, home=home)
    if model in tools:
        tool = tools[model]
        return ExternalGenerator(external_spec(tool), tool=tool)
    spec = get_model(model)
    if spec.family == "external":
        raise GenerateError(
            "generate.external-unconfigured",
            f"{spec.id} runs your checkout of its official repository, and no "
            f"[external.{spec.id}] table was found in generators.toml",
            "add one (command template, workdir, python, output_glob): see docs/generation.md",
        )
    catalog = None
    if effects_catalog is not None or spec.effects:
        from veriframe.generators.effects import load_catalog

        catalog = load_catalog(effects_catalog)
    from veriframe.generators._diffusers import DiffusersGenerator

    classes: dict[str, type[DiffusersGenerator]] = {}
    from veriframe.generators.cogvideox import CogVideoXGenerator
    from veriframe.generators.hunyuan import HunyuanGenerator
    from veriframe.generators.svd import SVDGenerator
    from veriframe.generators.wan import WanGenerator

    classes = {"wan": WanGenerator, "cogvideox": CogVideoXGenerator, "svd": SVDGenerator,
               "hunyuan": HunyuanGenerator}
    return classes[spec.family](spec, weights=weights, home=home, options=options,
                                catalog=catalog, lora_dir=lora_dir)


def generate_video(
    request: GenerationRequest,
    *,
    output: str | os.PathLike[str],
    model: str | None = None,
    generator: Generator | None = None,
    weights: str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
    options: RuntimeOptions | None = None,
    effects_catalog: str | os.PathLike[str] | None = None,
    lora_dir: str | os.PathLike[str] | None = None,
    generators_config: str | os.PathLike[str] | None = None,
    identity: SigningIdentity | None = None,
    settings: Settings | None = None,
    passphrase: str | None = None,
    store: str | os.PathLike[str] | None = None,
    progress: ProgressFn | None = None,
    overwrite: bool = False,
) -> GenerateResult:
    """Generate one clip with ``model`` (or a ready ``generator``) and write it signed.

    ``output`` is checked before anything runs: an existing file is refused unless
    ``overwrite``. Keys and store come from ``identity``/``settings`` as in
    :func:`veriframe.signing.sign_video`.
    """
    from veriframe.signing import check_output

    check_output(Path(output), overwrite=overwrite)
    if settings is not None and home is None:
        home = settings.home
    if generator is None:
        if model is None:
            raise ValueError("give model= or generator=")
        generator = make_generator(
            model, weights=weights, home=home, options=options, effects_catalog=effects_catalog,
            lora_dir=lora_dir, generators_config=generators_config,
        )
    if request.audio is not None and not Path(request.audio).is_file():
        raise GenerateError("generate.audio-missing", f"audio {request.audio} does not exist",
                            "check --audio")
    out = generator.generate(request, progress=progress)
    try:
        return sign_output(out, request=request, output=output, identity=identity,
                           settings=settings, home=home, passphrase=passphrase, store=store,
                           progress=progress, overwrite=overwrite)
    finally:
        if out.video is not None and out.video.parent.name.startswith("veriframe-external-"):
            shutil.rmtree(out.video.parent, ignore_errors=True)


def sign_output(
    out: GenerationOutput,
    *,
    request: GenerationRequest,
    output: str | os.PathLike[str],
    identity: SigningIdentity | None = None,
    settings: Settings | None = None,
    home: str | os.PathLike[str] | None = None,
    passphrase: str | None = None,
    store: str | os.PathLike[str] | None = None,
    progress: ProgressFn | None = None,
    overwrite: bool = False,
) -> GenerateResult:
    """Mark, encode and sign a backend's output (fail closed)."""
    from veriframe.credentials import ManifestSpec
    from veriframe.signing import sign_frames, sign_video

    params = dict(out.parameters)
    params.setdefault("frames", None if out.frames is None else int(out.frames.shape[0]))
    params["fps"] = out.fps
    spec = ManifestSpec(
        title=Path(output).name,
        model=out.model,
        model_version=out.model_version,
        parameters=params,
        prompt=out.prompt,
        record_prompt=request.record_prompt,
        input_image=Path(request.image) if request.image is not None else None,
        input_audio=Path(request.audio) if request.audio is not None else None,
    )
    if progress is not None:
        progress("encode", 0, 1)
    started = time.perf_counter()
    frames: Any = out.frames
    if out.video is not None:
        from veriframe import media

        info = media.probe(out.video)
        if info.has_audio or out.audio is None:
            result = sign_video(out.video, output=output, spec=spec, identity=identity,
                                settings=settings, home=home, passphrase=passphrase,
                                store=store, overwrite=overwrite)
            n = int(info.frame_count or 0)
        else:  # the tool wrote a silent video: put the input audio back
            frames = media.read_frames(out.video).rgb
            result = sign_frames(frames, fps=out.fps, output=output, spec=spec,
                                 identity=identity, settings=settings, home=home,
                                 passphrase=passphrase, audio_from=out.audio, store=store,
                                 overwrite=overwrite)
            n = int(frames.shape[0])
    else:
        assert frames is not None
        result = sign_frames(frames, fps=out.fps, output=output, spec=spec, identity=identity,
                             settings=settings, home=home, passphrase=passphrase,
                             audio_from=out.audio, store=store, overwrite=overwrite)
        n = int(frames.shape[0])
    seconds = time.perf_counter() - started
    if progress is not None:
        progress("encode", 1, 1)
    return GenerateResult(sign=result, model=out.model, seconds_generate=out.seconds,
                          seconds_sign=seconds, frames=n, parameters=params)
