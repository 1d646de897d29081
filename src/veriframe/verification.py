"""The verify path: one probe, one bounded frame sample, then every check on that sample.

Credentials (C2PA) → watermark (+ manifest recovery through the store) → detector → policy.
Decoding is the expensive step, so frames are decoded once and handed to both the watermark
detector and the classifier. A verification that ran returns a :class:`VerifyReport`; an
exception means it could not run at all (a missing file, a directory).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from veriframe._hashing import sha256_file
from veriframe.errors import ErrorInfo, MediaError, UnsupportedInputError, VeriframeError
from veriframe.results import (
    CredentialCheck,
    CredentialState,
    DetectionCheck,
    DetectionState,
    FileInfo,
    KnownMark,
    RecoveryState,
    Verdict,
    VerifyReport,
    WatermarkCheck,
    WatermarkState,
)
from veriframe.settings import Settings, resolve_settings

if TYPE_CHECKING:
    from veriframe.credentials import TrustConfig
    from veriframe.detect import Detector
    from veriframe.detect.features import ForensicFeatures
    from veriframe.media import FrameSample, Limits
    from veriframe.policy import Policy
    from veriframe.watermark import WatermarkKey

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


class Verifier:
    """Checks files' provenance; built once, then :meth:`verify` any number of files.

    Everything a verification needs is resolved here, once: the settings (home, store, limits,
    resolvers, the detector and policy names), the trust anchors, the watermark keyring, the
    policy; the detector is loaded on first use, beside the first decode. The CLI, the verify
    service, :class:`~veriframe.moderation.Moderator` and the resolver each build one.
    ``policy`` and ``trust``: already loaded objects, used instead of the settings' names.
    A key or trust problem does not stop construction: each report then says what could not
    be checked.
    """

    def __init__(self, settings: Settings | None = None, *, policy: Policy | None = None,
                 trust: TrustConfig | None = None) -> None:
        from veriframe.credentials import TrustConfig
        from veriframe.policy import load_policy

        self.settings = settings if settings is not None else Settings()
        cfg = self.settings
        self.policy = policy if policy is not None else (
            load_policy(cfg.policy) if cfg.policy is not None else None)
        self.trust = trust if trust is not None else TrustConfig.load(
            trust_file=cfg.trust_file, home=cfg.home)
        self.resolvers = _resolver_urls(cfg.resolvers,
                                        self.policy.spec.resolvers if self.policy else ())
        self._secrets, self.key_error = _load_secrets(cfg) if cfg.watermark else ([], None)
        self._keys: list[WatermarkKey] | None = None
        self._detector: Detector | VeriframeError | None = None
        self._detector_lock = threading.Lock()

    @property
    def keys(self) -> list[WatermarkKey]:
        """The watermark keyring (read from disk once, at construction; the key objects are
        made on first use, so that building a Verifier does not import the mark search)."""
        if self._keys is None:
            from veriframe.watermark import WatermarkKey

            try:
                self._keys = [WatermarkKey(s) for s in self._secrets]
            except VeriframeError as exc:  # a key file of the wrong size
                self._keys, self.key_error = [], exc.info
        return self._keys

    def variant(self, *, policy: Policy | None, detect: bool = True) -> Verifier:
        """This Verifier with another policy (None: no decision) and detection on or off,
        sharing its trust anchors, keys and loaded detector (cheap: nothing is loaded again)."""
        other = copy.copy(self)
        other.policy = policy
        other.resolvers = _resolver_urls(self.settings.resolvers,
                                         policy.spec.resolvers if policy else ())
        if not detect:
            other.settings = dataclasses.replace(self.settings, detector=None)
        return other

    def detector(self) -> Detector | VeriframeError | None:
        """The detector (loaded once), its load error, or None when detection is off."""
        if self.settings.detector is None:
            return None
        with self._detector_lock:
            if self._detector is None:
                from veriframe.detect import Detector

                try:
                    self._detector = Detector.load(self.settings.detector)
                except VeriframeError as exc:
                    self._detector = exc
            return self._detector

    def verify(self, path: str | os.PathLike[str]) -> Verification:
        """Check one file; return its :class:`VerifyReport` and the frames it was made from.

        Raises :class:`VeriframeError` only when the check cannot run at all (missing file,
        directory); whatever the file holds, a report comes back.
        """
        from veriframe import media
        from veriframe.credentials import read_credentials

        cfg = self.settings
        file_path = Path(path)
        size = media.require_file(file_path).st_size
        # The C2PA read (native code) and the file hash run beside the decode (FFmpeg decodes
        # in its own threads), and so do the imports and the model load of the checks that
        # come after it: their cost hides behind the decode instead of adding to it.
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="veriframe-verify") as pool:
            credentials_job = pool.submit(read_credentials, file_path, trust=self.trust)
            sha_job = pool.submit(sha256_file, file_path)
            model_job = pool.submit(self._prepare_checks)
            sample: media.FrameSample | None = None
            media_error: VeriframeError | None = None
            try:
                info = media.probe(file_path, limits=cfg.limits)
                sample = media.sample_runs(file_path, count=cfg.sample_count, info=info,
                                             limits=cfg.limits)
            except (MediaError, UnsupportedInputError) as exc:
                media_error = exc
            credentials = credentials_job.result()
            sha256 = sha_job.result()
            model = model_job.result()
            wm_check = WatermarkCheck()
            detection = DetectionCheck()
            if sample is not None:
                # the detector's features are worked out beside the mark search (both are
                # numpy work that mostly runs outside the GIL)
                features_job = (pool.submit(model.features, sample)
                                if model is not None and not isinstance(model, VeriframeError)
                                else None)
                if cfg.watermark:
                    # and so is the check for known generators' marks (it needs no key)
                    from veriframe.watermark import known_marks

                    marks_job = pool.submit(known_marks, sample)
                    wm_check = self._watermark(sample, file_path, credentials, marks_job)
                if self.resolvers and _needs_resolvers(credentials, wm_check):
                    wm_check = self._ask_resolvers(wm_check, sample, file_path)
                if cfg.detector is not None:
                    detection = _detect(model, sample, credentials, wm_check, features_job)

        file_info = FileInfo(
            path=str(file_path),
            size_bytes=size,
            sha256=sha256,
            media=sample.info.to_dict() if sample is not None else None,
        )
        if sample is None and media_error is not None:
            reason = media_error.info
            wm_check = WatermarkCheck(state=WatermarkState.NOT_CHECKED, error=reason)
            detection = DetectionCheck(state=DetectionState.NOT_CHECKED, error=reason)

        verdict, error = _verdict(credentials, wm_check, media_error)
        report = VerifyReport(file=file_info, verdict=verdict, credentials=credentials,
                              watermark=wm_check, detection=detection, error=error)
        if self.policy is not None:
            report = self.policy.apply(report)
        return Verification(report=report, sample=sample)

    def _prepare_checks(self) -> Detector | VeriframeError | None:
        """Import the checks' modules and load the detector (run beside the decode)."""
        if self.settings.watermark:  # imported now, while FFmpeg decodes
            import veriframe.watermark.known

            if self._secrets:  # without a key the search does not run: no SciPy for it
                import veriframe.watermark.search  # noqa: F401
        return self.detector()

    def _watermark(self, sample: FrameSample, path: Path, credentials: CredentialCheck,
                   marks: Future[tuple[KnownMark, ...]]) -> WatermarkCheck:
        """The mark search under this Verifier's keys, with the known generators' marks that
        ``marks`` finds beside it."""
        from veriframe import recovery, watermark

        if not self.keys:
            return WatermarkCheck(state=WatermarkState.NOT_CHECKED,
                                  known_generator_marks=marks.result(),
                                  error=self.key_error or NO_KEYS)
        check = replace(watermark.detect(sample, keys=self.keys),
                        known_generator_marks=marks.result())
        if check.state is WatermarkState.PRESENT and check.payload_id:
            clip = recovery.Received(path, sample, check, self.settings.limits)
            check = replace(check, recovered=recovery.from_store(
                check.payload_id, clip, store_path=self.settings.store_path, trust=self.trust,
                own=credentials))
        return check

    def _ask_resolvers(self, wm: WatermarkCheck, sample: FrameSample,
                       path: Path) -> WatermarkCheck:
        from veriframe import recovery

        clip = recovery.Received(path, sample, wm, self.settings.limits)
        attempts, recovered = recovery.via_resolvers(
            clip, resolvers=self.resolvers, trust=self.trust, mode=self.settings.resolver_mode,
            timeout_s=self.settings.resolver_timeout_s)
        return replace(wm, resolvers=attempts, recovered=recovered or wm.recovered)


