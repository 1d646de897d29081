"""Test helpers: a tiny LoRA in the original Wan/ComfyUI key format, made with peft."""

from __future__ import annotations

from pathlib import Path

# diffusers module names -> original Wan2.1 (and ComfyUI) names.
_TO_ORIGINAL = [
    ("attn1.to_out.0", "self_attn.o"), ("attn1.to_q", "self_attn.q"),
    ("attn1.to_k", "self_attn.k"), ("attn1.to_v", "self_attn.v"),
    ("attn2.to_out.0", "cross_attn.o"), ("attn2.to_q", "cross_attn.q"),
    ("attn2.to_k", "cross_attn.k"), ("attn2.to_v", "cross_attn.v"),
    ("attn2.add_k_proj", "cross_attn.k_img"), ("attn2.add_v_proj", "cross_attn.v_img"),
    ("ffn.net.0.proj", "ffn.0"), ("ffn.net.2", "ffn.2"),
]


def make_wan_lora(model_dir: Path, dst: Path, *, seed: int, rank: int = 4) -> Path:
    """A random rank-``rank`` LoRA for the tiny Wan transformer in ``model_dir``, saved as
    safetensors with ``diffusion_model.blocks.N.self_attn.q.lora_A.weight``-style keys."""
    import torch
    from diffusers import WanTransformer3DModel
    from peft import LoraConfig, get_peft_model_state_dict
    from safetensors.torch import save_file

    transformer = WanTransformer3DModel.from_pretrained(model_dir / "transformer")
    targets = ["to_q", "to_k", "to_v", "to_out.0", "add_k_proj", "add_v_proj",
               "ffn.net.0.proj", "ffn.net.2"]
    transformer.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=targets,
                                       init_lora_weights=False))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in transformer.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.5)
    state = get_peft_model_state_dict(transformer)
    out = {}
    for key, value in state.items():
        k = key
        for new, old in _TO_ORIGINAL:
            k = k.replace(f".{new}.", f".{old}.")
        out["diffusion_model." + k] = value.contiguous()
    dst.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(dst))
    return dst
