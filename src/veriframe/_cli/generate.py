"""``veriframe generate``, ``veriframe models list``, ``veriframe effects list``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from veriframe._cli._common import (
    err_console,
    group,
    guarded,
    home,
    out_console,
    print_json,
    settings,
)


def register(app: typer.Typer) -> None:
    """Add the generation commands to ``app``."""
    app.command("generate")(generate)
    models = group(help="Generation models and where their weights are.")
    models.command("list")(models_list)
    app.add_typer(models, name="models")
    effects = group(help="Wan2.1 I2V effect LoRAs.")
    effects.command("list")(effects_list)
    app.add_typer(effects, name="effects")


@guarded()
def generate(
    model: str = typer.Option(..., "--model", "-m", help="Model id (see `veriframe models list`)."),
    output: Path = typer.Option(..., "--output", "-o", help="Signed MP4 to write."),
    image: Path | None = typer.Option(None, "--image", "-i", help="Input image (I2V, avatar)."),
    prompt: str | None = typer.Option(None, "--prompt", "-p", help="Text prompt."),
    negative_prompt: str | None = typer.Option(None, "--negative-prompt"),
    effect: str | None = typer.Option(None, "--effect", "-e", help="Effect LoRA (Wan I2V)."),
    lora_strength: float | None = typer.Option(None, "--lora-strength"),
    audio: Path | None = typer.Option(None, "--audio", help="Driving audio (avatar models)."),
    seed: int = typer.Option(0, "--seed"),
    steps: int | None = typer.Option(None, "--steps"),
    frames: int | None = typer.Option(None, "--frames"),
    width: int | None = typer.Option(None, "--width"),
    height: int | None = typer.Option(None, "--height"),
    guidance: float | None = typer.Option(None, "--guidance"),
    fps: float | None = typer.Option(None, "--fps"),
    weights: Path | None = typer.Option(None, "--weights", help="Local diffusers model folder."),
    dtype: str = typer.Option("auto", "--dtype", help="auto | bf16 | fp16 | fp32."),
    device: str | None = typer.Option(None, "--device", help="cuda, cuda:1, mps, cpu."),
    offload: str = typer.Option("none", "--offload", help="none | model | sequential | group."),
    quantize: str = typer.Option("none", "--quantize", help="none | int8wo | fp8-layerwise."),
    vae_tiling: bool = typer.Option(False, "--vae-tiling"),
    vae_slicing: bool = typer.Option(False, "--vae-slicing"),
    record_prompt: bool = typer.Option(
        False, "--record-prompt", help="Put the prompt text in the manifest (default: hash)."),
    effects_catalog: Path | None = typer.Option(
        None, "--effects-catalog", envvar="VERIFRAME_EFFECTS_CATALOG"),
    lora_dir: Path | None = typer.Option(None, "--lora-dir", envvar="VERIFRAME_LORA_DIR"),
    generators_config: Path | None = typer.Option(
        None, "--generators-config", envvar="VERIFRAME_GENERATORS_CONFIG"),
    force: bool = typer.Option(False, "--force", help="Replace an existing output file."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Generate a video and write it watermarked and signed (nothing is written on failure)."""
    from veriframe.generators.base import GenerationRequest, RuntimeOptions
    from veriframe.generators.generate import generate_video

    options = RuntimeOptions(dtype=dtype, device=device, offload=offload, quantize=quantize,
                             vae_tiling=vae_tiling, vae_slicing=vae_slicing)
    request = GenerationRequest(
        image=image, prompt=prompt, negative_prompt=negative_prompt, audio=audio, seed=seed,
        steps=steps, frames=frames, width=width, height=height, guidance=guidance, fps=fps,
        effect=effect, lora_strength=lora_strength, record_prompt=record_prompt,
    )
    console = err_console()
    with _Progress(console) as bar:
        result = generate_video(
            request, output=output, model=model, weights=weights,
            settings=settings(passphrase=True), home=home(), options=options,
            effects_catalog=effects_catalog, lora_dir=lora_dir,
            generators_config=generators_config, progress=bar.update, overwrite=force,
        )
    if as_json:
        print_json(result.to_dict())
        return
    console.print(
        f"wrote {result.sign.output}: {result.frames} frames, watermark {result.sign.payload_id}"
        f" (generation {result.seconds_generate:.1f} s, mark+encode+sign "
        f"{result.seconds_sign:.1f} s)", markup=False)


class _Progress:
    """A rich progress bar on stderr: denoising steps, then marking/encoding/signing."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total}"),
                                 TimeElapsedColumn(), console=console,
                                 disable=not console.is_terminal, transient=False)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _Progress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)  # type: ignore[arg-type]

    def update(self, stage: str, done: int, total: int) -> None:
        labels = {"denoise": "denoising", "encode": "mark + encode + sign",
                  "generate": "external tool"}
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(labels.get(stage, stage), total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)


@guarded()
def models_list(
    generators_config: Path | None = typer.Option(
        None, "--generators-config", envvar="VERIFRAME_GENERATORS_CONFIG"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Each model, where its weights were found (or the command to fetch them), what it needs."""
    from veriframe.generators.status import model_status

    rows = model_status(home=home(), generators_config=generators_config)
    if as_json:
        print_json({"models": rows})
        return
    out = out_console()
    for r in rows:
        size = f"{r['weights_gib']:.0f} GiB bf16" if r["weights_gib"] else ""
        needs = ", ".join(r["needs"])
        out.print(f"[bold]{r['id']}[/]  {r['title']}  ({r['task']}, {r['width']}x{r['height']}, "
                  f"{r['frames']} frames @ {r['fps']:g} fps)", soft_wrap=True)
        out.print(f"    weights: {r['status']}", markup=False, soft_wrap=True)
        if size or needs:
            out.print(f"    needs: {', '.join(x for x in (size, needs) if x)}", markup=False)


@guarded()
def effects_list(
    effects_catalog: Path | None = typer.Option(
        None, "--effects-catalog", envvar="VERIFRAME_EFFECTS_CATALOG"),
    lora_dir: Path | None = typer.Option(None, "--lora-dir", envvar="VERIFRAME_LORA_DIR"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The effect LoRAs, their triggers, whether the entry is confirmed and the file present."""
    from veriframe.generators.status import effect_status

    rows = effect_status(effects_catalog=effects_catalog, lora_dir=lora_dir)
    if as_json:
        print_json({"effects": rows})
        return
    out = out_console()
    for r in rows:
        flag = "" if r["confirmed"] else "  [yellow](unconfirmed)[/]"
        out.print(f"[bold]{r['key']}[/]  {r['name']}{flag}", soft_wrap=True)
        out.print(f"    trigger: {r['trigger'] or '(unknown)'}   repo: {r['repo_id']}   "
                  f"strength {r['strength']:g}, guidance {r['guidance']:g}, "
                  f"flow shift {r['flow_shift']:g}, {r['licence']}", markup=False, soft_wrap=True)
        out.print(f"    file: {r['lora_file'] or 'not downloaded'}", markup=False, soft_wrap=True)
