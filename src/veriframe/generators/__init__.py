"""Generation backends whose every output is watermarked and signed.

Importing this package does not import torch or diffusers; backends import them when they load
a model. See docs/generation.md.
"""

from __future__ import annotations

from veriframe.generators.base import (
    GenerationOutput,
    GenerationRequest,
    Generator,
    ModelSpec,
    RuntimeOptions,
)
from veriframe.generators.catalog import get_model, list_models, register_model
from veriframe.generators.effects import Effect, get_effect, load_catalog
from veriframe.generators.generate import GenerateResult, generate_video, make_generator
from veriframe.generators.pipeline import ProvenancePipeline

__all__ = [
    "Effect",
    "GenerateResult",
    "GenerationOutput",
    "GenerationRequest",
    "Generator",
    "ModelSpec",
    "ProvenancePipeline",
    "RuntimeOptions",
    "generate_video",
    "get_effect",
    "get_model",
    "list_models",
    "load_catalog",
    "make_generator",
    "register_model",
]
