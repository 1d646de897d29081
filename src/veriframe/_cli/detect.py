"""``veriframe detect`` and ``veriframe detector train|eval``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from veriframe._cli._common import err_console, group, guarded, out_console, print_json

detector_app = group(help="Train and evaluate synthetic-video detectors.")


def _progress(verb: str) -> Any:
    console = err_console()

    def report(i: int, n: int, clip: Any) -> None:
        if console.is_terminal:
            console.print(f"{verb} {i + 1}/{n}: {Path(clip.path).name}", end="\r")

    return report


@guarded()
def detect_command(
    path: Path = typer.Argument(..., help="Video file to score."),
    model: str = typer.Option("default", "--model", "-m", envvar="VERIFRAME_DETECTOR",
                              help="Detector name or model folder."),
    no_metadata: bool = typer.Option(False, "--no-metadata",
                                     help="Score from pixels only (ignore container cues)."),
    as_json: bool = typer.Option(False, "--json", help="Write the result as JSON to stdout."),
) -> None:
    """Estimate whether a clip is AI-generated, with the evidence for it."""
    from veriframe._cli._common import settings
    from veriframe.detect.model import Detector

    limits = settings().limits  # VERIFRAME_MAX_*: the limits verify, scan and serve apply
    det = Detector.load(model)
    check = det.score_file(path, use_metadata=not no_metadata, limits=limits)
    if as_json:
        print_json({"file": str(path), "detection": check.to_dict()})
        return
    from veriframe._text import clean_text

    con = out_console()
    con.print(f"{clean_text(str(path))}: p_synthetic = {check.p_synthetic:.2f} "
              f"(model {clean_text(check.model or '?')}, metadata "
              f"{'on' if check.used_metadata else 'off'})", markup=False, soft_wrap=True)
    if check.inconclusive:
        con.print(f"  inconclusive: {clean_text(check.inconclusive)} (the score is not used)",
                  markup=False, soft_wrap=True)
    for s in sorted(check.signals, key=lambda s: -s.weight):
        p = "  -  " if s.p_synthetic is None else f"{s.p_synthetic:.2f}"
        con.print(f"  {s.kind:<10} {s.name:<22} p={p}  weight={s.weight:.2f}  "
                  f"{clean_text(s.detail)}", markup=False, soft_wrap=True)
    if check.frame_scores:
        worst = max(check.frame_scores, key=lambda f: f.p_synthetic)
        con.print(f"  frames: {len(check.frame_scores)} scored, highest "
                  f"{worst.p_synthetic:.2f} at {worst.timestamp:.2f} s",
                  markup=False, soft_wrap=True)
    con.print("  a hint, not proof: only credentials and watermarks are decisive",
              markup=False, soft_wrap=True)


@detector_app.command("train")
@guarded(json_flag=None)
def train_command(
    data: Path = typer.Option(..., "--data", help="INDEX.csv, its folder, or real/+synthetic/."),
    out: Path = typer.Option(..., "--out", help="Model folder to write (detectors/NAME)."),
    include_gif: bool = typer.Option(False, "--include-gif", help="Also use GIF clips."),
    copies: int = typer.Option(6, "--copies", min=1, max=32,
                               help="Platform copies made of every clip to train the pixel model "
                               "on (H.264/H.265 CRF 23-32, rescaled, cut; cached)."),
    no_metrics: bool = typer.Option(False, "--no-metrics", help="Skip the evaluation."),
    cache: Path | None = typer.Option(None, "--cache", envvar="VERIFRAME_CACHE",
                                      help="Feature cache folder."),
) -> None:
    """Train a detector; write model.json, metrics.json and card.md into --out."""
    from veriframe.detect.lab.workflow import train

    det = train(data=data, out=out, include_gif=include_gif, with_metrics=not no_metrics,
                copies=copies, cache_dir=cache, progress=_progress("features"))
    err_console().print(f"wrote {out}/model.json ({det.info.get('n_clips')} clips, "
                        f"forensic family {det.info.get('forensic_family')})")


@detector_app.command("eval")
@guarded()
def eval_command(
    data: Path = typer.Option(..., "--data", help="INDEX.csv, its folder, or real/+synthetic/."),
    model: str = typer.Option("default", "--model", "-m", help="Detector name or folder."),
    no_cv: bool = typer.Option(False, "--no-cv",
                               help="Score with the fixed model instead of cross-validating its "
                               "recipe (leave-one-source-out and leave-one-generator-family-out)."),
    no_reencode: bool = typer.Option(False, "--no-reencode",
                                     help="Skip the normalised pass (4 s, 25 fps, 640 px)."),
    include_gif: bool = typer.Option(False, "--include-gif", help="Also use GIF clips."),
    cache: Path | None = typer.Option(None, "--cache", envvar="VERIFRAME_CACHE",
                                      help="Feature cache folder."),
    as_json: bool = typer.Option(False, "--json", help="Write the report as JSON to stdout."),
) -> None:
    """Evaluate a detector: AUC (95% CI), ECE, coverage, per generator; as published and
    normalised, pixels only and all signals."""
    from veriframe.detect.lab.evaluation import generator_table, summary_table
    from veriframe.detect.lab.workflow import evaluate
    from veriframe.detect.model import Detector

    det = Detector.load(model)
    report = evaluate(data=data, model=det, cv=not no_cv, reencode=not no_reencode,
                      include_gif=include_gif, cache_dir=cache, progress=_progress("features"))
    if as_json:
        from veriframe.results import to_jsonable

        print_json(to_jsonable(report))
        return
    con = out_console()
    con.print(f"{report['protocol']} on {report['data']}", markup=False, soft_wrap=True)
    con.print(summary_table(report["summary"]), markup=False, soft_wrap=True)
    con.print(generator_table(report["per_generator"]), markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``detect`` and the ``detector`` group to the root CLI."""
    app.command("detect")(detect_command)
    app.add_typer(detector_app, name="detector")


__all__ = ["register"]
