"""Moderation pipelines: verify files under a policy, one at a time or many in parallel.

``Moderator(policy="platform")`` loads the policy once (a bad policy fails here, not per
file), and the detector and trust anchors once per process. ``review(path)`` never raises
for a bad file: an unreadable file, a crash or a timeout becomes a :class:`ModerationResult`
with state ``error`` and the policy's fail-closed decision (review or block, never allow
unless the policy opts in with ``allow_errors``).

``review_many(paths, workers=N)`` runs a process pool whose workers each build their own
Moderator once (the initializer), keeps a bounded window of files in flight (so millions of
paths never become millions of futures), yields results in completion order, and survives
workers that crash or hang: a file that kills its worker or overruns its wall-clock budget
becomes an ``error`` result, and the other files are retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veriframe.errors import VeriframeError
from veriframe.policy import Policy, load_policy
from veriframe.report.json_report import SCHEMA_SCAN
from veriframe.report.text import clean_text
from veriframe.results import Decision, Verdict, VerifyReport

if TYPE_CHECKING:
    from veriframe.credentials.trust import TrustConfig

# Hard backstop in the parent: a file may take this multiple of its budget (+ grace) from
# submission before its worker is killed (it may have waited behind one other file).
_HARD_FACTOR = 3.0
_HARD_GRACE_S = 30.0


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
    state: str
    verdict: str
    decision: Decision
    report: VerifyReport | None = None
    error: dict[str, str] | None = None
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
        err = self.error or (r.error if r is not None else None) or {}
        return {
            "schema": SCHEMA_SCAN,
            "path": self.path,
            "state": self.state,
            "verdict": self.verdict,
            "label": self.decision.label,
            "action": self.decision.action,
            "policy": self.decision.policy,
            "reasons": " | ".join(self.decision.reasons),
            "credentials_state": _value(cred.state) if cred is not None else None,
            "signer": signer.common_name if signer is not None else None,
            "signer_org": signer.organization if signer is not None else None,
            "issuer": signer.issuer if signer is not None else None,
            "signed_at": signer.signed_at if signer is not None else None,
            "claim_generator": cred.claim_generator if cred is not None else None,
            "digital_source_type": cred.digital_source_type if cred is not None else None,
            "failure_codes": ",".join(i.code for i in cred.failures) if cred is not None
            else None,
            "watermark_state": _value(wm.state) if wm is not None else None,
            "payload_id": wm.payload_id if wm is not None else None,
            "watermark_p_value": wm.p_value if wm is not None else None,
            "recovered_state": wm.recovered.state if wm is not None and wm.recovered else None,
            "detection_state": det.state if det is not None else None,
            "p_synthetic": det.p_synthetic if det is not None else None,
            "detector_model": det.model if det is not None else None,
            "error_code": err.get("code"),
            "error_message": err.get("message"),
            "size_bytes": r.file.size_bytes if r is not None else None,
            "sha256": r.file.sha256 if r is not None else None,
            "elapsed_s": round(self.elapsed_s, 4),
        }


def _value(state: Any) -> str:
    return str(getattr(state, "value", state))


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
    ``trust``: a trust-anchor PEM path or a loaded ``TrustConfig`` (default: the user's).
    ``detector``: a detector name, or None to skip the detector. ``timeout_s``: wall-clock
    budget per file (enforced in the main thread of a process, i.e. in ``review_many``'s
    workers and in a plain script).
    """

    def __init__(
        self,
        policy: str | os.PathLike[str] | Policy = "platform",
        *,
        trust: TrustConfig | str | os.PathLike[str] | None = None,
        detector: str | None = "default",
        home: str | os.PathLike[str] | None = None,
        store: str | os.PathLike[str] | None = None,
        sample_count: int = 32,
        timeout_s: float | None = None,
    ) -> None:
        self.policy = load_policy(policy)
        self.trust = trust
        self.detector = detector
        self.home = home
        self.store = store
        self.sample_count = sample_count
        self.timeout_s = timeout_s
        self._loaded: dict[str, Any] | None = None

    # --- per-process resources --------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        """What a worker needs to rebuild this Moderator (picklable; the class by reference)."""
        return {
            "cls": type(self),
            "policy": self.policy,
            "trust": self.trust if not isinstance(self.trust, os.PathLike) else str(self.trust),
            "detector": self.detector,
            "home": None if self.home is None else str(self.home),
            "store": None if self.store is None else str(self.store),
            "sample_count": self.sample_count,
            "timeout_s": self.timeout_s,
        }

    def warm(self) -> None:
        """Load the detector and the trust anchors now (once per process)."""
        if self._loaded is not None:
            return
        loaded: dict[str, Any] = {"trust": self.trust, "detector": self.detector}
        with contextlib.suppress(VeriframeError, ImportError):
            from veriframe.credentials.trust import TrustConfig

            if not isinstance(self.trust, TrustConfig):
                loaded["trust"] = TrustConfig.load(
                    trust_file=Path(self.trust) if self.trust is not None else None,
                    home=self.home)
        if isinstance(self.detector, str):
            # A detector that cannot load stays a name: verify then reports a detection error
            # for each file, and the policy fails closed on it.
            with contextlib.suppress(VeriframeError, ImportError):
                from veriframe.detect import Detector

                loaded["detector"] = Detector.load(self.detector)
        self._loaded = loaded

    # --- one file ---------------------------------------------------------------------

    def error_result(self, path: str | os.PathLike[str], *, code: str, message: str,
                     hint: str = "", elapsed_s: float = 0.0) -> ModerationResult:
        """The fail-closed result for a file that could not be checked."""
        decision = self.policy.error_decision(code=code, message=message)
        return ModerationResult(path=str(path), state="error", verdict=Verdict.ERROR.value,
                                decision=decision,
                                error={"code": code, "message": message, "hint": hint},
                                elapsed_s=elapsed_s)

    def verify(self, path: str | os.PathLike[str]) -> VerifyReport:
        """Run :func:`veriframe.verification.verify` with this Moderator's settings."""
        from veriframe.verification import verify

        self.warm()
        assert self._loaded is not None
        return verify(path, trust=self._loaded["trust"], home=self.home, policy=self.policy,
                      detector=self._loaded["detector"], store=self.store,
                      sample_count=self.sample_count)

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
                                     elapsed_s=time.perf_counter() - start)
        except Exception as exc:  # a bug or a library failure: one file, not the batch
            return self.error_result(path, code="internal",
                                     message=f"unexpected {type(exc).__name__}: "
                                             f"{clean_text(exc, max_len=300)}",
                                     hint="this is a bug in veriframe; please report it",
                                     elapsed_s=time.perf_counter() - start)
        elapsed = time.perf_counter() - start
        decision = report.decision
        if decision.state != "decided":  # verify ran without our policy: decide here
            decision = self.policy.decide(report)
        state = "error" if report.verdict is Verdict.ERROR else "ok"
        return ModerationResult(path=str(path), state=state, verdict=report.verdict.value,
                                decision=decision, report=report, error=report.error,
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
            raise VeriframeError("scan.workers", f"workers must be >= 0, not {workers}",
                                 "use --workers 1 or more")
        if workers == 0:
            for p in paths:
                yield self.review(p)
            return
        yield from _PoolRun(self, workers=workers, window=window or 2 * workers).run(paths)


# --- the process pool ---------------------------------------------------------------------

_WORKER: Moderator | None = None


def _init_worker(config: dict[str, Any]) -> None:
    """Process-pool initializer: build this worker's Moderator and load its models once."""
    global _WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    config = dict(config)
    cls = config.pop("cls", Moderator)
    _WORKER = cls(config.pop("policy"), **config)
    _WORKER.warm()


def _review_in_worker(path: str) -> ModerationResult:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.review(path)


def _mp_context() -> Any:
    # Not fork: the parent may run threads (progress bars) whose locks a fork would copy.
    # Not forkserver: its server keeps the environment (VERIFRAME_HOME, VERIFRAME_STORE...) of
    # the moment it started. Spawn costs an interpreter start per worker, once per pool.
    return multiprocessing.get_context("spawn")


@dataclass
class _Task:
    path: str
    deadline: float | None
    isolated: bool


class _PoolRun:
    """One ``review_many`` run: a bounded window over a process pool that heals itself."""

    def __init__(self, moderator: Moderator, *, workers: int, window: int) -> None:
        self.moderator = moderator
        self.workers = workers
        self.window = max(1, window)
        budget = moderator.timeout_s
        self.hard_s = None if budget is None else budget * _HARD_FACTOR + _HARD_GRACE_S
        self.pool: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=_mp_context(),
                                   initializer=_init_worker,
                                   initargs=(self.moderator._config(),))

    def _kill(self) -> None:
        pool, self.pool = self.pool, None
        if pool is None:
            return
        procs = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.kill()
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.join(timeout=5)

    def run(self, paths: Iterable[str | os.PathLike[str]]) -> Iterator[ModerationResult]:
        source = iter(paths)
        exhausted = False
        suspects: deque[str] = deque()  # in flight when a worker died: rerun one at a time
        inflight: dict[Future[ModerationResult], _Task] = {}
        mod = self.moderator
        try:
            while True:
                crashed: list[_Task] = []
                if suspects:
                    if not inflight:
                        path = suspects.popleft()
                        if not self._submit(inflight, path, isolated=True):
                            crashed.append(_Task(path, None, isolated=False))
                else:
                    while not exhausted and len(inflight) < self.window:
                        nxt = next(source, None)
                        if nxt is None:
                            exhausted = True
                            break
                        path = os.fspath(nxt)
                        if not self._submit(inflight, path, isolated=False):
                            crashed.append(_Task(path, None, isolated=False))
                            break
                if not inflight and not crashed:
                    if suspects:
                        continue
                    return
                if not crashed:
                    done, _ = wait(list(inflight), timeout=1.0, return_when=FIRST_COMPLETED)
                    for fut in done:
                        task = inflight.pop(fut)
                        try:
                            yield fut.result()
                        except BrokenProcessPool:
                            crashed.append(task)
                        except Exception as exc:
                            yield mod.error_result(task.path, code="scan.worker-failed",
                                                   message=f"{type(exc).__name__}: "
                                                           f"{clean_text(exc, max_len=300)}")
                if crashed:
                    # Every file in flight shares the blame until rerun on its own.
                    crashed.extend(inflight.values())
                    inflight.clear()
                    self._kill()
                    for task in crashed:
                        if task.isolated:
                            yield mod.error_result(
                                task.path, code="scan.worker-crashed",
                                message="the worker process died while checking this file",
                                hint="the file may exploit a decoder bug; inspect it offline")
                        else:
                            suspects.append(task.path)
                    continue
                now = time.monotonic()
                overdue = [f for f, t in inflight.items() if t.deadline and now > t.deadline]
                if overdue:
                    for fut in overdue:
                        task = inflight.pop(fut)
                        yield mod.error_result(
                            task.path, code="scan.timeout",
                            message="the file did not finish within its wall-clock budget "
                                    "and its worker was stopped",
                            hint="raise --timeout-per-file, or check the file")
                    suspects.extend(t.path for t in inflight.values())
                    inflight.clear()
                    self._kill()
        finally:
            self._kill()

    def _submit(self, inflight: dict[Future[ModerationResult], _Task], path: str, *,
                isolated: bool) -> bool:
        """Submit ``path``; False when the pool turned out to be broken."""
        if self.pool is None:
            self.pool = self._start()
        deadline = None if self.hard_s is None else time.monotonic() + self.hard_s
        try:
            fut = self.pool.submit(_review_in_worker, path)
        except BrokenProcessPool:  # a worker died between two submissions
            return False
        inflight[fut] = _Task(path, deadline, isolated)
        return True


