"""Moderate files: verify each under a policy, one at a time or many in parallel.

``Moderator(policy="platform")`` loads the policy once (a bad policy fails here, not per
file), and the detector and trust anchors once per process. ``review(path)`` never raises
for a bad file: an unreadable file, a crash or a timeout becomes a :class:`ModerationResult`
with state ``error`` and the policy's fail-closed decision (review or block, never allow
unless the policy opts in with ``allow_errors``). ``review_many(paths, workers=N)`` runs the
self-healing process pool of :mod:`veriframe.moderation.pool`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from veriframe._text import clean_text
from veriframe.errors import ErrorInfo, ErrorKind, ScanError, VeriframeError
from veriframe.policy import Policy, load_policy
from veriframe.report import SCHEMA_SCAN
from veriframe.results import Decision, DecisionState, Verdict, VerifyReport
from veriframe.settings import Settings, resolve_settings

if TYPE_CHECKING:
    from veriframe.credentials import TrustConfig
    from veriframe.verification import Verifier


class ModerationState(str, enum.Enum):
    """Whether a file was moderated (``ok``) or could not be checked (``error``)."""

    OK = "ok"
    ERROR = "error"


class FileTimeout(BaseException):
    """Raised inside a worker when one file overruns its wall-clock budget.

    A ``BaseException`` so that broad ``except Exception`` blocks inside decoders or the
    verification cannot swallow it.
    """


@dataclass(frozen=True)
class ModerationResult:
    """The outcome of moderating one file.

    ``state`` is ``ok`` (verification ran and the policy decided) or ``error`` (it could not
    run; ``decision`` is the policy's fail-closed decision and ``error`` says why).
    """

    path: str
    state: ModerationState
    verdict: Verdict
    decision: Decision
    report: VerifyReport | None = None
    error: ErrorInfo | None = None
    elapsed_s: float = 0.0

    @property
    def label(self) -> str | None:
        """The decision's label (e.g. ``ai-generated``, ``tampered``)."""
        return self.decision.label

    @property
    def action(self) -> str | None:
        """The decision's action: allow, label, review or block."""
        return self.decision.action

    def to_dict(self) -> dict[str, Any]:
        """A flat row (``veriframe.scan/1``): scalars only, suited to JSONL and Parquet."""
        r = self.report
        cred = r.credentials if r is not None else None
        signer = cred.signer if cred is not None else None
        wm = r.watermark if r is not None else None
        det = r.detection if r is not None else None
        err = self.error or (r.error if r is not None else None)
        return {
            "schema": SCHEMA_SCAN,
            "path": self.path,
            "state": self.state.value,
            "verdict": self.verdict.value,
            "label": self.decision.label,
            "action": self.decision.action,
            "policy": self.decision.policy,
            "reasons": " | ".join(self.decision.reasons),
            "credentials_state": cred.state.value if cred is not None else None,
            "signer": signer.common_name if signer is not None else None,
            "signer_org": signer.organization if signer is not None else None,
            "issuer": signer.issuer if signer is not None else None,
            "signed_at": signer.signed_at if signer is not None else None,
            "claim_generator": cred.claim_generator if cred is not None else None,
            "digital_source_type": cred.digital_source_type if cred is not None else None,
            "failure_codes": ",".join(i.code for i in cred.failures) if cred is not None
            else None,
            "watermark_state": wm.state.value if wm is not None else None,
            "payload_id": wm.payload_id if wm is not None else None,
            "watermark_p_value": wm.p_value if wm is not None else None,
            "recovered_state": wm.recovered.state.value if wm is not None and wm.recovered
            else None,
            "detection_state": det.state.value if det is not None else None,
            "p_synthetic": det.p_synthetic if det is not None else None,
            "detector_model": det.model if det is not None else None,
            "error_code": err.code if err is not None else None,
            "error_message": err.message if err is not None else None,
            "size_bytes": r.file.size_bytes if r is not None else None,
            "sha256": r.file.sha256 if r is not None else None,
            "elapsed_s": round(self.elapsed_s, 4),
        }


# Column types of the flat row, for writers that need a schema (Parquet through Arrow).
ROW_TYPES: dict[str, type] = {
    "schema": str, "path": str, "state": str, "verdict": str, "label": str, "action": str,
    "policy": str, "reasons": str, "credentials_state": str, "signer": str, "signer_org": str,
    "issuer": str, "signed_at": str, "claim_generator": str, "digital_source_type": str,
    "failure_codes": str, "watermark_state": str, "payload_id": str,
    "watermark_p_value": float, "recovered_state": str, "detection_state": str,
    "p_synthetic": float, "detector_model": str, "error_code": str, "error_message": str,
    "size_bytes": int, "sha256": str, "elapsed_s": float,
}


@contextlib.contextmanager
def _budget(seconds: float | None) -> Iterator[None]:
    """Raise :class:`FileTimeout` after ``seconds`` of wall time (main thread, POSIX only)."""
    usable = (seconds is not None and seconds > 0 and hasattr(signal, "SIGALRM")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def _fire(signum: int, frame: Any) -> None:
        raise FileTimeout()

    previous = signal.signal(signal.SIGALRM, _fire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))  # type: ignore[arg-type]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Moderator:
    """Verify files and apply a policy; built for batch and service use.

    ``policy``: a shipped policy name, a TOML path or a loaded :class:`Policy`.
    ``settings``: home, store, trust file and limits (``home``/``store`` override it).
    ``trust``: a trust-anchor PEM path or a loaded ``TrustConfig`` (default: the settings').
    ``detector``: a detector name, or None to skip the detector. ``timeout_s``: wall-clock
    budget per file (enforced in the main thread of a process, i.e. in ``review_many``'s
    workers and in a plain script).
    """

    def __init__(
        self,
        policy: str | os.PathLike[str] | Policy = "platform",
        *,
        settings: Settings | None = None,
        trust: TrustConfig | str | os.PathLike[str] | None = None,
        detector: str | None = "default",
        home: str | os.PathLike[str] | None = None,
        store: str | os.PathLike[str] | None = None,
        sample_count: int = 32,
        timeout_s: float | None = None,
    ) -> None:
        self.policy = load_policy(policy)
        self.settings = resolve_settings(settings, home=home, store=store)
        self.trust = trust
        self.detector = detector
        self.sample_count = sample_count
        self.timeout_s = timeout_s
        self._verifier: Verifier | None = None

    # --- per-process resources --------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        """What a worker needs to rebuild this Moderator (picklable; the class by reference)."""
        return {
            "cls": type(self),
            "policy": self.policy,
            "settings": self.settings,
            "trust": self.trust if not isinstance(self.trust, os.PathLike) else str(self.trust),
            "detector": self.detector,
            "sample_count": self.sample_count,
            "timeout_s": self.timeout_s,
        }

    def warm(self) -> None:
        """Build this process's :class:`~veriframe.verification.Verifier` now (once per
        process): trust anchors, watermark keys, and the detector."""
        if self._verifier is not None:
            return
        import dataclasses

        from veriframe.credentials import TrustConfig
        from veriframe.verification import Verifier

        cfg = dataclasses.replace(self.settings, detector=self.detector,
                                  sample_count=self.sample_count, policy=None)
        loaded: TrustConfig | None = None
        if isinstance(self.trust, TrustConfig):
            loaded = self.trust
        elif self.trust is not None:  # a PEM file of extra anchors
            cfg = cfg.replace(trust_file=self.trust)
        verifier = Verifier(cfg, policy=self.policy, trust=loaded)
        verifier.detector()  # a detector that cannot load is reported per file
        self._verifier = verifier

    # --- one file ---------------------------------------------------------------------

    def error_result(self, path: str | os.PathLike[str], *, code: str, message: str,
                     hint: str = "", kind: ErrorKind = ErrorKind.OPERATIONAL,
                     elapsed_s: float = 0.0) -> ModerationResult:
        """The fail-closed result for a file that could not be checked."""
        decision = self.policy.error_decision(code=code, message=message)
        return ModerationResult(path=str(path), state=ModerationState.ERROR,
                                verdict=Verdict.ERROR, decision=decision,
                                error=ErrorInfo(code, message, hint, kind),
                                elapsed_s=elapsed_s)

    def verify(self, path: str | os.PathLike[str]) -> VerifyReport:
        """Verify ``path`` with this process's Verifier (this Moderator's settings, policy,
        trust anchors and detector)."""
        self.warm()
        assert self._verifier is not None
        return self._verifier.verify(path).report

    def review(self, path: str | os.PathLike[str]) -> ModerationResult:
        """Verify ``path`` and decide under the policy; never raises for a bad file."""
        start = time.perf_counter()
        try:
            with _budget(self.timeout_s):
                report = self.verify(path)
        except FileTimeout:
            return self.error_result(path, code="scan.timeout",
                                     message=f"over the {self.timeout_s:g} s budget per file",
                                     hint="raise --timeout-per-file, or check the file",
                                     elapsed_s=time.perf_counter() - start)
        except VeriframeError as exc:
            return self.error_result(path, code=exc.code, message=exc.message, hint=exc.hint,
                                     kind=exc.kind, elapsed_s=time.perf_counter() - start)
        except Exception as exc:  # a bug or a library failure: one file, not the batch
            return self.error_result(path, code="internal",
                                     message=f"unexpected {type(exc).__name__}: "
                                             f"{clean_text(exc, max_len=300)}",
                                     hint="this is a bug in veriframe; please report it",
                                     kind=ErrorKind.INTERNAL, elapsed_s=time.perf_counter() - start)
        elapsed = time.perf_counter() - start
        if report.decision.state is not DecisionState.DECIDED:  # verify ran without a policy
            report = self.policy.apply(report)
        state = ModerationState.ERROR if report.verdict is Verdict.ERROR else ModerationState.OK
        return ModerationResult(path=str(path), state=state, verdict=report.verdict,
                                decision=report.decision, report=report, error=report.error,
                                elapsed_s=elapsed)

    async def areview(self, path: str | os.PathLike[str]) -> ModerationResult:
        """``review`` for asyncio code: runs in the loop's default executor (a thread).

        The per-file budget is not enforced in threads; use ``review_many`` for that.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.review, path)

    # --- many files -------------------------------------------------------------------

    def review_many(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        workers: int = 2,
        window: int | None = None,
    ) -> Iterator[ModerationResult]:
        """Review ``paths`` in ``workers`` processes; yield results in completion order.

        At most ``window`` files (default ``2 * workers``) are in flight at once. With
        ``workers=0`` the files are reviewed one by one in this process.
        """
        if workers < 0:
            raise ScanError("scan.workers", f"workers must be >= 0, not {workers}",
                                 "use --workers 1 or more")
        if workers == 0:
            for p in paths:
                yield self.review(p)
            return
        from veriframe.moderation.pool import PoolRun

        yield from PoolRun(self, workers=workers, window=window or 2 * workers).run(paths)


