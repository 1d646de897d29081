"""Result types: frozen dataclasses whose ``to_dict()`` is the JSON schema.

A verification that *ran* returns a :class:`VerifyReport`, whatever it found. Each check has
exactly one ``state``, an enum that serialises to its string (never a bare bool); sections a
run did not fill say ``"not_checked"``. Errors inside a report are :class:`ErrorInfo`. The JSON
schema is ``veriframe.verify/1.2`` (documented in docs/json-schema.md); the exit code of a report
comes from the one table here (:meth:`VerifyReport.exit_code`).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from veriframe.errors import ErrorInfo, ErrorKind, ExitCode

SCHEMA_VERIFY = "veriframe.verify/1.2"
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
    """Mixin: ``to_dict()`` built from the dataclass fields.

    A field annotated with a state enum also accepts that state's string (``"scored"``), and
    an ``error`` field a ``{"code", "message", "hint"}`` mapping: both are converted on
    construction, so every state a report holds is the enum and every error an ErrorInfo.
    """

    _states: ClassVar[dict[str, type[enum.Enum]]] = {}

    def __post_init__(self) -> None:
        for name, kind in self._states.items():
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                object.__setattr__(self, name, kind(value))
        error = getattr(self, "error", None)
        if isinstance(error, Mapping):
            object.__setattr__(self, "error", ErrorInfo(
                str(error.get("code", "error")), str(error.get("message", "")),
                str(error.get("hint", ""))))

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


class RecoveryState(str, enum.Enum):
    """What became of a manifest looked up through the watermark's payload id."""

    RECOVERED = "recovered"  # signature re-validated; the content matches where compared
    EDITED = "edited"  # signature fine, the signed content, but changed in places (differences)
    MISMATCH = "mismatch"  # signature fine, but this content is not what was signed
    INVALID = "invalid"  # the stored manifest's signature fails
    NOT_FOUND = "not_found"  # the id is not in the store
    ERROR = "error"


class ResolverState(str, enum.Enum):
    """What asking one soft-binding resolver came to (``verify --resolver``)."""

    RECOVERED = "recovered"  # a manifest validated here and its signed fingerprint matches
    EDITED = "edited"  # a valid manifest for this content, but the clip was changed in places
    MISMATCH = "mismatch"  # a valid manifest, but for different content
    UNCONFIRMED = "unconfirmed"  # a valid manifest this clip's fingerprint cannot confirm
    INVALID_MANIFEST = "invalid-manifest"  # what the resolver sent does not validate
    NO_MATCH = "no-match"  # the resolver knows no manifest for this content
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    REFUSED = "refused"  # 401/403: a token is needed
    BUSY = "busy"  # 429/503
    INVALID_RESPONSE = "invalid-response"  # not a soft-binding resolution answer
    ERROR = "error"


class HardBinding(str, enum.Enum):
    """Whether a manifest's content hash binds to the bytes at hand."""

    MATCH = "match"
    MISMATCH = "mismatch"


class DetectionState(str, enum.Enum):
    """The one state of the detector check."""

    SCORED = "scored"
    ERROR = "error"
    NOT_CHECKED = NOT_CHECKED


class DecisionState(str, enum.Enum):
    """The one state of the policy decision."""

    DECIDED = "decided"
    ERROR = "error"
    NOT_CHECKED = NOT_CHECKED


class Verdict(str, enum.Enum):
    """One word for the whole file."""

    SIGNED = "signed"  # credentials valid or trusted
    RECOVERED = "recovered"  # manifest gone, credentials recovered through the watermark
    TAMPERED = "tampered"  # credentials invalid (or recovered ones do not match)
    UNSIGNED = "unsigned"  # no provenance found
    ERROR = "error"


# The one table from a verdict to the exit code (an ERROR verdict exits by its error's kind).
EXIT_FOR_VERDICT: dict[Verdict, ExitCode] = {
    Verdict.SIGNED: ExitCode.OK,
    Verdict.RECOVERED: ExitCode.OK,
    Verdict.TAMPERED: ExitCode.TAMPERED,
    Verdict.UNSIGNED: ExitCode.NO_PROVENANCE,
}


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


