"""Wrap your own diffusers video pipeline so every clip it makes is watermarked and signed.

    veriframe keys init --org "My Studio"          # once
    export VERIFRAME_KEY_PASSPHRASE=...             # the passphrase you chose
    python examples/wrap_diffusers_pipeline.py --weights /path/to/Wan2.1-I2V-14B-480P-Diffusers

Without --weights it runs the tiny random-weight Wan build (CPU, seconds), so the example
works anywhere the [generate] extra is installed.
"""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", help="a diffusers Wan I2V folder (default: tiny build)")
    ap.add_argument("--image", default=str(ASSETS / "portrait.jpg"))
    ap.add_argument("-o", "--output", default="wrapped.signed.mp4")
    args = ap.parse_args()

    import torch
    from diffusers import WanImageToVideoPipeline
    from PIL import Image

    from veriframe.generators import ProvenancePipeline
    from veriframe.generators.tiny import ensure_tiny

    folder = args.weights or str(ensure_tiny("tiny-wan"))
    big = args.weights is not None and torch.cuda.is_available()
    pipe = WanImageToVideoPipeline.from_pretrained(
        folder, local_files_only=True, dtype=torch.bfloat16 if big else torch.float32
    )
    if big:
        pipe.enable_model_cpu_offload()
    width, height, frames = (832, 480, 81) if args.weights else (128, 128, 9)

    # The wrapper: called like the pipeline, it returns the pipeline's output and writes a
    # watermarked, C2PA-signed MP4 (nothing is written if marking or signing fails).
    # veriframe reads no environment below its command line: this script passes the home and
    # the passphrase itself.
    passphrase = os.environ.get("VERIFRAME_KEY_PASSPHRASE") or getpass.getpass(
        "Passphrase for the signing key: ")
    signed = ProvenancePipeline(pipe, output=args.output, fps=16, overwrite=True,
                                home=os.environ.get("VERIFRAME_HOME"), passphrase=passphrase)
    image = Image.open(args.image).convert("RGB").resize((width, height))
    result = signed(image=image, prompt="the person smiles and turns to the camera",
                    height=height, width=width, num_frames=frames,
                    num_inference_steps=40 if args.weights else 2,
                    generator=torch.Generator().manual_seed(42))
    print(f"{len(result.frames[0])} frames; signed file: {signed.last_result.output}; "
          f"watermark id {signed.last_result.payload_id}")


if __name__ == "__main__":
    main()