# --- finding files and writing rows -------------------------------------------------------

VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".qt", ".webm", ".mkv", ".avi", ".gif", ".mpg", ".mpeg", ".ts",
    ".m2ts", ".mts", ".3gp", ".3g2", ".wmv", ".flv", ".ogv", ".mxf",
})
# Extensions that are never video: skipped without opening the file.
NON_VIDEO_EXTENSIONS = frozenset({
    ".txt", ".md", ".json", ".jsonl", ".csv", ".tsv", ".xml", ".html", ".htm", ".pdf", ".py",
    ".toml", ".yaml", ".yml", ".ini", ".log", ".parquet", ".jpg", ".jpeg", ".png", ".webp",
    ".bmp", ".tif", ".tiff", ".heic", ".svg", ".wav", ".mp3", ".flac", ".aac", ".m4a", ".ogg",
    ".opus", ".zip", ".gz", ".tar", ".7z", ".sqlite", ".db", ".pem", ".key", ".srt", ".vtt",
})
_GLOB_CHARS = set("*?[")


def _sniff_video(path: Path) -> bool:
    """Whether a file without a known extension is a video: magic bytes, then a probe."""
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    magic = (head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free")
             or head.startswith(b"\x1a\x45\xdf\xa3")  # Matroska / WebM
             or (head.startswith(b"RIFF") and head[8:12] == b"AVI ")
             or head.startswith((b"GIF87a", b"GIF89a"))
             or head[:1] == b"\x47" or head.startswith(b"\x00\x00\x01\xba"))
    if not magic:
        return False
    try:
        from veriframe.media import probe

        info = probe(path)
    except Exception:
        return False
    return bool(getattr(info, "width", 0))


