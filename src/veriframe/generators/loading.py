"""Find weights (a local folder or the local Hugging Face cache, offline first) and load them.

The real checkpoints and the tiny builds go through the same :func:`load_pipeline`:
``<PipelineClass>.from_pretrained(folder, local_files_only=True, torch_dtype=...)``, then
:func:`apply_options` (device, offloading, quantization, VAE tiling). Finding weights needs
no torch, so ``veriframe models list`` works on the core install.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veriframe.errors import GenerateError
from veriframe.generators.base import ModelSpec, RuntimeOptions


@dataclass(frozen=True)
class WeightsLocation:
    """Where a model's weights were found: ``source`` is ``folder``, ``hf-cache`` or ``tiny``."""

    path: Path
    source: str
    revision: str | None = None


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache (``$HF_HUB_CACHE``, ``$HF_HOME/hub``, ~/.cache/...)."""
    env = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if env:
        return Path(env).expanduser()
    hf_home = os.environ.get("HF_HOME")
    if hf_home:
        return Path(hf_home).expanduser() / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


def hf_snapshot(
    repo_id: str, *, revision: str | None = None, need: str | None = None
) -> Path | None:
    """The cached snapshot folder of ``repo_id`` (no network), or None.

    ``need`` names a file that must be present in it (e.g. ``model_index.json``).
    """
    repo_dir = hf_cache_dir() / ("models--" + repo_id.replace("/", "--"))
    if not repo_dir.is_dir():
        return None
    ref = revision or "main"
    candidates: list[Path] = []
    ref_file = repo_dir / "refs" / ref
    if ref_file.is_file():
        candidates.append(repo_dir / "snapshots" / ref_file.read_text().strip())
    if revision and (repo_dir / "snapshots" / revision).is_dir():
        candidates.append(repo_dir / "snapshots" / revision)
    if not revision and (repo_dir / "snapshots").is_dir():
        candidates += sorted((repo_dir / "snapshots").iterdir(), key=lambda p: -p.stat().st_mtime)
    for snap in candidates:
        if snap.is_dir() and (need is None or (snap / need).exists()):
            return snap
    return None


def download_command(repo_id: str, *, files: tuple[str, ...] = (), local_dir: str | None = None,
                     revision: str | None = None) -> str:
    """The exact command that fetches ``repo_id`` (new ``hf`` CLI; old name in the docs)."""
    parts = ["hf", "download", repo_id, *files]
    if revision:
        parts += ["--revision", revision]
    if local_dir:
        parts += ["--local-dir", local_dir]
    return " ".join(parts)


def find_weights(
    spec: ModelSpec, *, weights: str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
) -> WeightsLocation | None:
    """Where ``spec``'s weights are, without loading or downloading anything; None if absent."""
    if weights is not None:
        folder = Path(weights).expanduser()
        found = (folder / "model_index.json").is_file()
        return WeightsLocation(folder, "folder") if found else None
    if spec.tiny:
        from veriframe.generators.tiny import MARKER, tiny_dir

        folder = tiny_dir(spec.id, home=home)
        return WeightsLocation(folder, "tiny") if (folder / MARKER).is_file() else None
    if spec.repo_id:
        snap = hf_snapshot(spec.repo_id, revision=spec.revision, need="model_index.json")
        if snap is not None:
            return WeightsLocation(snap, "hf-cache", revision=snap.name)
    return None


def require_weights(
    spec: ModelSpec, *, weights: str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
) -> WeightsLocation:
    """Like :func:`find_weights`, building tiny models on first use; else ``weights-missing``."""
    if spec.tiny and weights is None:
        from veriframe.generators.tiny import ensure_tiny

        return WeightsLocation(ensure_tiny(spec.id, home=home), "tiny")
    found = find_weights(spec, weights=weights, home=home)
    if found is not None:
        return found
    repo = spec.repo_id or "<repo>"
    cmd = download_command(repo, revision=spec.revision)
    if weights is not None:
        local = download_command(repo, local_dir=str(weights), revision=spec.revision)
        raise GenerateError(
            "generate.weights-missing",
            f"{weights} is not a diffusers model folder (no model_index.json)",
            f"point --weights at a folder made by `{local}` (older CLI: `huggingface-cli "
            f"download {repo} --local-dir {weights}`), or omit --weights to use the Hugging "
            "Face cache",
        )
    raise GenerateError(
        "generate.weights-missing",
        f"the weights of {spec.id} ({spec.repo_id}) are not in the local Hugging Face cache "
        f"({hf_cache_dir()})",
        f"download them once with `{cmd}` (older CLI: `huggingface-cli download "
        f"{spec.repo_id}`), or pass --weights DIR for a local copy",
    )


