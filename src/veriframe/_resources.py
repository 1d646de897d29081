"""Locate data shipped with veriframe (detectors/, policies/, examples' assets).

In a wheel the data lives in ``veriframe/_data/``; in a source checkout (editable install) it
lives at the repository root. Both are found here so an installed veriframe works too.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# Where each kind of shipped data sits in a source checkout (relative to the repository root).
_CHECKOUT = {"detectors": "detectors", "policies": "policies", "assets": "examples/assets"}


def data_dir(name: str) -> Path:
    """The folder of shipped data called ``name`` (``detectors``, ``policies`` or ``assets``,
    the examples' pictures)."""
    packaged = resources.files("veriframe") / "_data" / name
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / _CHECKOUT.get(name, name)
