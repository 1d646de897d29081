"""build_manifest: what the c2pa Builder definition records."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.credentials.conftest import spec_for_tests
from veriframe.credentials.manifest import (
    SOFT_BINDING_ALG,
    TRAINED_ALGORITHMIC_MEDIA,
    build_manifest,
    ingredient_label,
)
from veriframe.errors import CredentialsError


def _assertion(m: dict, label: str) -> dict:
    return next(a["data"] for a in m["assertions"] if a["label"] == label)


def test_created_action_records_model_and_parameters() -> None:
    m = build_manifest(spec_for_tests())
    assert m["claim_generator_info"][0]["name"] == "veriframe"
    assert m["title"] == "clip.mp4" and m["format"] == "video/mp4"
    created = _assertion(m, "c2pa.actions")["actions"][0]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert created["softwareAgent"] == {"name": "Wan2.1-I2V-14B-480P", "version": "2.1"}
    p = created["parameters"]
    assert p["effect"] == "squish" and p["seed"] == 1234 and p["steps"] == 30
    assert p["guidance"] == 5.0


def test_prompt_hashed_unless_recorded() -> None:
    prompt = "a cat squished like a cake"
    hashed = _assertion(build_manifest(spec_for_tests()), "c2pa.actions")["actions"][0]
    assert "prompt" not in hashed["parameters"]
    assert hashed["parameters"]["prompt_sha256"] == hashlib.sha256(prompt.encode()).hexdigest()
    assert prompt not in repr(build_manifest(spec_for_tests()))
    # A prompt passed among the parameters is hashed too (safe by default).
    sneaky = spec_for_tests(prompt=None, parameters={"prompt": "secret words", "seed": 1})
    assert "secret words" not in repr(build_manifest(sneaky))
    recorded = _assertion(build_manifest(spec_for_tests(record_prompt=True)), "c2pa.actions")
    assert recorded["actions"][0]["parameters"]["prompt"] == prompt
    assert "prompt_sha256" not in recorded["actions"][0]["parameters"]


def test_training_mining_not_allowed_by_default() -> None:
    entries = _assertion(build_manifest(spec_for_tests()), "cawg.training-mining")["entries"]
    assert entries and all(v["use"] == "notAllowed" for v in entries.values())
    allowed = build_manifest(spec_for_tests(allow_training=True))
    entries = _assertion(allowed, "cawg.training-mining")["entries"]
    assert all(v["use"] == "allowed" for v in entries.values())


def test_soft_binding_assertion() -> None:
    sb = _assertion(build_manifest(spec_for_tests()), "c2pa.soft-binding")
    assert sb["alg"] == SOFT_BINDING_ALG
    assert sb["blocks"] == [
        {"scope": {"timespan": {"start": 0, "end": 2000}}, "value": "00112233aabbccdd"}
    ]
    assert sb["org.veriframe.frames"] == {"start": 0, "end": 24}
    assert sb["org.veriframe.key_id"] == "0123456789abcdef"
    no_sb = build_manifest(spec_for_tests(soft_binding=None))
    assert all(a["label"] != "c2pa.soft-binding" for a in no_sb["assertions"])


def test_conversion_ingredients_and_extras(tmp_path: Path) -> None:
    img = tmp_path / "input.png"
    m = build_manifest(
        spec_for_tests(
            converted_from="webm",
            input_image=img,
            extra_assertions=({"label": "org.example.note", "data": {"n": 1}},),
        )
    )
    actions = _assertion(m, "c2pa.actions")["actions"]
    assert actions[1]["action"] == "c2pa.transcoded"
    assert actions[1]["parameters"]["from"] == "webm"
    assert actions[0]["parameters"]["ingredientIds"] == [ingredient_label(img)]
    assert _assertion(m, "org.example.note") == {"n": 1}
    with pytest.raises(CredentialsError) as exc:
        build_manifest(spec_for_tests(extra_assertions=({"data": {}},)))
    assert exc.value.code == "manifest.bad-assertion"


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(CredentialsError) as exc:
        build_manifest(spec_for_tests(parameters={"guidance": float("nan")}))
    assert exc.value.code == "manifest.bad-parameters"