def verify(
    path: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    home: str | os.PathLike[str] | None = None,
    store: str | os.PathLike[str] | None = None,
    trust: str | os.PathLike[str] | None = None,
    policy: str | None = None,
    detector: str | None = "default",
    watermark: bool = True,
    sample_count: int = 32,
    limits: Limits | None = None,
    resolvers: Sequence[str] | None = None,
) -> VerifyReport:
    """Check one file's provenance and return a :class:`VerifyReport`.

    A thin wrapper over :class:`Verifier` for one file (build a ``Verifier`` to check many).
    ``settings`` says where the keys, store and trust anchors are (default: ``~/.veriframe``);
    the keyword arguments override it: ``trust`` a PEM file of extra trust anchors, ``policy``
    a shipped policy name or a TOML path (none by default: ``decision`` says
    ``not_checked``), ``detector`` a model name or None to skip detection, ``resolvers``
    soft-binding resolvers to ask when the clip has no valid embedded manifest (added to the
    settings' and the policy's; what they point to is validated here, never taken on their
    word). Raises :class:`VeriframeError` only when the check cannot run at all.
    """
    cfg = resolve_settings(settings, home=home, store=store, limits=limits)
    cfg = dataclasses.replace(
        cfg.replace(trust_file=trust, policy=policy),
        detector=detector, watermark=watermark, sample_count=sample_count,
        resolvers=_resolver_urls(cfg.resolvers, resolvers))
    return Verifier(cfg).verify(path).report


