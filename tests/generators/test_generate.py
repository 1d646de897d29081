"""Tiny random-weight models through the real loader, effects, guards, signing (needs torch)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.generators.conftest import PORTRAIT, needs_generate
from veriframe.errors import GenerateError
from veriframe.generators import GenerationRequest, RuntimeOptions, make_generator

pytestmark = [pytest.mark.generate, needs_generate]

SMALL = {"image": PORTRAIT, "prompt": "a portrait", "seed": 3, "width": 64, "height": 64}


@pytest.mark.parametrize(
    ("model", "frames", "pipeline"),
    [("tiny-wan", 5, "WanImageToVideoPipeline"),
     ("tiny-cogvideox", 9, "CogVideoXImageToVideoPipeline"),
     ("tiny-svd", 3, "StableVideoDiffusionPipeline"),
     ("tiny-hunyuan", 5, "HunyuanVideoImageToVideoPipeline")],
)
def test_tiny_build_loads_through_the_loader(model, frames, pipeline, tiny_home) -> None:
    gen = make_generator(model, home=tiny_home)
    req = GenerationRequest(**{**SMALL, "frames": frames})
    out = gen.generate(req)
    assert out.frames is not None and out.frames.dtype == np.uint8
    assert out.frames.ndim == 4 and out.frames.shape[-1] == 3
    assert out.parameters["pipeline"] == pipeline and out.parameters["seed"] == 3
    assert out.parameters["weights_source"] == "tiny"
    assert (tiny_home / "models" / model / "model_index.json").is_file()
    again = gen.generate(req)
    assert np.array_equal(out.frames, again.frames)  # seeded: reproducible


def test_effect_lora_hotswap_and_unload(tiny_wan_dir, tmp_path) -> None:
    from tests.generators.helpers import make_wan_lora

    make_wan_lora(tiny_wan_dir, tmp_path / "lora" / "one.safetensors", seed=1)
    make_wan_lora(tiny_wan_dir, tmp_path / "lora" / "two.safetensors", seed=2)
    catalog = tmp_path / "effects.toml"
    catalog.write_text(textwrap.dedent("""
        [effects.one]
        name = "One"
        path = "lora/one.safetensors"
        trigger = "0n3 effect"
        rank = 4
        [effects.two]
        name = "Two"
        path = "lora/two.safetensors"
        trigger = "tw0 effect"
        rank = 4
    """))
    gen = make_generator("tiny-wan", weights=tiny_wan_dir, effects_catalog=catalog)
    req = GenerationRequest(**{**SMALL, "frames": 5})
    base = gen.generate(req).frames
    one = gen.generate(GenerationRequest(**{**SMALL, "frames": 5, "effect": "one"}))
    assert one.frames is not None and base is not None
    assert np.abs(one.frames.astype(int) - base).max() > 0
    fx = one.parameters["effect"]
    assert fx["name"] == "one" and fx["trigger"] == "0n3 effect" and len(fx["lora_sha256"]) == 64
    assert "0n3 effect" in (one.prompt or "")
    assert one.parameters["flow_shift"] == 5.0
    two = gen.generate(GenerationRequest(**{**SMALL, "frames": 5, "effect": "two"})).frames
    assert np.abs(two.astype(int) - one.frames).max() > 0  # hot-swapped, not stacked
    assert np.array_equal(gen.generate(req).frames, base)  # disabled: base output
    gen._adapter.unload()  # type: ignore[attr-defined]
    assert np.array_equal(gen.generate(req).frames, base)  # unloaded: base output


def test_accelerator_only_options_are_guarded_on_cpu(tiny_home) -> None:
    from veriframe.generators.loading import accelerator

    if accelerator() is not None:
        pytest.skip("an accelerator is present")
    for opts in (RuntimeOptions(offload="model"), RuntimeOptions(offload="group"),
                 RuntimeOptions(dtype="fp16"), RuntimeOptions(device="cuda")):
        gen = make_generator("tiny-wan", home=tiny_home, options=opts)
        with pytest.raises(GenerateError) as err:
            gen.generate(GenerationRequest(**SMALL))
        assert err.value.code == "generate.needs-accelerator"
        assert "GPU" in err.value.message


def test_int8_without_torchao_is_a_clear_error(tiny_home, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torchao", None)
    gen = make_generator("tiny-wan", home=tiny_home, options=RuntimeOptions(quantize="int8wo"))
    with pytest.raises(GenerateError) as err:
        gen.generate(GenerationRequest(**SMALL))
    assert err.value.code == "generate.missing-dependency" and "torchao" in err.value.hint


def test_fp8_layerwise_runs_on_cpu(tiny_wan_dir) -> None:
    gen = make_generator("tiny-wan", weights=tiny_wan_dir,
                         options=RuntimeOptions(quantize="fp8-layerwise", vae_slicing=True))
    out = gen.generate(GenerationRequest(**{**SMALL, "frames": 5}))
    assert out.parameters["runtime"]["quantize"] == "fp8-layerwise"


def test_generate_cli_end_to_end_signed(keys_home, tiny_home, tmp_path, capsys) -> None:
    import json

    from veriframe._cli import main
    from veriframe.credentials.read import read_credentials
    from veriframe.credentials.trust import TrustConfig

    out = tmp_path / "clip.mp4"
    code = main(["generate", "--model", "tiny-wan", "--image", str(PORTRAIT), "--prompt",
                 "hello", "--seed", "5", "--steps", "2", "--frames", "9", "--width", "96",
                 "--height", "96", "--weights", str(tiny_home / "models" / "tiny-wan"),
                 "-o", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = json.loads(captured.out)
    assert doc["frames"] == 9 and doc["payload_id"]
    creds = read_credentials(out, trust=TrustConfig.load(home=keys_home))
    assert creds.state.value in ("valid", "trusted"), creds.failures
    assert "tiny random-weight Wan2.1 I2V" in str(creds.manifest)


def test_generate_fails_closed(vf_home, tiny_home, tmp_path) -> None:
    from veriframe.errors import VeriframeError
    from veriframe.generators.generate import generate_video

    out = tmp_path / "clip.mp4"  # no keys in vf_home: signing must fail, nothing written
    gen = make_generator("tiny-wan", weights=tiny_home / "models" / "tiny-wan")
    with pytest.raises(VeriframeError):
        generate_video(GenerationRequest(**{**SMALL, "frames": 5}), generator=gen, output=out,
                       home=vf_home)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_external_command_backend_keeps_audio(keys_home, tmp_path) -> None:
    from veriframe import media
    from veriframe.generators.generate import generate_video

    script = tmp_path / "tool.py"
    repo = Path(__file__).resolve().parents[2]
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(repo)!r})
        from pathlib import Path
        from tests.clipgen import make_clip
        out = Path(sys.argv[sys.argv.index("--save-path") + 1])
        make_clip(out / "result" / "avatar.mp4", seconds=1.0, width=160, height=128, fps=25)
    """))
    config = tmp_path / "generators.toml"
    config.write_text(textwrap.dedent(f"""
        [external.fake-avatar]
        title = "Fake Avatar"
        model_version = "1.2.3"
        command = ["{{python}}", {str(script)!r}, "--image", "{{image}}", "--audio",
                   "{{audio}}", "--prompt", "{{prompt}}", "--save-path", "{{output_dir}}"]
        python = {sys.executable!r}
        output_glob = "**/*.mp4"
        fps = 25
        needs = ["image", "audio"]
    """))
    audio = tmp_path / "voice.m4a"
    from tests.clipgen import make_clip

    make_clip(audio.with_suffix(".mp4"), seconds=1.0, width=64, height=64, fps=10)
    out = tmp_path / "signed.mp4"
    gen = make_generator("fake-avatar", generators_config=config)
    result = generate_video(
        GenerationRequest(image=PORTRAIT, audio=audio.with_suffix(".mp4"), prompt="secret words",
                          seed=9), generator=gen, output=out, home=keys_home,
        passphrase="correct horse battery staple")
    info = media.probe(out)
    assert info.has_audio and result.sign.watermarked
    params = result.parameters
    assert params["backend"] == "external-command" and "secret words" not in str(params)
    assert params["command"][0] == sys.executable and result.sign.manifest