def call_extras(folder: Path) -> dict[str, Any]:
    """Extra pipeline keyword arguments stored beside a tiny build (``veriframe-call.json``)."""
    from veriframe.generators.tiny import CALL_FILE

    path = folder / CALL_FILE
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return dict(data) if isinstance(data, dict) else {}


# --- devices and runtime options -------------------------------------------------------------

def accelerator() -> str | None:
    """``cuda``, ``xpu`` or ``mps`` when torch sees one, else None (imports torch)."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available():
        return "xpu"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return None


def _needs_accelerator(what: str) -> GenerateError:
    return GenerateError(
        "generate.needs-accelerator",
        f"{what} needs a GPU (CUDA, XPU or MPS) and none is available to torch",
        "drop the option to run on the CPU (slow for real models), or run on a machine with a "
        "GPU and a torch build for it",
    )


def torch_dtype(options: RuntimeOptions, device: str) -> Any:
    """The torch dtype for ``options.dtype`` on ``device`` (auto: bf16 on GPU, fp32 on CPU)."""
    import torch

    name = options.dtype
    if name == "auto":
        name = "fp32" if device == "cpu" else "bf16"
    if name == "fp16" and device == "cpu":
        raise _needs_accelerator("--dtype fp16")
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]


def check_options(options: RuntimeOptions) -> str:
    """Validate ``options`` against the hardware; return the device to run on."""
    acc = accelerator()
    device = options.device or acc or "cpu"
    if device != "cpu" and acc is None:
        raise _needs_accelerator(f"--device {device}")
    if device == "cpu":
        if options.offload != "none":
            raise _needs_accelerator(f"--offload {options.offload}")
        if options.dtype == "fp16":
            raise _needs_accelerator("--dtype fp16")
    if options.quantize == "int8wo":
        try:
            import torchao  # noqa: F401
        except ImportError:
            raise GenerateError(
                "generate.missing-dependency",
                "--quantize int8wo needs torchao, which is not installed",
                "pip install torchao (a build matching your torch), or drop --quantize",
            ) from None
    return device


def load_pipeline(
    spec: ModelSpec, *, weights: str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None, options: RuntimeOptions | None = None,
) -> tuple[Any, WeightsLocation]:
    """Load ``spec``'s diffusers pipeline offline and apply ``options``; return it and where."""
    options = options or RuntimeOptions()
    device = check_options(options)  # fail before reading gigabytes
    where = require_weights(spec, weights=weights, home=home)
    try:
        import diffusers
    except ImportError:
        raise GenerateError(
            "generate.missing-dependency",
            "generation needs torch and diffusers, which are not installed",
            "pip install 'veriframe[generate]'",
        ) from None
    cls = getattr(diffusers, spec.pipeline, None)
    if cls is None:
        raise GenerateError(
            "generate.missing-dependency",
            f"diffusers {diffusers.__version__} has no {spec.pipeline}",
            "upgrade diffusers: pip install -U 'veriframe[generate]'",
        )
    dtype = torch_dtype(options, device)
    try:
        pipe = cls.from_pretrained(str(where.path), local_files_only=True, dtype=dtype)
    except (OSError, ValueError) as exc:
        raise GenerateError(
            "generate.weights-unreadable",
            f"could not load {spec.pipeline} from {where.path}: {exc}",
            "the folder may be incomplete: re-run the download command from "
            "`veriframe models list`",
        ) from exc
    apply_options(pipe, options, device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)  # veriframe draws its own progress
    return pipe, where


def apply_options(pipe: Any, options: RuntimeOptions, *, device: str, dtype: Any) -> None:
    """Place ``pipe`` and apply offloading, quantization and VAE tiling/slicing."""
    import torch

    denoiser = getattr(pipe, "transformer", None) or getattr(pipe, "unet", None)
    if options.quantize == "fp8-layerwise" and denoiser is not None:
        denoiser.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=dtype)
    elif options.quantize == "int8wo" and denoiser is not None:
        from torchao.quantization import int8_weight_only, quantize_

        quantize_(denoiser, int8_weight_only())
    vae = getattr(pipe, "vae", None)
    if options.vae_tiling and vae is not None and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
    if options.vae_slicing and vae is not None and hasattr(vae, "enable_slicing"):
        vae.enable_slicing()
    if options.offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif options.offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    elif options.offload == "group":
        from diffusers.hooks import apply_group_offloading

        onload = torch.device(device)
        for _name, module in pipe.components.items():
            if isinstance(module, torch.nn.Module):
                if hasattr(module, "enable_group_offload"):
                    module.enable_group_offload(  # type: ignore[operator]
                        onload_device=onload, offload_device=torch.device("cpu"),
                        offload_type="leaf_level", use_stream=True,
                    )
                else:
                    apply_group_offloading(
                        module, onload_device=onload, offload_device=torch.device("cpu"),
                        offload_type="leaf_level", use_stream=True,
                    )
    else:
        pipe.to(device)