class IdentityState(str, enum.Enum):
    """The result of validating one CAWG identity assertion."""

    TRUSTED = "trusted"  # intact, and its credential chains to a configured trust anchor
    VALID = "valid"  # intact, but its credential's issuer is not on a trust list
    INVALID = "invalid"  # a check of the identity assertion failed: its claim is not shown
    NOT_VALIDATED = "not_validated"  # the validator reported nothing about it


class TimeStampState(str, enum.Enum):
    """The RFC 3161 time-stamp on a manifest's signature."""

    TRUSTED = "trusted"  # matches the signature; the time-stamp authority is trusted
    VALID = "valid"  # matches the signature; the authority is not on a trust list
    INVALID = "invalid"  # present but does not match, or is malformed or out of validity
    ABSENT = "absent"  # the signature carries no time-stamp


@dataclass(frozen=True)
class Thumbnail(_Result):
    """A thumbnail stored in a manifest (of the asset or of an ingredient).

    ``data`` (the image bytes) is kept for the HTML report but never written to the JSON:
    ``to_dict()`` gives only its format, size and SHA-256. Only JPEG, PNG, GIF and WebP whose
    first bytes match their format are kept at all.
    """

    format: str
    size_bytes: int
    sha256: str
    data: bytes = field(default=b"", repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: no image bytes."""
        return {"format": self.format, "size_bytes": self.size_bytes, "sha256": self.sha256}


@dataclass(frozen=True)
class NamedActor(_Result):
    """Someone an identity assertion names, with who vouched for it."""

    name: str | None = None
    kind: str | None = None  # e.g. x509.subject, cawg.document_verification, cawg.social_media
    username: str | None = None
    uri: str | None = None
    provider: str | None = None  # who verified it (ICA) or the certificate's issuer (X.509)
    verified_at: str | None = None


@dataclass(frozen=True)
class IdentityAssertion(_Result):
    """A CAWG identity assertion (``cawg.identity``): who stands behind the manifest."""

    _states: ClassVar[dict[str, type[enum.Enum]]] = {"state": IdentityState}

    label: str
    state: IdentityState = IdentityState.NOT_VALIDATED
    sig_type: str | None = None  # cawg.x509.cose | cawg.identity_claims_aggregation | ...
    credential: str = "unknown"  # X.509 certificate | identity claims aggregation | unknown
    issuer: str | None = None  # certificate issuer or the credential issuer's DID
    actors: tuple[NamedActor, ...] = ()  # empty when state is invalid (not shown as fact)
    failures: tuple[Issue, ...] = ()
    successes: tuple[str, ...] = ()
    informational: tuple[Issue, ...] = ()


@dataclass(frozen=True)
class TimeCheck(_Result):
    """When the manifest was signed, and whether the certificate was valid then.

    ``inside_validity``: the signature was made inside the signing certificate's validity
    (``claimSignature.insideValidity``), judged at the time-stamp's time when there is a valid
    time-stamp (``basis`` ``time-stamp``) and at the time of verification otherwise
    (``basis`` ``verification-time``); None when the validator said nothing.
    """

    _states: ClassVar[dict[str, type[enum.Enum]]] = {"time_stamp": TimeStampState}

    time_stamp: TimeStampState = TimeStampState.ABSENT
    time: str | None = None  # the time-stamp authority's time (ISO 8601)
    authority: str | None = None  # the time-stamp authority's name, as its certificate says
    inside_validity: bool | None = None
    basis: str = "verification-time"
    codes: tuple[str, ...] = ()  # the time-related validation codes seen


@dataclass(frozen=True)
class ProvenanceNode(_Result):
    """One manifest in the provenance chain: the asset itself (the root) or an ingredient.

    ``state`` is this node's own validation result now (``absent``: the ingredient carries no
    Content Credentials); ``failures`` are the codes that failed for it, ``recorded_failures``
    those its parent recorded when the ingredient was added (known then, so c2pa does not
    count them against the file). The descriptive fields (signer, generator, source type,
    identities) are empty when ``state`` is invalid: an invalid manifest is not shown as fact.
    """

    _states: ClassVar[dict[str, type[enum.Enum]]] = {"state": CredentialState}

    title: str | None = None
    format: str | None = None
    relationship: str | None = None  # parentOf | componentOf | inputTo (None for the root)
    manifest_label: str | None = None
    ingredient_label: str | None = None  # the ingredient assertion's label in the parent
    state: CredentialState = CredentialState.NOT_CHECKED
    failures: tuple[Issue, ...] = ()
    recorded_failures: tuple[Issue, ...] = ()
    signer: SignerInfo | None = None
    claim_generator: str | None = None
    digital_source_type: str | None = None
    identities: tuple[IdentityAssertion, ...] = ()
    thumbnail: Thumbnail | None = None
    ingredients: tuple[ProvenanceNode, ...] = ()
    omitted: int = 0  # ingredients left out (depth or size limit, or a cycle)


@dataclass(frozen=True)
class ManifestResult(_Result):
    """One manifest's own validation result, apart from its ingredients."""

    _states: ClassVar[dict[str, type[enum.Enum]]] = {"state": CredentialState}

    state: CredentialState
    failures: tuple[Issue, ...] = ()


