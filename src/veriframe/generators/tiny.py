"""Tiny random-weight builds of the real architectures, made offline.

Each builder constructs the same diffusers pipeline class the real checkpoint uses (Wan I2V,
CogVideoX I2V, SVD, HunyuanVideo I2V) from small configs in code, with tokenizers built from an
in-code vocabulary, and ``save_pretrained``s it into ``<home>/models/<id>``. Generation then
loads it back through :func:`veriframe.generators.loading.load_pipeline`, the loader the real
weights go through, so the real code path runs without a download or a GPU.

Facts these configs rely on (diffusers 0.42, transformers 5): a tiny Wan I2V needs
``added_kv_proj_dim`` (the real checkpoint has image key/value projections) and keeps the
512-token text length; CogVideoX I2V's learned position embeddings fix the latent size, so
tiny-cogvideox only generates at the size it was built for; SVD resizes to 224 px for its CLIP
(image_size 224); HunyuanVideo I2V needs a Llava text encoder and a prompt template whose image
span matches the tiny CLIP's 49 patches. Modules are put in eval mode before saving (T5 dropout
would otherwise make two runs differ).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from veriframe.errors import GenerateError
from veriframe.home import home_dir

BUILD_VERSION = 1
MARKER = "veriframe-tiny.json"
CALL_FILE = "veriframe-call.json"  # extra pipeline kwargs the loader passes on
_WORDS = "a the cat dog person portrait samurai warrior zen painting jungle transformation"


def tiny_dir(model_id: str, *, home: str | os.PathLike[str] | None = None) -> Path:
    """Where the tiny build of ``model_id`` lives in the veriframe home."""
    return home_dir(home) / "models" / model_id


def ensure_tiny(model_id: str, *, home: str | os.PathLike[str] | None = None) -> Path:
    """Build ``model_id`` (``tiny-wan``, ...) into the home on first use; return its folder."""
    builders: dict[str, Callable[[], tuple[Any, dict[str, Any]]]] = {
        "tiny-wan": build_tiny_wan,
        "tiny-cogvideox": build_tiny_cogvideox,
        "tiny-svd": build_tiny_svd,
        "tiny-hunyuan": build_tiny_hunyuan,
    }
    if model_id not in builders:
        raise GenerateError(
            "generate.unknown-model", f"no tiny build called {model_id!r}",
            f"tiny models: {', '.join(builders)}",
        )
    dst = tiny_dir(model_id, home=home)
    marker = dst / MARKER
    if marker.is_file():
        try:
            if json.loads(marker.read_text()).get("version") == BUILD_VERSION:
                return dst
        except (OSError, ValueError):
            pass
    pipe, call = builders[model_id]()
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{model_id}.", dir=dst.parent))
    try:
        pipe.save_pretrained(tmp)
        if call:
            (tmp / CALL_FILE).write_text(json.dumps(call, indent=2))
        (tmp / MARKER).write_text(json.dumps({"version": BUILD_VERSION, "model": model_id}))
        if dst.exists():
            shutil.rmtree(dst)
        os.replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dst


def _t5_tokenizer() -> Any:
    from transformers import T5Tokenizer

    pieces = ["<pad>", "</s>", "<unk>", "\u2581"]
    pieces += [chr(c) for c in range(97, 123)] + ["\u2581" + w for w in _WORDS.split()]
    vocab = [(p, 0.0 if i < 3 else -float(i)) for i, p in enumerate(pieces)]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def _eval(*modules: Any) -> None:
    for m in modules:
        m.eval()


def build_tiny_wan() -> tuple[Any, dict[str, Any]]:
    """A random-weight ``WanImageToVideoPipeline`` (Wan2.1 I2V layout, ~0.2 MB)."""
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModel,
        UMT5Config,
        UMT5EncoderModel,
    )

    torch.manual_seed(0)
    tok = _t5_tokenizer()
    te = UMT5EncoderModel(UMT5Config(
        vocab_size=len(tok), d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2,
        relative_attention_num_buckets=8, relative_attention_max_distance=16,
    ))
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )
    image_encoder = CLIPVisionModel(CLIPVisionConfig(
        hidden_size=8, projection_dim=8, num_hidden_layers=1, num_attention_heads=2,
        image_size=32, intermediate_size=16, patch_size=8,
    ))
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8, in_channels=36,
        out_channels=16, text_dim=16, freq_dim=32, ffn_dim=32, num_layers=2,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
        image_dim=8, added_kv_proj_dim=16,
    )
    _eval(te, vae, image_encoder, transformer)
    pipe = WanImageToVideoPipeline(
        tokenizer=tok, text_encoder=te, vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0),
        image_processor=CLIPImageProcessor(crop_size=32, size=32),
        image_encoder=image_encoder, transformer=transformer,
    )
    return pipe, {}


def build_tiny_cogvideox(*, width: int = 128, height: int = 128) -> tuple[Any, dict[str, Any]]:
    """A random-weight ``CogVideoXImageToVideoPipeline`` fixed to ``width`` x ``height``."""
    import torch
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    tok = _t5_tokenizer()
    te = T5EncoderModel(T5Config(
        vocab_size=len(tok), d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2,
        relative_attention_num_buckets=8,
    ))
    vae = AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8),
        latent_channels=4, layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4,
    )
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=16, in_channels=8, out_channels=4,
        time_embed_dim=2, text_embed_dim=16, num_layers=1, sample_width=width // 8,
        sample_height=height // 8, sample_frames=9, patch_size=2, temporal_compression_ratio=4,
        max_text_seq_length=16, use_rotary_positional_embeddings=True,
        use_learned_positional_embeddings=True,
    )
    _eval(te, vae, transformer)
    pipe = CogVideoXImageToVideoPipeline(
        tokenizer=tok, text_encoder=te, vae=vae, transformer=transformer,
        scheduler=CogVideoXDDIMScheduler(),
    )
    return pipe, {"max_sequence_length": 16}


def build_tiny_svd() -> tuple[Any, dict[str, Any]]:
    """A random-weight ``StableVideoDiffusionPipeline`` (~8 MB: GroupNorm needs 32 channels)."""
    import torch
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=8,
        out_channels=4, down_block_types=("CrossAttnDownBlockSpatioTemporal",
                                          "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=16, num_attention_heads=2, projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        interpolation_type="linear", num_train_timesteps=1000, prediction_type="v_prediction",
        sigma_max=700.0, sigma_min=0.002, steps_offset=1, timestep_spacing="leading",
        timestep_type="continuous", use_karras_sigmas=True,
    )
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 64], in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"], latent_channels=4,
    )
    image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=16, projection_dim=16, num_hidden_layers=1, num_attention_heads=2,
        image_size=224, intermediate_size=16, patch_size=32,
    ))
    _eval(unet, vae, image_encoder)
    pipe = StableVideoDiffusionPipeline(
        vae=vae, image_encoder=image_encoder, unet=unet, scheduler=scheduler,
        feature_extractor=CLIPImageProcessor(crop_size=224, size=224),
    )
    return pipe, {}


def build_tiny_hunyuan() -> tuple[Any, dict[str, Any]]:
    """A random-weight ``HunyuanVideoImageToVideoPipeline`` with a Llava text encoder."""
    import torch
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideoImageToVideoPipeline,
        HunyuanVideoTransformer3DModel,
    )
    from transformers import (
        CLIPImageProcessor,
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTokenizer,
        CLIPVisionConfig,
        LlamaConfig,
        LlamaTokenizer,
        LlavaConfig,
        LlavaForConditionalGeneration,
    )

    torch.manual_seed(0)
    transformer = HunyuanVideoTransformer3DModel(
        in_channels=9, out_channels=4, num_attention_heads=2, attention_head_dim=10,
        num_layers=1, num_single_layers=1, num_refiner_layers=1, patch_size=1, patch_size_t=1,
        guidance_embeds=False, text_embed_dim=16, pooled_projection_dim=8,
        rope_axes_dim=(2, 4, 4), image_condition_type="latent_concat",
    )
    vae = AutoencoderKLHunyuanVideo(
        in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8),
        layers_per_block=1, act_fn="silu", norm_num_groups=4, scaling_factor=0.476986,
        spatial_compression_ratio=8, temporal_compression_ratio=4, mid_block_add_attention=True,
    )
    lvocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "<image>": 3, "<pad>": 4, "\u0120": 5}
    for c in range(97, 123):
        lvocab[chr(c)] = len(lvocab)
    tokenizer = LlamaTokenizer(
        vocab=lvocab, merges=[], unk_token="<unk>", bos_token="<s>", eos_token="</s>",
        pad_token="<pad>",
    )
    llava = LlavaForConditionalGeneration(LlavaConfig(  # type: ignore[call-arg]
        vision_config=CLIPVisionConfig(
            hidden_size=8, intermediate_size=16, projection_dim=8, num_attention_heads=2,
            num_hidden_layers=2, image_size=224, patch_size=32,
        ),
        text_config=LlamaConfig(
            bos_token_id=1, eos_token_id=2, hidden_size=16, intermediate_size=32,
            num_attention_heads=2, num_key_value_heads=2, num_hidden_layers=3, pad_token_id=4,
            vocab_size=len(lvocab),
        ),
        pad_token_id=4, image_token_index=3,
    ))
    cvocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in range(97, 123):
        cvocab[chr(c)] = len(cvocab)
        cvocab[chr(c) + "</w>"] = len(cvocab)
    clip_tok = CLIPTokenizer(vocab=cvocab, merges=[])
    clip = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, hidden_size=8, intermediate_size=16,
        num_attention_heads=2, num_hidden_layers=1, pad_token_id=1, vocab_size=len(cvocab),
        projection_dim=8, max_position_embeddings=77,
    ))
    _eval(transformer, vae, llava, clip)
    pipe = HunyuanVideoImageToVideoPipeline(
        transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder=llava, text_encoder_2=clip, tokenizer=tokenizer, tokenizer_2=clip_tok,
        image_processor=CLIPImageProcessor(
            crop_size=224, do_center_crop=True, do_normalize=True, do_resize=True,
            image_mean=[0.48145466, 0.4578275, 0.40821073],
            image_std=[0.26862954, 0.26130258, 0.27577711], resample=3, size=224,
        ),
    )
    # The tiny tokenizer has no chat template: use a plain one whose image span matches the
    # tiny CLIP's 7x7 patches.
    call = {
        "prompt_template": {
            "template": "{}", "crop_start": 0, "image_emb_len": 49, "image_emb_start": 5,
            "image_emb_end": 54,
        },
        "max_sequence_length": 64,
    }
    return pipe, call
