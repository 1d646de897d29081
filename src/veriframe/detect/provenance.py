"""Provenance signals: what signed credentials and watermarks say about a clip's origin.

These are not learned. A valid C2PA manifest that declares an AI digital source type is
decisive even from an unknown signer (nobody gains by falsely labelling their own clip as AI),
and so is a manifest recovered through our watermark that says the same, or a known open
generator's watermark at a small p-value. A *capture* claim is asymmetric: only a trusted
signer's "digitalCapture" lowers the estimate; from an unknown signer it is shown but does not
count (anyone can sign anything as camera footage).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from veriframe.credentials import AI_SOURCE_TYPES
from veriframe.results import (
    CredentialCheck,
    CredentialState,
    Signal,
    WatermarkCheck,
    WatermarkState,
)

CAPTURE_SOURCE_TYPES = frozenset(
    {
        "digitalCapture",
        "computationalCapture",
        "negativeFilm",
        "positiveFilm",
        "compositeCapture",
        "screenCapture",
    }
)

P_DECISIVE = 0.99  # floor when provenance says AI
P_TRUSTED_CAPTURE = 0.10  # ceiling when a trusted signer says camera capture
KNOWN_MARK_P = 1e-6  # a known generator mark at or below this p-value is decisive
KNOWN_MARK_P_WEAK = 1e-3  # ... at or below this, strong but not decisive


@dataclass(frozen=True)
class ProvenanceEvidence:
    """Provenance signals plus the bounds they put on the fused probability."""

    signals: tuple[Signal, ...]
    floor: float | None  # p_synthetic is at least this (decisive AI evidence)
    ceiling: float | None  # p_synthetic is at most this (trusted capture claim)
    decisive: tuple[str, ...]  # names of the signals that set a bound


def _short(source_type: str | None) -> str | None:
    if not source_type:
        return None
    return source_type.rstrip("/").rsplit("/", 1)[-1]


def _source_types(cred: CredentialCheck) -> list[str]:
    found = []
    if cred.digital_source_type:
        found.append(cred.digital_source_type)
    for action in cred.actions:
        dst = action.get("digitalSourceType") if isinstance(action, dict) else None
        if dst:
            found.append(str(dst))
    return [s for s in (_short(t) for t in found) if s]


def _credential_signal(
    cred: CredentialCheck, *, name: str, via: str
) -> tuple[Signal | None, float | None, float | None]:
    if cred.state not in (CredentialState.VALID, CredentialState.TRUSTED):
        return None, None, None
    types = _source_types(cred)
    trusted = cred.state == CredentialState.TRUSTED
    who = "trusted signer" if trusted else "valid signature, signer not in the trust list"
    ai = sorted({t for t in types if t in AI_SOURCE_TYPES})
    if ai:
        sig = Signal(
            name=name,
            kind="provenance",
            value=ai[0],
            p_synthetic=P_DECISIVE,
            weight=1.0,
            detail=f"C2PA {via} declares digital source type {ai[0]} ({who})",
        )
        return sig, P_DECISIVE, None
    capture = sorted({t for t in types if t in CAPTURE_SOURCE_TYPES})
    if capture and trusted:
        sig = Signal(
            name=name,
            kind="provenance",
            value=capture[0],
            p_synthetic=P_TRUSTED_CAPTURE,
            weight=1.0,
            detail=f"C2PA {via} from a trusted signer declares {capture[0]}",
        )
        return sig, None, P_TRUSTED_CAPTURE
    shown = types[0] if types else None
    detail = (
        (
            f"C2PA {via} declares {shown} ({who}); not counted: only a trusted signer's "
            "capture claim lowers the estimate"
        )
        if shown
        else (f"C2PA {via} present ({who}) but declares no digital source type")
    )
    return (
        Signal(
            name=name, kind="provenance", value=shown, p_synthetic=None, weight=0.0, detail=detail
        ),
        None,
        None,
    )


def provenance_evidence(
    *, credentials: CredentialCheck | None, watermark: WatermarkCheck | None
) -> ProvenanceEvidence:
    """Signals from the credential and watermark checks (either may be None: not checked)."""
    signals: list[Signal] = []
    floors: list[tuple[float, str]] = []
    ceilings: list[tuple[float, str]] = []

    def add(sig: Signal | None, floor: float | None, ceiling: float | None) -> None:
        if sig is None:
            return
        signals.append(sig)
        if floor is not None:
            floors.append((floor, sig.name))
        if ceiling is not None:
            ceilings.append((ceiling, sig.name))

    if credentials is not None:
        add(*_credential_signal(credentials, name="c2pa_source_type", via="manifest"))
    if watermark is not None:
        if watermark.state == WatermarkState.PRESENT:
            rec = watermark.recovered
            rec_cred = rec.credentials if rec is not None else None
            if rec is not None and rec.state == "recovered" and rec_cred is not None:
                add(
                    *_credential_signal(
                        rec_cred,
                        name="watermark_manifest",
                        via="manifest recovered through the watermark",
                    )
                )
            else:
                state = rec.state if rec is not None else "not looked up"
                signals.append(
                    Signal(
                        name="veriframe_watermark",
                        kind="provenance",
                        value=True,
                        p_synthetic=None,
                        weight=0.0,
                        detail=f"veriframe watermark present (p={watermark.p_value:.1e}); manifest "
                        f"recovery: {state}. A mark says a veriframe signer handled the clip, not "
                        "that it is synthetic"
                        if watermark.p_value is not None
                        else "veriframe watermark present",
                    )
                )
        for mark in watermark.known_generator_marks:
            add(*_known_mark_signal(mark))
    # A credential that says AI outranks a capture claim: keep the floor, drop the ceiling.
    floor = max((f for f, _ in floors), default=None)
    ceiling = None if floor is not None else min((c for c, _ in ceilings), default=None)
    decisive = tuple(n for _, n in floors) if floor is not None else tuple(n for _, n in ceilings)
    return ProvenanceEvidence(
        signals=tuple(signals), floor=floor, ceiling=ceiling, decisive=decisive
    )


def _known_mark_signal(mark: Any) -> tuple[Signal, float | None, None]:
    p = float(mark.p_value)
    detail = (
        f"{mark.name} watermark ({mark.method}): {mark.matching_bits}/{mark.total_bits} "
        f"bits match over {mark.frames} frame(s), p={p:.1e}"
    )
    if p <= KNOWN_MARK_P:
        return (
            Signal(
                name=f"known_mark:{mark.name}",
                kind="provenance",
                value=True,
                p_synthetic=P_DECISIVE,
                weight=1.0,
                detail=detail,
            ),
            P_DECISIVE,
            None,
        )
    if p <= KNOWN_MARK_P_WEAK:
        return (
            Signal(
                name=f"known_mark:{mark.name}",
                kind="provenance",
                value=True,
                p_synthetic=0.95,
                weight=1.0,
                detail=detail,
            ),
            0.95,
            None,
        )
    return (
        Signal(
            name=f"known_mark:{mark.name}",
            kind="provenance",
            value=False,
            p_synthetic=None,
            weight=0.0,
            detail=detail + " (too weak to count)",
        ),
        None,
        None,
    )


__all__ = [
    "AI_SOURCE_TYPES",
    "CAPTURE_SOURCE_TYPES",
    "P_DECISIVE",
    "P_TRUSTED_CAPTURE",
    "ProvenanceEvidence",
    "provenance_evidence",
]
