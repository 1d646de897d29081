"""The tiny-model generation ``veriframe demo`` starts from."""

from __future__ import annotations

from pathlib import Path

from veriframe.generators.base import GenerationRequest, RuntimeOptions
from veriframe.results import SignResult
from veriframe.settings import Settings


def demo_image(dst: Path) -> Path:
    """The shipped example portrait (package data in a wheel, ``examples/assets`` in a
    checkout: the same picture either way), or, if it is missing, the same picture drawn."""
    from veriframe._resources import data_dir

    shipped = data_dir("assets") / "portrait.jpg"
    if shipped.is_file():
        return shipped
    from veriframe.generators.assets import draw_portrait

    draw_portrait().save(dst)
    return dst


def generate_demo_clip(*, output: Path, settings: Settings) -> SignResult:
    """Generate a short clip with ``tiny-wan`` from the example portrait and sign it."""
    from veriframe.generators.generate import generate_video

    out = Path(output)
    image = demo_image(out.parent / ".demo-portrait.jpg")
    request = GenerationRequest(image=image, prompt="a portrait comes to life", seed=7,
                                frames=33, width=320, height=192, steps=2)
    result = generate_video(request, output=out, model="tiny-wan", settings=settings,
                            options=RuntimeOptions(progress=False))
    return result.sign