@dataclass(frozen=True)
class IngredientFailure(_Result):
    """An ingredient whose credentials failed validation: where the file's check failed."""

    title: str | None
    manifest_label: str | None
    ingredient_label: str | None = None
    relationship: str | None = None
    path: tuple[str, ...] = ()  # titles from the asset down to this ingredient
    failures: tuple[Issue, ...] = ()


@dataclass(frozen=True)
class CredentialCheck(_Result):
    """What the C2PA manifest says and whether it is intact.

    ``state`` counts the active manifest and every ingredient, as c2pa-rs does, and is never
    better than ``reference_state`` (c2pa's own verdict). ``active_manifest_result`` judges the
    file's own manifest alone; ``ingredient_failures`` name the ingredients that failed.
    ``manifest`` (the active manifest's assertions) and the descriptive fields are filled only
    when ``state`` is valid or trusted: an invalid manifest's contents are not shown as fact.
    ``chain`` (the provenance tree) is filled when the file's own manifest is intact.
    """

    _states: ClassVar[dict[str, type[enum.Enum]]] = {
        "state": CredentialState,
        "hard_binding": HardBinding,
    }

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
    error: ErrorInfo | None = None
    # Notes that are not failures, e.g. signingCredential.untrusted (signer not in the anchors).
    informational: tuple[Issue, ...] = ()
    # Does the manifest's content hash match these bytes (None: not checked). For a manifest
    # recovered from the store, ``state`` judges the manifest itself and this says whether it
    # binds to the file at hand.
    hard_binding: HardBinding | None = None
    # 1.1: the reference validator's own state (c2pa-rs ``validation_state``, lower-cased), and
    # why veriframe's ``state`` is stricter when it is (None when they agree).
    reference_state: str | None = None
    stricter_than_reference: str | None = None
    # 1.1: the active manifest judged alone (its signature, hashes and assertions), apart
    # from its ingredients; and each ingredient that failed.
    active_manifest_result: ManifestResult | None = None
    ingredient_failures: tuple[IngredientFailure, ...] = ()
    # 1.1: the provenance chain (None when the active manifest itself fails), CAWG identity
    # assertions of the active manifest, and the signature's time.
    chain: ProvenanceNode | None = None
    identities: tuple[IdentityAssertion, ...] = ()
    time: TimeCheck | None = None


@dataclass(frozen=True)
class ContentDifference(_Result):
    """Where and when a recovered clip differs from the signed content (or carries an
    overlay): times in seconds of the received clip; ``region`` ``[x, y, w, h]`` as fractions
    of the received frame, None when the whole frame changed; ``score`` > 1 is past the
    threshold; ``change``: ``content`` (the picture changed), ``detail-lost`` (blurred or
    smoothed), ``detail-added``."""

    start_s: float
    end_s: float
    region: tuple[float, float, float, float] | None
    score: float
    change: str = "content"


@dataclass(frozen=True)
class RecoveredCredentials(_Result):
    """A stripped manifest found again: in the local store through the watermark's payload id
    (``source`` ``store``), or through a soft-binding resolver (``source`` ``resolver``)."""

    _states: ClassVar[dict[str, type[enum.Enum]]] = {"state": RecoveryState}

    state: RecoveryState
    store: str | None = None
    credentials: CredentialCheck | None = None
    fingerprint_distance: float | None = None
    detail: str = ""
    source: str = "store"  # store | resolver
    resolver: str | None = None  # the resolver's URL
    match_kind: str | None = None  # watermark | fingerprint (how the resolver found it)
    manifest_id: str | None = None
    # How the content was compared with what was signed: "segments" (segment-and-region
    # fingerprints), "global" (a manifest signed before them: one global fingerprint only),
    # "none" (nothing to compare with, or the video is nearly flat), "hard-binding" (the
    # clip's own intact manifest is the one found: its hash of the file's bytes matches, so
    # no picture was compared).
    comparison: str | None = None
    frame_coverage: float | None = None  # share of the signed picture compared
    compared_s: float | None = None  # seconds of the received clip compared ...
    received_s: float | None = None  # ... of its duration
    signed_s: float | None = None  # the signed clip's duration
    geometry: dict[str, Any] | None = None  # where the signed picture lies in this clip
    differences: tuple[ContentDifference, ...] = ()
    overlays: tuple[ContentDifference, ...] = ()


