"""What ``models list`` and ``effects list`` report: where each model's weights and each
effect's LoRA file are on this machine (no network), or how to get them."""

from __future__ import annotations

import os
from typing import Any


def model_status(
    *,
    home: str | os.PathLike[str] | None = None,
    generators_config: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """One row per model (built-in and configured external tools): its spec, and
    ``weights``/``weights_source`` (where they were found) and ``status`` in words."""
    from veriframe.generators.catalog import list_models
    from veriframe.generators.external import external_spec, load_tools
    from veriframe.generators.loading import download_command, find_weights

    tools = load_tools(generators_config, home=home)
    rows = []
    for spec in list_models() + [external_spec(t) for t in tools.values()]:
        where = None if spec.family == "external" else find_weights(spec, home=home)
        if spec.family == "external":
            status = "configured" if spec.id in tools else "not configured (generators.toml)"
        elif where is not None:
            status = f"{where.source}: {where.path}"
        elif spec.tiny:
            status = "built on first use"
        else:
            status = "missing: " + download_command(spec.repo_id or "")
        rows.append({**spec.to_dict(), "weights": str(where.path) if where else None,
                     "weights_source": where.source if where else None, "status": status})
    return rows


def effect_status(
    *,
    effects_catalog: str | os.PathLike[str] | None = None,
    lora_dir: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """One row per effect of the catalog, sorted by key, with ``lora_file`` (None: absent)."""
    from veriframe.generators.effects import find_lora, load_catalog

    catalog = load_catalog(effects_catalog)
    rows = []
    for effect in sorted(catalog.values(), key=lambda e: e.key):
        path = find_lora(effect, lora_dir=lora_dir)
        rows.append({**effect.to_dict(), "lora_file": str(path) if path else None})
    return rows
