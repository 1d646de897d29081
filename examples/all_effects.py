"""Generate all 16 Wan2.1 I2V effects for one portrait, each clip marked and signed.

Needs Wan2.1-I2V-14B-480P-Diffusers and the Remade-AI effect LoRAs in the Hugging Face cache
(or --weights / --lora-dir) and a GPU. The model loads once; effects are hot-swapped.

    python examples/all_effects.py --image examples/assets/portrait.jpg --out effects/
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default=str(ASSETS / "portrait.jpg"))
    ap.add_argument("--out", default="effects")
    ap.add_argument("--model", default="wan2.1-i2v-480p")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--lora-dir", default=None)
    ap.add_argument("--offload", default="model", help="none | model | sequential | group")
    args = ap.parse_args()

    from veriframe.errors import VeriframeError
    from veriframe.generators import (
        GenerationRequest,
        RuntimeOptions,
        generate_video,
        get_model,
        load_catalog,
        make_generator,
    )
    from veriframe.generators.effects import find_lora
    from veriframe.generators.loading import find_weights, require_weights

    catalog = load_catalog()
    missing = [e for e in catalog.values() if find_lora(e, lora_dir=args.lora_dir) is None]
    spec = get_model(args.model)
    if find_weights(spec, weights=args.weights) is None or missing:
        print("This example needs the real weights; nothing was generated.", file=sys.stderr)
        try:
            require_weights(spec, weights=args.weights)
        except VeriframeError as exc:
            print(f"  model: {exc.hint}", file=sys.stderr)
        for e in missing:
            print(f"  effect {e.key}: hf download {e.repo_id} --include '*.safetensors'",
                  file=sys.stderr)
        return 1
    gen = make_generator(args.model, weights=args.weights, lora_dir=args.lora_dir,
                         options=RuntimeOptions(offload=args.offload, dtype="bf16"))
    out = Path(args.out)
    # The library reads no environment: the script passes the home and passphrase itself.
    home = os.environ.get("VERIFRAME_HOME")
    passphrase = os.environ.get("VERIFRAME_KEY_PASSPHRASE") or getpass.getpass(
        "Passphrase for the signing key: ")
    for effect in catalog.values():
        req = GenerationRequest(image=Path(args.image), effect=effect.key, seed=42)
        result = generate_video(req, generator=gen, output=out / f"{effect.key}.mp4",
                                home=home, passphrase=passphrase, overwrite=True)
        print(f"{effect.name:16} {result.sign.output}  ({result.seconds_generate:.0f} s + "
              f"{result.seconds_sign:.1f} s provenance)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