@dataclass(frozen=True)
class ResolverAttempt(_Result):
    """One resolver asked by ``verify``: its URL, what came of it, and why."""

    _states: ClassVar[dict[str, type[enum.Enum]]] = {"state": ResolverState}

    url: str
    state: ResolverState
    detail: str = ""
    match_kind: str | None = None
    manifest_id: str | None = None
    similarity: int | None = None  # the resolver's own score, 0..100
    fingerprint_distance: float | None = None  # measured here against the signed fingerprint


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

    _states: ClassVar[dict[str, type[enum.Enum]]] = {"state": WatermarkState}

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
    error: ErrorInfo | None = None
    resolvers: tuple[ResolverAttempt, ...] = ()  # soft-binding resolvers asked, in order


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

    _states: ClassVar[dict[str, type[enum.Enum]]] = {"state": DetectionState}

    state: DetectionState = DetectionState.NOT_CHECKED
    p_synthetic: float | None = None
    label: str | None = None  # from the policy's thresholds, when a policy was applied
    model: str | None = None
    signals: tuple[Signal, ...] = ()
    frame_scores: tuple[FrameScore, ...] = ()
    used_metadata: bool = True
    error: ErrorInfo | None = None
    inconclusive: str | None = None  # why the detector abstains (out of depth, uncertain)


@dataclass(frozen=True)
class Decision(_Result):
    """What a policy decided for this file."""

    _states: ClassVar[dict[str, type[enum.Enum]]] = {"state": DecisionState}

    state: DecisionState = DecisionState.NOT_CHECKED
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

    _states: ClassVar[dict[str, type[enum.Enum]]] = {"verdict": Verdict}

    file: FileInfo
    verdict: Verdict
    credentials: CredentialCheck = field(default_factory=CredentialCheck)
    watermark: WatermarkCheck = field(default_factory=WatermarkCheck)
    detection: DetectionCheck = field(default_factory=DetectionCheck)
    decision: Decision = field(default_factory=Decision)
    error: ErrorInfo | None = None
    schema: str = SCHEMA_VERIFY

    def to_dict(self) -> dict[str, Any]:
        """The ``veriframe.verify/1.2`` JSON document."""
        out: dict[str, Any] = {"schema": self.schema}
        for f in dataclasses.fields(self):
            if f.name != "schema":
                out[f.name] = to_jsonable(getattr(self, f.name))
        return out

    def exit_code(self, *, require_trusted: bool = False) -> ExitCode:
        """The documented exit code of ``veriframe verify`` for this report.

        ``require_trusted``: a signed or recovered file whose signer does not chain to a trust
        anchor exits :attr:`ExitCode.TAMPERED` instead of OK.
        """
        if self.verdict is Verdict.ERROR:
            return self.error.exit_code if self.error is not None else ExitCode.OPERATIONAL
        code = EXIT_FOR_VERDICT[self.verdict]
        if require_trusted and code is ExitCode.OK:
            creds = self.credentials
            if self.verdict is Verdict.RECOVERED:
                rec = self.watermark.recovered
                creds = rec.credentials if rec is not None else None  # type: ignore[assignment]
            if creds is None or creds.state is not CredentialState.TRUSTED:
                return ExitCode.TAMPERED
        return code

    def raise_for_error(self) -> VerifyReport:
        """Raise the report's error as a :class:`~veriframe.errors.VeriframeError` when the
        verification could not judge the file (verdict ``error``); else return the report."""
        if self.verdict is Verdict.ERROR:
            info = self.error or ErrorInfo(
                "verify.error", "the file could not be verified", kind=ErrorKind.OPERATIONAL
            )
            raise info.to_exception()
        return self


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
