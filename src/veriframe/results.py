"""Result types: frozen dataclasses whose ``to_dict()`` is the JSON schema.

A verification that *ran* returns a :class:`VerifyReport`, whatever it found. Each check has
exactly one ``state`` string (never a bare bool); sections a run did not fill say
``"not_checked"``. The JSON schema is ``veriframe.verify/1`` (documented in docs/json-schema.md).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERIFY = "veriframe.verify/1"
NOT_CHECKED = "not_checked"


def to_jsonable(value: Any) -> Any:
    """Convert dataclasses, enums, tuples and mappings to plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict) and getattr(type(value), "to_dict", None) is not _Result.to_dict:
            return to_dict()
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


class _Result:
    """Mixin: ``to_dict()`` built from the dataclass fields."""

    def to_dict(self) -> dict[str, Any]:
        """This result as plain JSON-compatible values."""
        return {
            f.name: to_jsonable(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        }


class CredentialState(str, enum.Enum):
    """The one state of a file's C2PA credentials."""

    TRUSTED = "trusted"  # intact, and the signer chains to a configured trust anchor
    VALID = "valid"  # intact, signer not known to be trusted
    INVALID = "invalid"  # a validation check failed: tampered or malformed
    ABSENT = "absent"  # no manifest at all
    ERROR = "error"  # could not be read or checked
    NOT_CHECKED = NOT_CHECKED


class WatermarkState(str, enum.Enum):
    """The one state of the watermark check."""

    PRESENT = "present"  # our mark found under the key, p-value below the threshold
    ABSENT = "absent"
    ERROR = "error"
    NOT_CHECKED = NOT_CHECKED


class Verdict(str, enum.Enum):
    """One word for the whole file."""

    SIGNED = "signed"  # credentials valid or trusted
    RECOVERED = "recovered"  # manifest gone, credentials recovered through the watermark
    TAMPERED = "tampered"  # credentials invalid (or recovered ones do not match)
    UNSIGNED = "unsigned"  # no provenance found
    ERROR = "error"


@dataclass(frozen=True)
class Issue(_Result):
    """One validation status reported by the C2PA validator (or by veriframe)."""

    code: str
    explanation: str = ""
    url: str = ""


@dataclass(frozen=True)
class SignerInfo(_Result):
    """Who signed: read from the signing certificate."""

    common_name: str | None = None
    organization: str | None = None
    issuer: str | None = None
    serial_number: str | None = None
    algorithm: str | None = None
    signed_at: str | None = None  # signing time (from the time stamp or the claim), ISO 8601


@dataclass(frozen=True)
class CredentialCheck(_Result):
    """What the C2PA manifest says and whether it is intact.

    ``manifest`` (the active manifest's assertions) and the descriptive fields are filled only
    when ``state`` is valid or trusted: an invalid manifest's contents are not shown as fact.
    """

    state: CredentialState = CredentialState.NOT_CHECKED
    failures: tuple[Issue, ...] = ()  # failed validation codes (tampering evidence)
    successes: tuple[str, ...] = ()  # succeeded validation codes, e.g. claimSignature.validated
    signer: SignerInfo | None = None
    claim_generator: str | None = None
    title: str | None = None
    format: str | None = None
    digital_source_type: str | None = None
    actions: tuple[dict[str, Any], ...] = ()
    ingredients: tuple[dict[str, Any], ...] = ()
    manifest_label: str | None = None
    manifest: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    # Notes that are not failures, e.g. signingCredential.untrusted (signer not in the anchors).
    informational: tuple[Issue, ...] = ()
    # Does the manifest's content hash match these bytes: "match" | "mismatch" | None (not
    # checked). For a manifest recovered from the store, ``state`` judges the manifest itself
    # and this says whether it binds to the file at hand.
    hard_binding: str | None = None


@dataclass(frozen=True)
class RecoveredCredentials(_Result):
    """A manifest found in the store through the watermark's payload id.

    ``state``: ``recovered`` (signature re-validated and the content fingerprint matches),
    ``mismatch`` (signature fine but this content is not what was signed: a copied mark),
    ``invalid`` (the stored manifest's signature fails), ``not_found`` (id not in the store),
    ``error``.
    """

    state: str
    store: str | None = None
    credentials: CredentialCheck | None = None
    fingerprint_distance: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class KnownMark(_Result):
    """A known open-generator watermark (e.g. Stability's SDXL/SVD message)."""

    name: str
    method: str
    matching_bits: int
    total_bits: int
    p_value: float
    frames: int


@dataclass(frozen=True)
class WatermarkCheck(_Result):
    """Result of searching for veriframe's watermark (and known generator marks)."""

    state: WatermarkState = WatermarkState.NOT_CHECKED
    payload_id: str | None = None  # hex of the content id
    version: int | None = None
    p_value: float | None = None  # corrected for every alignment tried
    threshold: float | None = None
    bit_accuracy: float | None = None  # share of raw bits agreeing with the decoded codeword
    frames_used: int = 0
    alignment: dict[str, float] | None = None  # scale, offsets found
    key_id: str | None = None  # which key was searched (fingerprint, not the key)
    known_generator_marks: tuple[KnownMark, ...] = ()
    recovered: RecoveredCredentials | None = None
    error: dict[str, str] | None = None


@dataclass(frozen=True)
class Signal(_Result):
    """One item of evidence for the detector, with its own strength."""

    name: str
    kind: str  # provenance | metadata | forensic
    value: float | str | bool | None
    p_synthetic: float | None  # what this signal alone says, in [0, 1], if it says anything
    weight: float  # how much it counted in the fusion
    detail: str = ""


@dataclass(frozen=True)
class FrameScore(_Result):
    """Forensic score of one sampled frame (or segment)."""

    index: int
    timestamp: float
    p_synthetic: float


@dataclass(frozen=True)
class DetectionCheck(_Result):
    """The detector's estimate that the clip is synthetic, and the evidence for it."""

    state: str = NOT_CHECKED  # scored | not_checked | error
    p_synthetic: float | None = None
    label: str | None = None  # from the policy thresholds
    model: str | None = None
    signals: tuple[Signal, ...] = ()
    frame_scores: tuple[FrameScore, ...] = ()
    used_metadata: bool = True
    error: dict[str, str] | None = None
    inconclusive: str | None = None  # why the detector abstains (out of depth, uncertain)


@dataclass(frozen=True)
class Decision(_Result):
    """What a policy decided for this file."""

    state: str = NOT_CHECKED  # decided | not_checked | error
    policy: str | None = None
    label: str | None = None  # e.g. ai-generated, tampered, unverified, authentic-signed
    action: str | None = None  # allow | label | review | block
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileInfo(_Result):
    """The file that was checked."""

    path: str
    size_bytes: int | None = None
    sha256: str | None = None
    media: dict[str, Any] | None = None  # probe summary (width, height, fps, frames, codecs...)


@dataclass(frozen=True)
class VerifyReport(_Result):
    """Everything ``verify`` found about one file."""

    file: FileInfo
    verdict: Verdict
    credentials: CredentialCheck = field(default_factory=CredentialCheck)
    watermark: WatermarkCheck = field(default_factory=WatermarkCheck)
    detection: DetectionCheck = field(default_factory=DetectionCheck)
    decision: Decision = field(default_factory=Decision)
    error: dict[str, str] | None = None
    schema: str = SCHEMA_VERIFY

    def to_dict(self) -> dict[str, Any]:
        """The ``veriframe.verify/1`` JSON document."""
        out: dict[str, Any] = {"schema": self.schema}
        for f in dataclasses.fields(self):
            if f.name != "schema":
                out[f.name] = to_jsonable(getattr(self, f.name))
        return out


@dataclass(frozen=True)
class SignResult(_Result):
    """What ``sign_video`` wrote."""

    output: str
    manifest_label: str | None
    payload_id: str | None  # watermark content id (hex), None when unmarked
    converted_from: str | None  # source container when it had to be converted to MP4
    watermarked: bool
    store: str | None
    manifest: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
