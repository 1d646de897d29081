"""Plain words for where a recovered clip differs from what was signed (shared by the
recovery detail, the terminal and the HTML report)."""

from __future__ import annotations

from veriframe.results import ContentDifference, RecoveredCredentials

_CHANGES = {
    "content": "the picture changed",
    "detail-lost": "detail was removed (blurred or smoothed)",
    "detail-added": "detail was added",
}


def _span(d: ContentDifference) -> str:
    return f"{d.start_s:.1f}-{d.end_s:.1f} s"


def where(region: tuple[float, float, float, float] | None) -> str:
    """``"the whole frame"``, or a position and size such as ``"the centre-left (12 % of the
    frame)"``."""
    if region is None:
        return "the whole frame"
    x, y, w, h = region
    if w * h >= 0.9:
        return "the whole frame"
    cx, cy = x + w / 2, y + h / 2
    horiz = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else ""
    vert = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else ""
    place = "-".join(p for p in (vert, horiz) if p) or "centre"
    if place in ("left", "right"):
        place = f"centre-{place}"
    share = 100 * w * h
    size = "under 1 %" if share < 1 else f"{round(share)} %"
    return f"the {place} ({size} of the frame)"


def describe_difference(d: ContentDifference) -> str:
    """One change in words: when, where, what."""
    return f"{_span(d)} in {where(d.region)}: {_CHANGES.get(d.change, d.change)}"


def describe_overlay(d: ContentDifference) -> str:
    """One overlay in words, e.g. ``"an overlay covers the bottom 12 % for the whole clip"``."""
    if d.region is None:
        return f"an overlay covers the whole frame ({_span(d)})"
    x, y, w, h = d.region
    if w >= 0.85 and y + h >= 0.93:
        spot = f"the bottom {round(100 * h)} %"
    elif w >= 0.85 and y <= 0.07:
        spot = f"the top {round(100 * h)} %"
    elif h >= 0.85 and x <= 0.07:
        spot = f"the left {round(100 * w)} %"
    elif h >= 0.85 and x + w >= 0.93:
        spot = f"the right {round(100 * w)} %"
    else:
        spot = where(d.region)
    return f"an overlay covers {spot} for most of the clip ({_span(d)}), which recovery allows"


def coverage(rec: RecoveredCredentials) -> str:
    """``"92 % of the signed picture, 4.0 of 4.0 s of this clip"``."""
    share = round(100 * (rec.frame_coverage or 0.0))
    return (f"{share} % of the signed picture, {rec.compared_s or 0.0:.1f} of "
            f"{rec.received_s or 0.0:.1f} s of this clip")


def compared_words(rec: RecoveredCredentials | None) -> str:
    """What the content comparison of a recovered manifest checked, in words."""
    if rec is None:
        return "the content was not compared"
    if rec.comparison == "segments":
        text = f"the content matches what was signed where compared ({coverage(rec)})"
        if rec.differences:
            text = f"the content differs from what was signed ({coverage(rec)} compared)"
        return text + "".join(f"; {describe_overlay(o)}" for o in rec.overlays)
    if rec.comparison == "hard-binding":
        return ("the file's own manifest is the one the mark points to, and its hash of the "
                "file's bytes matches: the content is exactly what was signed")
    if rec.comparison == "global":
        return ("only one global fingerprint of the content could be compared (the manifest "
                "was signed before segment fingerprints): a local edit would not show")
    return "the content was not compared with what was signed: " + (rec.detail or "no data")


__all__ = ["compared_words", "coverage", "describe_difference", "describe_overlay", "where"]