def is_video_candidate(path: Path) -> bool:
    """Known video extension: yes; known other type: no; otherwise sniff the content."""
    ext = path.suffix.lower()
    if ext in VIDEO_EXTENSIONS:
        return True
    if ext in NON_VIDEO_EXTENSIONS:
        return False
    return _sniff_video(path)


def _walk(root: Path) -> Iterator[Path]:
    """Files under ``root``, depth first, sorted per folder, without following links."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(Path(entry.path))
                elif entry.is_file():
                    yield Path(entry.path)
            except OSError:
                continue
        stack.extend(reversed(subdirs))


def find_videos(target: str | os.PathLike[str], *,
                skipped: list[str] | None = None) -> Iterator[str]:
    """Absolute paths of the video files in ``target`` (a file, a folder or a glob), lazily.

    Folders are walked recursively; files that are not videos (by extension, then by their
    magic bytes and a probe) are left out and, when ``skipped`` is given, appended to it.
    """
    text = os.fspath(target)
    roots: Iterable[Path]
    if _GLOB_CHARS & set(text) and not Path(text).exists():
        import glob

        roots = (Path(p) for p in sorted(glob.iglob(os.path.expanduser(text), recursive=True)))
    else:
        root = Path(text).expanduser()
        if not root.exists():
            raise VeriframeError("scan.not-found", f"{text} does not exist",
                                 "pass a folder, a video file or a glob such as 'clips/**/*.mp4'")
        roots = [root]
    for root in roots:
        files = _walk(root) if root.is_dir() else iter([root])
        for f in files:
            if is_video_candidate(f):
                yield os.path.abspath(f)
            elif skipped is not None:
                skipped.append(os.path.abspath(f))


def read_done_paths(out: Path) -> set[str]:
    """Paths already recorded in a JSONL output; a torn last line (a crash) is cut off."""
    import json

    done: set[str] = set()
    if not out.exists():
        return done
    good_end = 0
    with out.open("rb") as fh:
        offset = 0
        for line in fh:
            offset += len(line)
            if not line.endswith(b"\n"):
                break  # torn write: drop it below
            try:
                row = json.loads(line)
            except ValueError:
                good_end = offset  # a damaged line in the middle: keep the bytes, skip it
                continue
            if isinstance(row, dict) and isinstance(row.get("path"), str):
                done.add(row["path"])
            good_end = offset
    if good_end < out.stat().st_size:
        with out.open("r+b") as fh:
            fh.truncate(good_end)
    return done


class JsonlWriter:
    """Append rows to a JSONL file, one flushed line per row, so a crash loses nothing."""

    def __init__(self, path: Path, *, append: bool) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a" if append else "w", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        """Write one row and flush it to the OS."""
        from veriframe.report.json_report import dumps_row

        self._fh.write(dumps_row(row) + "\n")
        self._fh.flush()

    def close(self) -> None:
        """Flush to disk and close."""
        with contextlib.suppress(OSError):
            os.fsync(self._fh.fileno())
        self._fh.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "NON_VIDEO_EXTENSIONS",
    "ROW_TYPES",
    "VIDEO_EXTENSIONS",
    "FileTimeout",
    "JsonlWriter",
    "ModerationResult",
    "Moderator",
    "find_videos",
    "is_video_candidate",
    "read_done_paths",
]
