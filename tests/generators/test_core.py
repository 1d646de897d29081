"""Generation without torch: import hygiene, registry, catalog, errors, CLI listings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from veriframe.errors import GenerateError
from veriframe.generators import get_model, list_models, load_catalog
from veriframe.generators.effects import get_effect, require_lora
from veriframe.generators.loading import require_weights

EFFECTS = ["Assassin", "Jungle", "Pirate Captain", "Baby", "Princess", "Painting", "Warrior",
           "Samurai", "Snow White", "Bride", "Mona Lisa", "Zen", "VIP", "Puppy", "Classy",
           "Disney Princess"]


def test_import_does_not_import_torch() -> None:
    code = ("import sys, veriframe.generators, veriframe._cli.generate; "
            "bad = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_registry_has_every_family() -> None:
    ids = {s.id for s in list_models()}
    assert {"wan2.1-i2v-480p", "wan2.1-i2v-720p", "cogvideox-5b-i2v", "cogvideox-5b", "svd",
            "svd-xt", "hunyuanvideo-i2v", "hunyuanvideo-avatar", "tiny-wan", "tiny-cogvideox",
            "tiny-svd", "tiny-hunyuan"} <= ids
    wan = get_model("wan2.1-i2v-480p")
    assert (wan.frames, wan.fps, wan.width, wan.height) == (81, 16, 832, 480)
    with pytest.raises(GenerateError) as err:
        get_model("sora")
    assert err.value.code == "generate.unknown-model"


def test_catalog_has_the_16_effects() -> None:
    catalog = load_catalog()
    assert sorted(e.name for e in catalog.values()) == sorted(EFFECTS)
    samurai = get_effect("samurai", catalog=catalog)
    assert samurai.trigger == "54mur41 samurai transformation"
    assert (samurai.strength, samurai.guidance, samurai.flow_shift) == (1.0, 6.0, 5.0)
    assert samurai.licence == "Apache-2.0" and samurai.repo_id == "Remade-AI/Samurai"
    assert "54mur41" in samurai.prompt("a woman")
    assert get_effect("Snow White", catalog=catalog).key == "snow-white"
    # Confirmed = repo, weight file and trigger all checked against the model card.
    confirmed = {k for k, e in catalog.items() if e.confirmed}
    assert {"assassin", "jungle", "painting", "warrior", "zen", "puppy"} <= confirmed
    assert all(catalog[k].weight_name and catalog[k].trigger for k in confirmed)
    assert "vip" not in confirmed and "disney-princess" not in confirmed
    with pytest.raises(GenerateError) as err:
        get_effect("ghibli", catalog=catalog)
    assert err.value.code == "generate.unknown-effect"


def test_catalog_override_merges(tmp_path: Path) -> None:
    (tmp_path / "fx.safetensors").write_bytes(b"x")
    toml = tmp_path / "cat.toml"
    toml.write_text('[effects.mine]\nname = "Mine"\npath = "fx.safetensors"\ntrigger = "m1n3"\n'
                    '[effects.samurai]\nconfirmed = true\n')
    catalog = load_catalog(toml)
    assert len(catalog) == 17 and catalog["samurai"].confirmed
    assert require_lora(catalog["mine"]) == (tmp_path / "fx.safetensors").resolve()


def test_weights_missing_gives_the_download_command(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(GenerateError) as err:
        require_weights(get_model("wan2.1-i2v-480p"))
    assert err.value.code == "generate.weights-missing"
    assert "hf download Wan-AI/Wan2.1-I2V-14B-480P-Diffusers" in err.value.hint
    assert "huggingface-cli download" in err.value.hint
    with pytest.raises(GenerateError) as err:
        require_lora(load_catalog()["samurai"])
    assert "hf download Remade-AI/Samurai" in err.value.hint


def test_weights_found_in_hf_cache(tmp_path, monkeypatch) -> None:
    cache = tmp_path / "hub"
    snap = cache / "models--Wan-AI--Wan2.1-I2V-14B-480P-Diffusers" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "model_index.json").write_text("{}")
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    where = require_weights(get_model("wan2.1-i2v-480p"))
    assert where.path == snap and where.source == "hf-cache" and where.revision == "abc123"


def test_cli_lists(capsys, tmp_path, monkeypatch) -> None:
    from veriframe._cli import main

    monkeypatch.setenv("VERIFRAME_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert main(["effects", "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["effects"]) == 16
    assert {e["confirmed"] for e in doc["effects"]} == {True, False}
    assert main(["effects", "list"]) == 0
    assert "(unconfirmed)" in capsys.readouterr().out
    assert main(["models", "list", "--json"]) == 0
    models = {m["id"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert models["svd-xt"]["status"].startswith("missing: hf download")
    assert models["hunyuanvideo-avatar"]["status"].startswith("not configured")


def test_external_unconfigured_and_unknown(tmp_path, monkeypatch, capsys) -> None:
    from veriframe._cli import main

    monkeypatch.setenv("VERIFRAME_HOME", str(tmp_path))
    code = main(["generate", "--model", "hunyuanvideo-avatar", "-o", str(tmp_path / "o.mp4")])
    assert code == 1
    assert "generate.external-unconfigured" in capsys.readouterr().err
    assert not (tmp_path / "o.mp4").exists()


def test_generate_refuses_an_existing_output_before_generating(tmp_path) -> None:
    from veriframe.errors import VeriframeError
    from veriframe.generators.base import GenerationRequest
    from veriframe.generators.generate import generate_video

    class NeverRun:
        def generate(self, request, progress=None):  # pragma: no cover - must not run
            raise AssertionError("generation ran although the output exists")

    out = tmp_path / "clip.mp4"
    out.write_bytes(b"keep me")
    with pytest.raises(VeriframeError) as err:
        generate_video(GenerationRequest(), generator=NeverRun(), output=out)  # type: ignore[arg-type]
    assert err.value.code == "sign.output-exists" and out.read_bytes() == b"keep me"
