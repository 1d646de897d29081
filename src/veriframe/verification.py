"""The verify path: one probe, one bounded frame sample, then every check on that sample.

Credentials (C2PA) → watermark (+ manifest recovery through the store) → detector → policy.
Decoding is the expensive step, so frames are decoded once and handed to both the watermark
detector and the classifier. A verification that ran returns a :class:`VerifyReport`; an
exception means it could not run at all (a missing file, a directory).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veriframe.config import Paths
from veriframe.errors import (
    EXIT_OPERATIONAL,
    EXIT_UNSUPPORTED,
    INPUT_ERROR_CODES,
    MediaError,
    UnsupportedInputError,
    VeriframeError,
)
from veriframe.results import (
    CredentialCheck,
    CredentialState,
    Decision,
    DetectionCheck,
    FileInfo,
    RecoveredCredentials,
    Verdict,
    VerifyReport,
    WatermarkCheck,
    WatermarkState,
)

if TYPE_CHECKING:
    from veriframe.credentials.trust import TrustConfig
    from veriframe.detect import Detector
    from veriframe.media import FrameSample, Limits
    from veriframe.policy import Policy

EXIT_VALID = 0
EXIT_TAMPERED = 2
EXIT_NO_PROVENANCE = 3


@dataclass(frozen=True)
class Verification:
    """A report together with the decoded frame sample it was made from (for HTML reports)."""

    report: VerifyReport
    sample: FrameSample | None


def exit_code(report: VerifyReport, *, require_trusted: bool = False) -> int:
    """The documented exit code for a report (see ``veriframe verify --help``)."""
    verdict = report.verdict
    if verdict is Verdict.SIGNED:
        if require_trusted and report.credentials.state is not CredentialState.TRUSTED:
            return EXIT_TAMPERED
        return EXIT_VALID
    if verdict is Verdict.RECOVERED:
        recovered = report.watermark.recovered
        creds = recovered.credentials if recovered else None
        if require_trusted and (creds is None or creds.state is not CredentialState.TRUSTED):
            return EXIT_TAMPERED
        return EXIT_VALID
    if verdict is Verdict.TAMPERED:
        return EXIT_TAMPERED
    if verdict is Verdict.UNSIGNED:
        return EXIT_NO_PROVENANCE
    code = (report.error or {}).get("code", "")
    return (
        EXIT_UNSUPPORTED
        if code in INPUT_ERROR_CODES or code.startswith("credentials.unsupported")
        else EXIT_OPERATIONAL
    )


def verify(
    path: str | os.PathLike[str],
    *,
    trust: TrustConfig | str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
    policy: Policy | str | None = None,
    detector: Detector | str | None = "default",
    watermark: bool = True,
    store: str | os.PathLike[str] | None = None,
    sample_count: int = 32,
    limits: Limits | None = None,
) -> VerifyReport:
    """Check one file's provenance and return a :class:`VerifyReport`.

    ``trust``: a :class:`TrustConfig`, or a PEM file of trust anchors; by default the anchors
    from ``$VERIFRAME_TRUST`` and the user's own CA. ``policy``: a shipped policy name or a
    path (none by default: ``decision`` says ``not_checked``). ``detector``: a model name, a
    loaded :class:`Detector`, or None to skip detection. Raises :class:`VeriframeError` only
    when the check cannot run at all (missing file, directory).
    """
    return verify_full(
        path,
        trust=trust,
        home=home,
        policy=policy,
        detector=detector,
        watermark=watermark,
        store=store,
        sample_count=sample_count,
        limits=limits,
    ).report


def verify_full(
    path: str | os.PathLike[str],
    *,
    trust: TrustConfig | str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
    policy: Policy | str | None = None,
    detector: Detector | str | None = "default",
    watermark: bool = True,
    store: str | os.PathLike[str] | None = None,
    sample_count: int = 32,
    limits: Limits | None = None,
) -> Verification:
    """Like :func:`verify`, also returning the decoded frame sample."""
    from veriframe import media
    from veriframe.credentials.read import read_credentials

    file_path = Path(path)
    _check_exists(file_path)
    trust_cfg = _trust(trust, home)
    size = file_path.stat().st_size
    credentials = read_credentials(file_path, trust=trust_cfg)

    sample: media.FrameSample | None = None
    media_error: VeriframeError | None = None
    try:
        info = media.probe(file_path, limits=limits)
        sample = media.sample_frames(file_path, count=sample_count, info=info, limits=limits)
    except (MediaError, UnsupportedInputError) as exc:
        media_error = exc

    file_info = FileInfo(
        path=str(file_path),
        size_bytes=size,
        sha256=_sha256(file_path),
        media=sample.info.to_dict() if sample is not None else None,
    )

    wm_check = WatermarkCheck()
    detection = DetectionCheck()
    if sample is not None:
        if watermark:
            wm_check = _watermark(sample, file_path, home=home, store=store, trust=trust_cfg)
        if detector is not None:
            detection = _detect(detector, sample, credentials, wm_check)
    elif media_error is not None:
        reason = media_error.to_dict()
        wm_check = WatermarkCheck(state=WatermarkState.NOT_CHECKED, error=reason)
        detection = DetectionCheck(state="not_checked", error=reason)

    verdict, error = _verdict(credentials, wm_check, media_error)
    report = VerifyReport(
        file=file_info,
        verdict=verdict,
        credentials=credentials,
        watermark=wm_check,
        detection=detection,
        error=error,
    )
    if policy is not None:
        report = replace(report, decision=_decide(policy, report))
    return Verification(report=report, sample=sample)


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise MediaError("media.not-found", f"{path} does not exist", "check the path")
    if path.is_dir():
        raise MediaError(
            "media.is-directory",
            f"{path} is a directory",
            "verify takes one file; use `veriframe scan DIR` for a folder",
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _trust(
    trust: TrustConfig | str | os.PathLike[str] | None, home: str | os.PathLike[str] | None
) -> TrustConfig:
    from veriframe.credentials.trust import TrustConfig

    if isinstance(trust, TrustConfig):
        return trust
    return TrustConfig.load(trust_file=Path(trust) if trust is not None else None, home=home)


def _watermark_keys(home: str | os.PathLike[str] | None) -> list[Any]:
    from veriframe import watermark
    from veriframe.credentials.keys import load_watermark_keys

    secrets = list(load_watermark_keys(home=home))
    extra = os.environ.get("VERIFRAME_WATERMARK_KEYS", "")
    for item in filter(None, extra.split(os.pathsep)):
        secrets.append(Path(item).read_bytes().strip())
    unique = list(dict.fromkeys(secrets))
    return [watermark.WatermarkKey(s) for s in unique]


def _watermark(
    sample: FrameSample,
    path: Path,
    *,
    home: str | os.PathLike[str] | None,
    store: str | os.PathLike[str] | None,
    trust: TrustConfig,
) -> WatermarkCheck:
    from veriframe import watermark

    key_error: dict[str, str] | None
    try:
        keys = _watermark_keys(home)
    except VeriframeError as exc:
        keys, key_error = [], exc.to_dict()
    else:
        key_error = None
    marks = watermark.known_marks(sample) if watermark.known_marks_available() else ()
    if not keys:
        return WatermarkCheck(
            state=WatermarkState.NOT_CHECKED,
            known_generator_marks=marks,
            error=key_error
            or {
                "code": "watermark.no-keys",
                "message": "no watermark keys to search with",
                "hint": "run `veriframe keys init`, or name detection keys in "
                "VERIFRAME_WATERMARK_KEYS",
            },
        )
    check = watermark.detect(sample, keys=keys)
    check = replace(check, known_generator_marks=marks)
    if check.state is WatermarkState.PRESENT and check.payload_id:
        check = replace(
            check, recovered=_recover(check.payload_id, sample, path, home, store, trust)
        )
    return check


def _recover(
    payload_id: str,
    sample: FrameSample,
    path: Path,
    home: str | os.PathLike[str] | None,
    store: str | os.PathLike[str] | None,
    trust: TrustConfig,
) -> RecoveredCredentials:
    from veriframe import watermark
    from veriframe.credentials.read import validate_manifest_bytes
    from veriframe.credentials.store import ManifestStore

    store_path = Path(store) if store is not None else Paths.resolve(home).store
    if not store_path.exists():
        return RecoveredCredentials(
            state="not_found",
            store=str(store_path),
            detail="no manifest store here; the mark's manifest cannot be looked up",
        )
    try:
        record = ManifestStore(store_path).get(payload_id)
    except VeriframeError as exc:
        return RecoveredCredentials(state="error", store=str(store_path), detail=exc.message)
    if record is None:
        return RecoveredCredentials(
            state="not_found",
            store=str(store_path),
            detail=f"payload {payload_id} is not in the manifest store",
        )
    creds = validate_manifest_bytes(
        record.manifest_store, asset_path=path, fmt=record.fmt, trust=trust
    )
    if creds.state not in (CredentialState.VALID, CredentialState.TRUSTED):
        return RecoveredCredentials(
            state="invalid",
            store=str(store_path),
            credentials=creds,
            detail="the stored manifest's signature does not validate",
        )
    distance: float | None = None
    note = ""
    if record.fingerprint and watermark.structure(sample) < watermark.MIN_STRUCTURE:
        note = (
            " (content fingerprint inconclusive: the video is nearly flat, so whether it is "
            "the signed content cannot be told)"
        )
    elif record.fingerprint:
        try:
            distance = watermark.fingerprint_distance(
                watermark.fingerprint(sample), record.fingerprint
            )
        except VeriframeError as exc:
            note = f" (content fingerprint not compared: {exc.message})"
        if distance is not None and distance > watermark.MATCH_THRESHOLD:
            return RecoveredCredentials(
                state="mismatch",
                store=str(store_path),
                credentials=creds,
                fingerprint_distance=distance,
                detail="the watermark is genuine but this content does not match what was "
                "signed: the mark was copied onto another video, or the video was altered",
            )
    return RecoveredCredentials(
        state="recovered",
        store=str(store_path),
        credentials=creds,
        fingerprint_distance=distance,
        detail="credentials recovered through the watermark; signature re-validated" + note,
    )


def _detect(
    detector: Detector | str,
    sample: FrameSample,
    credentials: CredentialCheck,
    wm_check: WatermarkCheck,
) -> DetectionCheck:
    from veriframe.detect import Detector

    try:
        model = detector if isinstance(detector, Detector) else Detector.load(detector)
        return model.score(sample, credentials=credentials, watermark=wm_check)
    except VeriframeError as exc:
        return DetectionCheck(state="error", error=exc.to_dict())


def _decide(policy: Policy | str, report: VerifyReport) -> Decision:
    from veriframe.policy import Policy, load_policy

    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    return pol.decide(report)


def _verdict(
    credentials: CredentialCheck, wm: WatermarkCheck, media_error: VeriframeError | None
) -> tuple[Verdict, dict[str, str] | None]:
    state = credentials.state
    if state in (CredentialState.VALID, CredentialState.TRUSTED):
        return Verdict.SIGNED, None
    if state is CredentialState.INVALID:
        return Verdict.TAMPERED, None
    recovered = wm.recovered
    if recovered is not None and recovered.state == "recovered":
        return Verdict.RECOVERED, None
    if recovered is not None and recovered.state in ("mismatch", "invalid"):
        return Verdict.TAMPERED, None
    if state is CredentialState.ERROR:
        if media_error is not None:
            return Verdict.ERROR, media_error.to_dict()
        return Verdict.ERROR, credentials.error or {
            "code": "credentials.unreadable",
            "message": "the credentials could not be read",
            "hint": "",
        }
    if media_error is not None:
        # No manifest and the pixels cannot be read: nothing was checked.
        return Verdict.ERROR, media_error.to_dict()
    return Verdict.UNSIGNED, None
