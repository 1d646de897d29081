"""The effects catalog (effects.toml) and the LoRA adapter that applies an effect.

The catalog is data: one table per effect with its Hugging Face repo, weight file, trigger,
prompt template and recommended settings. A local TOML (``--effects-catalog`` or
``$VERIFRAME_EFFECTS_CATALOG``) is merged over the shipped one: it can add effects or point one
at a local file with ``path = "..."`` (relative to that TOML). Nothing here imports torch.

:class:`EffectAdapter` loads a LoRA with ``load_lora_weights(adapter_name=...)``; switching to
another effect in the same process hot-swaps the weights in place
(``enable_lora_hotswap(target_rank=...)`` before the first load) instead of reloading the
14B model.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import tomllib

from veriframe.errors import GenerateError

ADAPTER = "effect"
_SHIPPED = Path(__file__).with_name("effects.toml")


@dataclass(frozen=True)
class Effect:
    """One effect LoRA and how to prompt it."""

    key: str
    name: str
    repo_id: str | None
    weight_name: str
    trigger: str
    description: str
    prompt_template: str
    strength: float
    guidance: float
    flow_shift: float
    rank: int
    licence: str
    confirmed: bool
    base_model: str
    models: tuple[str, ...]
    source: str = ""
    path: Path | None = None  # a local LoRA file (catalog override)

    def prompt(self, subject: str | None) -> str:
        """The prompt for ``subject`` (the user's --prompt) with the trigger phrase in it."""
        text = self.prompt_template.format(
            subject=subject or "the person in the image",
            trigger=self.trigger or self.name,
            description=self.description,
        )
        text = " ".join(text.split())
        if not self.description:  # drop a dangling "The subject ." from the template
            text = text.replace(" The subject .", "").replace(" the subject .", "")
        return text

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        out = asdict(self)
        out["models"] = list(self.models)
        out["path"] = str(self.path) if self.path else None
        return out


def load_catalog(path: str | os.PathLike[str] | None = None) -> dict[str, Effect]:
    """The shipped catalog, with the catalog file ``path`` (if given) merged over it."""
    raw = _read(_SHIPPED)
    defaults = dict(raw.get("defaults", {}))
    tables: dict[str, tuple[dict[str, Any], Path]] = {
        k: (dict(v), _SHIPPED.parent) for k, v in raw.get("effects", {}).items()
    }
    if path is not None:
        opath = Path(path).expanduser()
        extra = _read(opath)
        defaults.update(extra.get("defaults", {}))
        for key, table in extra.get("effects", {}).items():
            merged = dict(tables.get(key, ({}, opath.parent))[0])
            merged.update(table)
            tables[key] = (merged, opath.parent.resolve())
    return {key: _effect(key, table, defaults, base) for key, (table, base) in tables.items()}


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise GenerateError(
            "generate.catalog-missing", f"effects catalog {path} does not exist",
            "check --effects-catalog (VERIFRAME_EFFECTS_CATALOG)",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise GenerateError(
            "generate.catalog-invalid", f"effects catalog {path} is not valid TOML: {exc}",
            "fix the file (see src/veriframe/generators/effects.toml for the format)",
        ) from None


def _effect(key: str, table: dict[str, Any], defaults: dict[str, Any], base: Path) -> Effect:
    def get(name: str, default: Any = None) -> Any:
        return table.get(name, defaults.get(name, default))

    local = table.get("path")
    try:
        return Effect(
            key=key,
            name=str(get("name", key)),
            repo_id=get("repo_id"),
            weight_name=str(get("weight_name", "")),
            trigger=str(get("trigger", "")),
            description=str(get("description", "")),
            prompt_template=str(get("prompt_template", "{subject}. {trigger}")),
            strength=float(get("strength", 1.0)),
            guidance=float(get("guidance", 6.0)),
            flow_shift=float(get("flow_shift", 5.0)),
            rank=int(get("rank", 32)),
            licence=str(get("licence", "")),
            confirmed=bool(get("confirmed", False)),
            base_model=str(get("base_model", "")),
            models=tuple(get("models", ())),
            source=str(get("source", "")),
            path=(base / local).resolve() if local else None,
        )
    except (TypeError, ValueError) as exc:
        raise GenerateError(
            "generate.catalog-invalid", f"effect {key!r} in the catalog is malformed: {exc}",
            "fix the entry (numbers for strength/guidance/flow_shift/rank)",
        ) from None


def get_effect(name: str, *, catalog: dict[str, Effect]) -> Effect:
    """The effect called ``name`` (key or display name, any case); ``generate.unknown-effect``."""
    wanted = name.strip().lower().replace(" ", "-").replace("_", "-")
    for effect in catalog.values():
        if wanted in (effect.key, effect.name.lower().replace(" ", "-")):
            return effect
    raise GenerateError(
        "generate.unknown-effect",
        f"no effect called {name!r}",
        f"run `veriframe effects list`; known: {', '.join(sorted(catalog))}",
    )


def find_lora(effect: Effect, *, lora_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The effect's LoRA file on this machine (no network), or None."""
    if effect.path is not None:
        return effect.path if effect.path.is_file() else None
    folder = lora_dir
    if folder is not None and effect.weight_name:
        cand = Path(folder).expanduser() / effect.weight_name
        if cand.is_file():
            return cand
    if folder is not None:
        sub = Path(folder).expanduser() / effect.key
        found = _single_safetensors(sub)
        if found is not None:
            return found
    if effect.repo_id:
        from veriframe.generators.loading import hf_snapshot

        snap = hf_snapshot(effect.repo_id)
        if snap is not None:
            if effect.weight_name and (snap / effect.weight_name).is_file():
                return snap / effect.weight_name
            return _single_safetensors(snap)
    return None


def _single_safetensors(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    files = sorted(folder.glob("*.safetensors"))
    return files[0] if len(files) == 1 else None


def require_lora(effect: Effect, *, lora_dir: str | os.PathLike[str] | None = None) -> Path:
    """Like :func:`find_lora`, else ``generate.weights-missing`` with the download command."""
    found = find_lora(effect, lora_dir=lora_dir)
    if found is not None:
        return found
    if effect.path is not None:
        raise GenerateError(
            "generate.weights-missing", f"the LoRA file {effect.path} of {effect.key} is missing",
            "fix `path` in your effects catalog",
        )
    files = effect.weight_name or '--include "*.safetensors"'
    raise GenerateError(
        "generate.weights-missing",
        f"the LoRA of effect {effect.key!r} ({effect.repo_id}) is not in the local Hugging "
        "Face cache",
        f"download it once with `hf download {effect.repo_id} {files}` (older CLI: "
        f"`huggingface-cli download {effect.repo_id}`), or put the file in --lora-dir",
    )


_HASHES: dict[tuple[str, int, int], str] = {}


def sha256_file(path: Path) -> str:
    """SHA-256 of ``path`` (cached per path, size and mtime: LoRA files are ~359 MB)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


class EffectAdapter:
    """Applies effect LoRAs to one pipeline, hot-swapping between them.

    The first :meth:`activate` enables hot-swap (padding adapters to ``target_rank``) and loads
    the LoRA; later ones with another file replace the weights in place
    (``load_lora_weights(..., hotswap=True)``), so switching effects costs one LoRA read, not a
    model reload. :meth:`deactivate` turns the adapter off (base model output);
    :meth:`unload` removes it.
    """

    def __init__(self, pipe: Any, *, target_rank: int = 32, hotswap: bool = True) -> None:
        self.pipe = pipe
        self.target_rank = target_rank
        self.hotswap = hotswap
        self.loaded: Path | None = None
        self._hotswap_enabled = False

    def activate(self, lora: Path, *, strength: float = 1.0) -> None:
        """Make ``lora`` the active adapter at ``strength``."""
        if self.loaded is not None and self.loaded != lora and not self.hotswap:
            self.unload()
        try:
            if self.loaded is None:
                if self.hotswap and not self._hotswap_enabled:
                    self.pipe.enable_lora_hotswap(target_rank=self.target_rank)
                    self._hotswap_enabled = True
                self.pipe.load_lora_weights(
                    str(lora.parent), weight_name=lora.name, adapter_name=ADAPTER
                )
            elif self.loaded != lora:
                self.pipe.load_lora_weights(
                    str(lora.parent), weight_name=lora.name, adapter_name=ADAPTER, hotswap=True
                )
        except (ValueError, KeyError, RuntimeError, OSError) as exc:
            raise GenerateError(
                "generate.lora-incompatible",
                f"the LoRA {lora.name} could not be applied: {exc}",
                "effect LoRAs must be Wan2.1 I2V 14B LoRAs (original, ComfyUI or diffusers keys) "
                f"of rank <= {self.target_rank}",
            ) from exc
        self.loaded = lora
        self.pipe.enable_lora()
        self.pipe.set_adapters([ADAPTER], adapter_weights=[strength])

    def deactivate(self) -> None:
        """Turn the adapter off: the pipeline produces the base model's output."""
        if self.loaded is not None:
            self.pipe.disable_lora()

    def unload(self) -> None:
        """Remove the adapter from the model."""
        if self.loaded is not None:
            self.pipe.unload_lora_weights()
            self.loaded = None
            self._hotswap_enabled = False  # a fresh first load enables it again