def _load_secrets(settings: Settings) -> tuple[list[bytes], ErrorInfo | None]:
    """The detection keyring's secrets: the home's watermark keys, then
    ``settings.watermark_key_files`` (without repeats); or the reason there is none."""
    from veriframe.credentials import load_watermark_keys

    try:
        secrets = list(load_watermark_keys(home=settings.home))
        for item in settings.watermark_key_files:
            secrets.append(Path(item).read_bytes().strip())
    except VeriframeError as exc:
        return [], exc.info
    except OSError as exc:
        return [], ErrorInfo("watermark.key-unreadable", f"a watermark key file cannot be "
                             f"read: {exc.strerror}", "check VERIFRAME_WATERMARK_KEYS")
    return list(dict.fromkeys(secrets)), None


def _detect(
    model: Detector | VeriframeError | None,
    sample: FrameSample,
    credentials: CredentialCheck,
    wm_check: WatermarkCheck,
    features: Future[ForensicFeatures] | None = None,
) -> DetectionCheck:
    if isinstance(model, VeriframeError):
        return DetectionCheck(state=DetectionState.ERROR, error=model.info)
    assert model is not None
    try:
        return model.score(sample, credentials=credentials, watermark=wm_check,
                           forensic=features.result() if features is not None else None)
    except VeriframeError as exc:
        return DetectionCheck(state=DetectionState.ERROR, error=exc.info)


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
    if recovered is not None and recovered.state in (RecoveryState.EDITED, RecoveryState.MISMATCH,
                                                     RecoveryState.INVALID):
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


__all__ = ["Verification", "Verifier", "verify"]