def test_external_command_failure(tmp_path) -> None:
    config = tmp_path / "generators.toml"
    config.write_text(f'[external.bad]\ncommand = [{sys.executable!r}, "-c", '
                      '"import sys; print(\'boom\', file=sys.stderr); sys.exit(3)"]\n')
    from veriframe.generators.generate import generate_video

    gen = make_generator("bad", generators_config=config)
    with pytest.raises(GenerateError) as err:
        generate_video(GenerationRequest(), generator=gen, output=tmp_path / "o.mp4")
    assert err.value.code == "generate.external-failed" and "boom" in err.value.message
    assert not (tmp_path / "o.mp4").exists()


def test_provenance_pipeline_wraps_any_pipeline(keys_home, tiny_wan_dir, tmp_path) -> None:
    import torch
    from diffusers import WanImageToVideoPipeline
    from PIL import Image

    from veriframe.generators import ProvenancePipeline

    pipe = WanImageToVideoPipeline.from_pretrained(str(tiny_wan_dir), local_files_only=True)
    out = tmp_path / "wrapped.mp4"
    vf = ProvenancePipeline(pipe, output=out, home=keys_home,
                            passphrase="correct horse battery staple")
    image = Image.open(PORTRAIT).convert("RGB").resize((64, 64))
    result = vf(image=image, prompt="hi", height=64, width=64, num_frames=5,
                num_inference_steps=2, generator=torch.Generator().manual_seed(11))
    assert result.frames.shape[1] == 5 and out.is_file()
    params = vf.last_result.manifest  # type: ignore[union-attr]
    text = str(params)
    assert "WanImageToVideoPipeline" in text and "FlowMatchEulerDiscreteScheduler" in text
    assert "11" in text  # the seed
