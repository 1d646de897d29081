"""Leave hypothesis families of the mark search out, to measure what each one costs and finds.

For benchmarks only: the library always searches every family. A family left out is still
counted in the p-value (``HYPOTHESES_PER_KEY`` does not change), so leaving one out can only
lose marks, never add a false hit. The families (see ``veriframe.watermark.search``):

- ``long-side``: the whole frame read as a full-height crop of a wider picture (9:16 reframes,
  crops keeping about 0.35-0.65 of each edge);
- ``scale-scan``: the ``v2-scan`` search over a ladder of aspect-keeping scales (crops whose
  period the frames' autocorrelation does not show);
- ``orientations``: the evidence gate and the flipped and right-angle-turned hypotheses it
  opens (the small turns stay);
- ``regions``: the sub-regions of ``find_regions`` (letterbox bars, picture-in-picture).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

FAMILIES = ("long-side", "scale-scan", "orientations", "regions")


def _known(names: Iterable[str]) -> tuple[str, ...]:
    names = tuple(names)
    unknown = sorted(set(names) - set(FAMILIES))
    if unknown:
        raise ValueError(f"unknown search families {unknown}; known: {list(FAMILIES)}")
    return names


def parse(text: str) -> tuple[str, ...]:
    """Comma-separated family names ("" or "-": none); ``ValueError`` names an unknown one."""
    return _known(x for x in text.split(",") if x and x != "-")


def leave_out(families: Iterable[str]) -> dict[str, Any]:
    """Patch the search module so that it skips ``families``; return what was replaced."""
    from veriframe.watermark import search

    saved: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        saved.setdefault(name, getattr(search, name))
        setattr(search, name, value)

    for family in _known(families):
        if family == "long-side":
            put("RESHAPED_ASPECT", math.inf)
        elif family == "scale-scan":
            put("SEARCHES", tuple(s for s in search.SEARCHES if s != "v2-scan"))
        elif family == "orientations":
            put("_gate_open", lambda fr, keys: False)
        elif family == "regions":
            put("find_regions", lambda luma: [])
    return saved


@contextmanager
def without(families: Iterable[str]) -> Iterator[None]:
    """The search without ``families`` inside the ``with`` block, as shipped after it."""
    from veriframe.watermark import search

    saved = leave_out(families)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(search, name, value)
