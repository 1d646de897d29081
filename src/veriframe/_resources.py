"""Locate data shipped with veriframe (detectors/, policies/, examples' assets).

In a wheel the data lives in ``veriframe/_data/``; in a source checkout (editable install) it
lives at the repository root. Both are found here so an installed veriframe works too.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def data_dir(name: str) -> Path:
    """The folder of shipped data called ``name`` (``detectors`` or ``policies``)."""
    packaged = resources.files("veriframe") / "_data" / name
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / name
    return checkout
