"""The verify path: one probe, one bounded frame sample, then every check on that sample.

Credentials (C2PA) → watermark (+ manifest recovery through the store) → detector → policy.
Decoding is the expensive step, so frames are decoded once and handed to both the watermark
detector and the classifier. A verification that ran returns a :class:`VerifyReport`; an
exception means it could not run at all (a missing file, a directory).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veriframe.errors import ErrorInfo, MediaError, UnsupportedInputError, VeriframeError
from veriframe.results import (
    CredentialCheck,
    CredentialState,
    DetectionCheck,
    DetectionState,
    FileInfo,
    RecoveredCredentials,
    RecoveryState,
    Verdict,
    VerifyReport,
    WatermarkCheck,
    WatermarkState,
)
from veriframe.settings import Settings, resolve_settings

if TYPE_CHECKING:
    from veriframe.credentials.trust import TrustConfig
    from veriframe.detect import Detector
    from veriframe.media import FrameSample, Limits
    from veriframe.policy import Policy

NO_KEYS = ErrorInfo(
    "watermark.no-keys",
    "no watermark keys to search with",
    "run `veriframe keys init`, or name detection keys in VERIFRAME_WATERMARK_KEYS",
)


@dataclass(frozen=True)
class Verification:
    """A report together with the decoded frame sample it was made from (for HTML reports)."""

    report: VerifyReport
    sample: FrameSample | None


def verify(
    path: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    trust: TrustConfig | str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
    policy: Policy | str | None = None,
    detector: Detector | str | None = "default",
    watermark: bool = True,
    store: str | os.PathLike[str] | None = None,
    sample_count: int = 32,
    limits: Limits | None = None,
    resolvers: Sequence[str] | None = None,
) -> VerifyReport:
    """Check one file's provenance and return a :class:`VerifyReport`.

    ``settings`` says where the keys, store and trust anchors are (default: ``~/.veriframe``);
    ``home``, ``store``, ``limits`` override it. ``resolvers``: soft-binding resolvers to ask
    when the clip has no valid embedded manifest (added to ``settings.resolvers`` and the
    policy's); what they point to is validated here, never taken on their word. ``trust``: a
    :class:`TrustConfig`, or a PEM file of trust anchors added to the home's own CA.
    ``policy``: a shipped policy name or a
    path (none by default: ``decision`` says ``not_checked``). ``detector``: a model name, a
    loaded :class:`Detector`, or None to skip detection. Raises :class:`VeriframeError` only
    when the check cannot run at all (missing file, directory).
    """
    return verify_full(
        path,
        settings=settings,
        trust=trust,
        home=home,
        policy=policy,
        detector=detector,
        watermark=watermark,
        store=store,
        sample_count=sample_count,
        limits=limits,
        resolvers=resolvers,
    ).report


def verify_full(
    path: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    trust: TrustConfig | str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
    policy: Policy | str | None = None,
    detector: Detector | str | None = "default",
    watermark: bool = True,
    store: str | os.PathLike[str] | None = None,
    sample_count: int = 32,
    limits: Limits | None = None,
    resolvers: Sequence[str] | None = None,
) -> Verification:
    """Like :func:`verify`, also returning the decoded frame sample."""
    from veriframe import media
    from veriframe.credentials.read import read_credentials

    cfg = resolve_settings(settings, home=home, store=store, limits=limits)
    pol = _policy(policy)
    asked = _resolver_urls(cfg.resolvers, resolvers, pol.spec.resolvers if pol else ())
    file_path = Path(path)
    size = media.require_file(file_path).st_size
    trust_cfg = _trust(trust, cfg)
    # The C2PA read (native code) and the file hash run beside the decode (FFmpeg decodes in
    # its own threads), and so do the imports and the model load of the checks that come after
    # it: their cost hides behind the decode instead of adding to it.
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="veriframe-verify") as pool:
        credentials_job = pool.submit(read_credentials, file_path, trust=trust_cfg)
        sha_job = pool.submit(_sha256, file_path)
        model_job = pool.submit(_prepare_checks, detector, watermark)
        sample: media.FrameSample | None = None
        media_error: VeriframeError | None = None
        try:
            info = media.probe(file_path, limits=cfg.limits)
            sample = media.sample_frames(file_path, count=sample_count, info=info,
                                         limits=cfg.limits)
        except (MediaError, UnsupportedInputError) as exc:
            media_error = exc
        credentials = credentials_job.result()
        sha256 = sha_job.result()
        model = model_job.result()

    file_info = FileInfo(
        path=str(file_path),
        size_bytes=size,
        sha256=sha256,
        media=sample.info.to_dict() if sample is not None else None,
    )

    wm_check = WatermarkCheck()
    detection = DetectionCheck()
    if sample is not None:
        if watermark:
            wm_check = _watermark(sample, file_path, settings=cfg, trust=trust_cfg)
        if asked and _needs_resolvers(credentials, wm_check):
            wm_check = _ask_resolvers(wm_check, sample, file_path, urls=asked, settings=cfg,
                                      trust=trust_cfg)
        if detector is not None:
            detection = _detect(model, sample, credentials, wm_check)
    elif media_error is not None:
        reason = media_error.info
        wm_check = WatermarkCheck(state=WatermarkState.NOT_CHECKED, error=reason)
        detection = DetectionCheck(state=DetectionState.NOT_CHECKED, error=reason)

    verdict, error = _verdict(credentials, wm_check, media_error)
    report = VerifyReport(
        file=file_info,
        verdict=verdict,
        credentials=credentials,
        watermark=wm_check,
        detection=detection,
        error=error,
    )
    if pol is not None:
        report = pol.apply(report)
    return Verification(report=report, sample=sample)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _trust(trust: TrustConfig | str | os.PathLike[str] | None, settings: Settings) -> TrustConfig:
    from veriframe.credentials.trust import TrustConfig

    if isinstance(trust, TrustConfig):
        return trust
    trust_file = Path(trust) if trust is not None else settings.trust_file
    return TrustConfig.load(trust_file=trust_file, home=settings.home)


def watermark_keys(settings: Settings) -> list[Any]:
    """The detection keyring: the home's watermark keys, then ``settings.watermark_key_files``."""
    from veriframe import watermark
    from veriframe.credentials.keys import load_watermark_keys

    secrets = list(load_watermark_keys(home=settings.home))
    for item in settings.watermark_key_files:
        secrets.append(Path(item).read_bytes().strip())
    unique = list(dict.fromkeys(secrets))
    return [watermark.WatermarkKey(s) for s in unique]


def _watermark(
    sample: FrameSample, path: Path, *, settings: Settings, trust: TrustConfig
) -> WatermarkCheck:
    from veriframe import watermark

    key_error: ErrorInfo | None
    try:
        keys = watermark_keys(settings)
    except VeriframeError as exc:
        keys, key_error = [], exc.info
    else:
        key_error = None
    marks = watermark.known_marks(sample)
    if not keys:
        return WatermarkCheck(
            state=WatermarkState.NOT_CHECKED,
            known_generator_marks=marks,
            error=key_error or NO_KEYS,
        )
    check = watermark.detect(sample, keys=keys)
    check = replace(check, known_generator_marks=marks)
    if check.state is WatermarkState.PRESENT and check.payload_id:
        check = replace(
            check,
            recovered=_recover(check.payload_id, sample, path, settings.store_path, trust),
        )
    return check


def _recover(
    payload_id: str, sample: FrameSample, path: Path, store_path: Path, trust: TrustConfig
) -> RecoveredCredentials:
    from veriframe import watermark
    from veriframe.credentials.read import validate_manifest_bytes
    from veriframe.credentials.store import ManifestStore

    if not store_path.exists():
        return RecoveredCredentials(
            state=RecoveryState.NOT_FOUND,
            store=str(store_path),
            detail="no manifest store here; the mark's manifest cannot be looked up",
        )
    try:
        record = ManifestStore(store_path).get(payload_id)
    except VeriframeError as exc:
        return RecoveredCredentials(
            state=RecoveryState.ERROR, store=str(store_path), detail=exc.message
        )
    if record is None:
        return RecoveredCredentials(
            state=RecoveryState.NOT_FOUND,
            store=str(store_path),
            detail=f"payload {payload_id} is not in the manifest store",
        )
    creds = validate_manifest_bytes(
        record.manifest_store, asset_path=path, fmt=record.fmt, trust=trust
    )
    if creds.state not in (CredentialState.VALID, CredentialState.TRUSTED):
        return RecoveredCredentials(
            state=RecoveryState.INVALID,
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
                state=RecoveryState.MISMATCH,
                store=str(store_path),
                credentials=creds,
                fingerprint_distance=distance,
                detail="the watermark is genuine but this content does not match what was "
                "signed: the mark was copied onto another video, or the video was altered",
            )
    return RecoveredCredentials(
        state=RecoveryState.RECOVERED,
        store=str(store_path),
        credentials=creds,
        fingerprint_distance=distance,
        detail="credentials recovered through the watermark; signature re-validated" + note,
    )


def _prepare_checks(detector: Detector | str | None,
                    watermark: bool) -> Detector | VeriframeError | None:
    """Import the checks' modules and load the detector (run beside the decode)."""
    if watermark:
        import veriframe.watermark  # noqa: F401 - imported now, while FFmpeg decodes
    if detector is None:
        return None
    from veriframe.detect import Detector

    if isinstance(detector, Detector):
        return detector
    try:
        return Detector.load(detector)
    except VeriframeError as exc:
        return exc


def _detect(
    model: Detector | VeriframeError | None,
    sample: FrameSample,
    credentials: CredentialCheck,
    wm_check: WatermarkCheck,
) -> DetectionCheck:
    if isinstance(model, VeriframeError):
        return DetectionCheck(state=DetectionState.ERROR, error=model.info)
    assert model is not None
    try:
        return model.score(sample, credentials=credentials, watermark=wm_check)
    except VeriframeError as exc:
        return DetectionCheck(state=DetectionState.ERROR, error=exc.info)


def _policy(policy: Policy | str | None) -> Policy | None:
    from veriframe.policy import Policy, load_policy

    if policy is None or isinstance(policy, Policy):
        return policy
    return load_policy(policy)


def _resolver_urls(*lists: Sequence[str] | None) -> tuple[str, ...]:
    """Every resolver URL, in order, without repeats."""
    return tuple(dict.fromkeys(u.strip().rstrip("/") for lst in lists for u in (lst or ())
                               if u.strip()))


def _needs_resolvers(credentials: CredentialCheck, wm: WatermarkCheck) -> bool:
    """Ask resolvers only when the clip has no intact or tampered manifest of its own and the
    local store did not already recover (or contradict) one."""
    if credentials.state in (CredentialState.VALID, CredentialState.TRUSTED,
                             CredentialState.INVALID):
        return False
    rec = wm.recovered
    return rec is None or rec.state in (RecoveryState.NOT_FOUND, RecoveryState.ERROR)


def _ask_resolvers(wm: WatermarkCheck, sample: FrameSample, path: Path, *, urls: Sequence[str],
                   settings: Settings, trust: TrustConfig) -> WatermarkCheck:
    from veriframe.resolution import recover_via_resolvers

    attempts, recovered = recover_via_resolvers(
        path, sample, resolvers=urls, trust=trust, mode=settings.resolver_mode,
        timeout_s=settings.resolver_timeout_s)
    return replace(wm, resolvers=attempts, recovered=recovered or wm.recovered)


def _verdict(
    credentials: CredentialCheck, wm: WatermarkCheck, media_error: VeriframeError | None
) -> tuple[Verdict, ErrorInfo | None]:
    state = credentials.state
    if state in (CredentialState.VALID, CredentialState.TRUSTED):
        return Verdict.SIGNED, None
    if state is CredentialState.INVALID:
        return Verdict.TAMPERED, None
    recovered = wm.recovered
    if recovered is not None and recovered.state is RecoveryState.RECOVERED:
        return Verdict.RECOVERED, None
    if recovered is not None and recovered.state in (RecoveryState.MISMATCH, RecoveryState.INVALID):
        return Verdict.TAMPERED, None
    if state is CredentialState.ERROR:
        if media_error is not None:
            return Verdict.ERROR, media_error.info
        return Verdict.ERROR, credentials.error or ErrorInfo(
            "credentials.unreadable", "the credentials could not be read"
        )
    if media_error is not None:
        # No manifest and the pixels cannot be read: nothing was checked.
        return Verdict.ERROR, media_error.info
    return Verdict.UNSIGNED, None


__all__ = ["Verification", "verify", "verify_full", "watermark_keys"]
