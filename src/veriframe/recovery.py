"""Recovery: a stripped clip's manifest found again, and the one place that decides whether
the clip is what was signed.

A manifest is found through the watermark's payload id in the local manifest store
(:func:`from_store`) or through soft-binding resolvers (:func:`via_resolvers`: they only
point; what they point to is downloaded and validated here, with the verifier's own trust
anchors). Either way :func:`judge` makes the decision: the manifest must validate, and the clip
must be the content that was signed, compared with the fingerprints signed into the manifest.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from veriframe.errors import ResolverError, VeriframeError
from veriframe.results import (
    CredentialCheck,
    CredentialState,
    HardBinding,
    RecoveredCredentials,
    RecoveryState,
    ResolverAttempt,
    ResolverState,
    WatermarkCheck,
)
from veriframe.softbinding.protocol import (
    FINGERPRINT_ALG,
    Match,
    MatchKind,
    ResolverMode,
    encode_fingerprint,
)

if TYPE_CHECKING:
    from veriframe.credentials import TrustConfig
    from veriframe.integrity import Comparison, SegmentPrints, View
    from veriframe.media import FrameSample, Limits

MAX_MATCHES_CHECKED = 3  # manifests downloaded and validated per resolver answer
EXCERPT_CRF = 12  # the excerpt a verifier sends: the sampled frames, nearly lossless


@dataclass(frozen=True)
class Received:
    """The clip being verified, as recovery sees it: its file, the frame sample verify decoded,
    the watermark found in it (its geometry places the clip on the signed picture), and the
    decode limits for a walk over its whole timeline."""

    path: Path
    sample: FrameSample
    watermark: WatermarkCheck | None
    limits: Limits | None = None

    @property
    def fmt(self) -> str:
        """The C2PA format to validate a manifest against this file with."""
        return "video/quicktime" if self.path.suffix.lower() == ".mov" else "video/mp4"


@dataclass(frozen=True)
class Judgement:
    """What :func:`judge` decided about a validated manifest and the clip."""

    state: RecoveryState
    detail: str
    fingerprint_distance: float | None = None
    compared: bool = False  # whether the content was compared at all
    extra: dict[str, Any] | None = None  # the content comparison's fields of the result


def judge(creds: CredentialCheck, clip: Received) -> Judgement:
    """The one decision: is ``clip`` the content the validated manifest ``creds`` signed?

    The manifest must already have been found; its signature is judged first (``invalid``
    unless valid or trusted), then the content: with the segment-and-region fingerprints
    signed into the manifest where it has them (the clip is aligned onto the signed picture
    and timeline and compared where it shows it: ``recovered`` only when nothing compared
    differs, ``edited`` with the differences, ``mismatch`` when it is other content), else
    with the global fingerprint of manifests signed before them (and the detail says so).
    """
    from veriframe.credentials import read_soft_binding
    from veriframe.integrity import read_prints

    if creds.state not in (CredentialState.VALID, CredentialState.TRUSTED):
        return Judgement(RecoveryState.INVALID, "the manifest's signature does not validate")
    prints = read_prints(creds.manifest)
    binding = read_soft_binding(creds.manifest)
    signed_fp = binding.fingerprint if binding is not None else None
    if prints is not None:
        walked: dict[int, np.ndarray] = {}  # the walk's frames at the signed moments
        judged, comparison = _judge_segments(prints, clip, walked)
        if judged.state is RecoveryState.RECOVERED and comparison is not None:
            return _fine_check(judged, comparison, prints, signed_fp, clip, walked)
        return judged
    return _judge_global(signed_fp, clip)


def _fine_check(judged: Judgement, c: Comparison, prints: SegmentPrints,
                signed_fp: str | None, clip: Received,
                walked: dict[int, np.ndarray] | None = None) -> Judgement:
    """A clip the segment comparison found unchanged, checked once more at a finer scale when
    it shows the whole signed picture unmoved (any size): the segments keep each region's
    mean and detail *energy*, not where the detail lies, so a forgery that keeps the signed
    clip's blurred picture (and its mark) over other detail passes them; the manifest's
    global fingerprint holds band-pass signs of the whole picture, which it does not pass."""
    from veriframe import watermark
    from veriframe.integrity.compare import TIME_TRUST
    from veriframe.watermark.fingerprint import FINE_GRID

    if signed_fp is None or c.geometry is None or not c.view.identity or c.geometry.mirror:
        return judged
    luma = clip.sample.luma
    if luma is None or len(luma) == 0:
        return judged
    h_r, w_r = int(luma.shape[1]), int(luma.shape[2])
    g = c.geometry
    whole = (abs(g.offset_x) <= 0.02 * w_r and abs(g.offset_y) <= 0.02 * h_r
             and abs(g.scale_x * prints.width - w_r) <= 0.02 * w_r
             and abs(g.scale_y * prints.height - h_r) <= 0.02 * h_r)
    if not whole or watermark.structure(clip.sample) < watermark.MIN_STRUCTURE:
        return judged
    # cells under an overlay the comparison allowed (a caption band, a logo) are left out
    ignore = np.zeros((FINE_GRID, FINE_GRID), dtype=bool)
    for o in c.overlays:
        if o.region is not None:
            x, y, w, h = (FINE_GRID * v for v in o.region)
            ignore[int(y):int(np.ceil(y + h)), int(x):int(np.ceil(x + w))] = True

    def at(offset: float) -> float | str:
        matched = _moment_frames(prints, c, clip, ignore, offset, walked or {})
        if isinstance(matched, str):
            return matched
        received_fp, groups = matched
        d = watermark.fine_pair_distances(received_fp, signed_fp, ignore=ignore)
        return float(np.mean([d[rows, row].min() for rows, row in groups]))

    if c.time_cost is not None and c.time_cost > TIME_TRUST:
        return replace(judged, detail=f"{judged.detail}; its fine detail was not compared: "
                       "where this excerpt lies in the signed clip is uncertain")
    try:
        distance = at(c.time_offset_s)
        # Content that repeats leaves an excerpt's place in the signed clip ambiguous, and
        # the same moments of another repetition are other fine detail: the copy matches when
        # it matches at any placement the segment comparison found as plausible.
        for other in c.other_offsets_s:
            if isinstance(distance, str) or distance <= watermark.MATCH_THRESHOLD:
                break
            there = at(other)
            if not isinstance(there, str) and there <= watermark.MATCH_THRESHOLD:
                distance = there
    except VeriframeError:
        return judged
    if isinstance(distance, str):  # could not tell: say so, claim nothing more
        return replace(judged, detail=f"{judged.detail}; its fine detail was not compared: "
                       f"{distance}")
    if distance <= watermark.MATCH_THRESHOLD:
        return replace(judged, fingerprint_distance=distance)
    return replace(judged, state=RecoveryState.MISMATCH, fingerprint_distance=distance,
                   detail="the watermark is genuine and the clip's coarse picture matches the "
                   "signed one, but its fine detail does not: the mark and a blurred copy of "
                   "the signed picture were put over other content")


# A copy's own fine detail may change by at most this much over a time gap (fine distance
# between its frames that far apart) for a frame across that gap to be compared with a signed
# one: a genuine re-encode measures <= 0.05, so the comparison stays below MATCH_THRESHOLD.
DRIFT_LIMIT = 0.1


def _signed_moments(prints: SegmentPrints, clip: Received,
                    offset: float) -> list[tuple[int, int]] | None:
    """(copy frame number, signed fingerprint frame) of every signed fingerprint frame, placed
    on the copy's timeline by ``offset`` (signed time minus copy time); None when a frame rate
    is unknown. Manifests signed before the frame rate was kept take the copy's."""
    from veriframe import watermark

    fps_r = float(clip.sample.info.fps or 0.0)
    fps_s = float(prints.fps or fps_r)
    if fps_r <= 0.0 or fps_s <= 0.0:
        return None
    return [(round((index / fps_s - offset) * fps_r), row) for row, index in
            enumerate(watermark.signed_frame_indices(round(prints.duration_s * fps_s)))]


# How far either side of a signed moment the copy's frames are held against it: the time
# offset's own uncertainty (an excerpt of a segment or two fits shifts of a few frames about
# equally), at most this, plus one frame (rounding, a changed frame rate).
MAX_WINDOW_S = 0.5


def _moment_frames(prints: SegmentPrints, c: Comparison, clip: Received, ignore: np.ndarray,
                   offset: float, walked: dict[int, np.ndarray]
                   ) -> tuple[str, list[tuple[list[int], int]]] | str:
    """The copy's frames to hold against the signed fingerprint's frames: (the copy's
    fingerprint of them, groups of (its rows for one signed frame, that signed frame)), or why
    there are none. A signed frame's distance is that of the closest copy frame of its group.

    The signed fingerprint's frames are known moments (their numbers follow from the signed
    clip's length and frame rate; ``offset``, signed time minus this copy's time, places them
    on its timeline). Fine detail moves with the picture: in fast motion a frame a few frames
    away is other fine detail, and comparing nearest frames read genuine copies as forgeries.
    So each signed frame is held against the copy's frames of the same moment, within the
    time offset's uncertainty (:attr:`Comparison.time_uncertainty_s`, at most
    :data:`MAX_WINDOW_S`) and a frame. An excerpt holding none of them (shorter than the
    spacing of the signed frames) compares its first or last frame with the nearest signed
    moment outside it, and only where the copy's own picture keeps its fine detail over that
    gap (:data:`DRIFT_LIMIT`, measured between its own frames as far apart).

    Frames the comparison's walk kept (``walked``, by frame number) are not decoded again.
    """
    from veriframe import media, watermark

    info = clip.sample.info
    moments = _signed_moments(prints, clip, offset)
    if moments is None:
        return "the frame rate is unknown"
    fps_r = float(info.fps or 0.0)
    end = info.frame_count if info.frame_count > 0 else round(c.received_s * fps_r)
    reach = 1 + int(np.ceil(min(c.time_uncertainty_s, MAX_WINDOW_S) * fps_r))
    wanted = [(list(range(max(0, j - reach), min(end, j + reach + 1))), row)
              for j, row in moments if 0 <= j < end]
    steady: list[tuple[int, int]] = []  # (copy frame, its own frame as far away as the moment)
    if not wanted:
        before = [(j, row) for j, row in moments if j < 0]
        after = [(j, row) for j, row in moments if j >= end]
        if before and max(before)[0] > -end:
            j, row = max(before)
            wanted.append(([0], row))
            steady.append((0, -j))
        if after and min(after)[0] - (end - 1) <= end - 1:
            j, row = min(after)
            wanted.append(([end - 1], row))
            steady.append((end - 1, 2 * (end - 1) - j))
        if not wanted:
            return "no frame of the signed fingerprint lies in or near this excerpt"
    needed = {j for group, _ in wanted for j in group} | {k for _, k in steady}
    have = {j: walked[j] for j in needed if j in walked}
    if len(have) < len(needed):
        frames = media.frames_at(clip.path, sorted(needed - set(have)), info=info,
                                 limits=clip.limits)
        if frames.luma is not None:
            have.update({int(j): frames.luma[k] for k, j in enumerate(frames.indices)})
    if not have:
        return "the frames to compare did not decode"
    order = sorted(have)
    at = {j: k for k, j in enumerate(order)}
    fp = watermark.fingerprint(np.stack([have[j] for j in order]), frames=len(order))
    if steady:
        own = watermark.fine_pair_distances(fp, fp, ignore=ignore)
        kept = {a for a, b in steady if a in at and b in at and own[at[a], at[b]] <= DRIFT_LIMIT}
        wanted = [(group, row) for group, row in wanted if group[0] in kept]
        if not wanted:
            return ("no frame of the signed fingerprint lies in this excerpt, and its picture "
                    "moves too much to compare frames that far apart")
    groups = [([at[j] for j in group if j in at], row) for group, row in wanted]
    groups = [(rows, row) for rows, row in groups if rows]
    if not groups:
        return "the frames to compare did not decode"
    return fp, groups


def _judge_global(signed_fp: str | None, clip: Received) -> Judgement:
    """Manifests signed before segment fingerprints: one global fingerprint, said plainly."""
    from veriframe import watermark

    older = ("the manifest was signed before segment fingerprints existed, so the content "
             "could not be compared beyond one global fingerprint: a local edit would not show")
    none = {"comparison": "none"}
    if signed_fp is None:
        return Judgement(RecoveryState.RECOVERED, "credentials recovered; the manifest carries "
                         "no content fingerprint, so the content was not compared", extra=none)
    if watermark.structure(clip.sample) < watermark.MIN_STRUCTURE:
        return Judgement(RecoveryState.RECOVERED, "credentials recovered; the content could not "
                         "be compared: the video is nearly flat, so whether it is the signed "
                         "content cannot be told", extra=none)
    try:
        distance = watermark.fingerprint_distance(watermark.fingerprint(clip.sample), signed_fp)
    except VeriframeError as exc:
        return Judgement(RecoveryState.RECOVERED, "credentials recovered; the content "
                         f"fingerprint was not compared: {exc.message}", extra=none)
    extra = {"comparison": "global"}
    if distance > watermark.MATCH_THRESHOLD:
        return Judgement(RecoveryState.MISMATCH, "the watermark is genuine but this content "
                         "does not match what was signed: the mark was copied onto another "
                         "video, or the video was altered", distance, compared=True,
                         extra=extra)
    return Judgement(RecoveryState.RECOVERED, f"credentials recovered; {older}", distance,
                     compared=True, extra=extra)


def _judge_segments(prints: SegmentPrints, clip: Received, walked: dict[int, np.ndarray]
                    ) -> tuple[Judgement, Comparison | None]:
    """The segment comparison; ``walked`` receives the walked frames (luma, by number) at the
    signed fingerprint's moments on the copy's own timeline, for the fine check of a
    full-length copy (no second decode)."""
    from veriframe import integrity, media
    from veriframe.results import WatermarkState

    luma = clip.sample.luma
    if luma is None or len(luma) == 0:
        return Judgement(RecoveryState.RECOVERED, "credentials recovered; the content was not "
                         "compared: no frames were decoded", extra={"comparison": "none"}), None
    received = (int(luma.shape[2]), int(luma.shape[1]))
    wm = clip.watermark
    found = wm is not None and wm.state is WatermarkState.PRESENT
    alignment = wm.alignment if found and wm is not None else None
    # the watermark's view (a region, a turn, a flip) first; then no view and a bounded search
    tries = [(integrity.View.from_alignment(alignment), False)] if alignment else []
    tries.append((integrity.View(), True))
    # a full-length copy's moments (and a frame either side) are kept from the walk
    keep = {j + d for j, _ in _signed_moments(prints, clip, 0.0) or [] for d in (-1, 0, 1)}
    comparison = None
    try:
        for view, searched in tries:
            sample = [view.apply(y) for y in luma]
            size = (int(sample[0].shape[1]), int(sample[0].shape[0]))
            candidates = (integrity.search_geometries(prints, size) if searched
                          else integrity.watermark_geometries(alignment, prints, size))
            if not candidates:
                continue
            walk = media.walk_luma(clip.path, info=clip.sample.info, limits=clip.limits)
            comparison = integrity.compare(
                prints, _keeping(walk, view, keep, walked), sample=sample,
                candidates=candidates, size=size, fps=float(clip.sample.info.fps or 0.0),
                searched=searched, view=view, received=received)
            if comparison.aligned or comparison.undecided:
                break
    except VeriframeError as exc:
        return Judgement(RecoveryState.RECOVERED, "credentials recovered; the content could "
                         f"not be compared: {exc.message}", extra={"comparison": "none"}), None
    assert comparison is not None
    if comparison.undecided:
        return Judgement(RecoveryState.RECOVERED, "credentials recovered; the content could not "
                         f"be compared: {comparison.detail}", extra={"comparison": "none"}), None
    return _verdict_of(comparison), comparison


def _keeping(walk: Iterator[tuple[float, np.ndarray]], view: View, keep: set[int],
             kept: dict[int, np.ndarray]) -> Iterator[tuple[float, np.ndarray]]:
    """The walk through ``view``, copying the frames numbered in ``keep`` into ``kept``."""
    for i, (t, y) in enumerate(walk):
        if i in keep:
            kept[i] = y.copy()  # the decoder may reuse the plane the array views
        yield t, view.apply(y)


def _verdict_of(c: Comparison) -> Judgement:
    """What a content comparison means, in words that say what was compared."""
    from veriframe.integrity.compare import MISMATCH_SHARE
    from veriframe.report import describe_difference, describe_overlay

    extra: dict[str, Any] = {
        "comparison": "segments", "frame_coverage": c.frame_coverage,
        "compared_s": c.compared_s, "received_s": c.received_s, "signed_s": c.signed_s,
        "geometry": ({**c.geometry.to_dict(), **c.view.to_dict(),
                      "time_offset_s": c.time_offset_s} if c.geometry is not None else None),
        "differences": c.differences, "overlays": c.overlays}
    compared = (f"{round(100 * c.frame_coverage)} % of the signed picture, {c.compared_s:.1f} "
                f"of {c.received_s:.1f} s of this clip")
    if not c.aligned:
        return Judgement(RecoveryState.MISMATCH, "the watermark is genuine but this content "
                         f"is not what was signed ({c.detail}): the mark was copied onto "
                         "another video, or the picture was replaced", compared=True,
                         extra=extra)
    if c.differing_share > MISMATCH_SHARE:
        return Judgement(RecoveryState.MISMATCH, "the watermark is genuine but this content "
                         f"is not what was signed: {round(100 * c.differing_share)} % of what "
                         f"was compared ({compared}) differs", compared=True, extra=extra)
    overlays = "".join(f"; {describe_overlay(o)}" for o in c.overlays)
    if c.differences:
        first = "; ".join(describe_difference(d) for d in c.differences[:3])
        more = f" and {len(c.differences) - 3} more" if len(c.differences) > 3 else ""
        return Judgement(RecoveryState.EDITED, "the recovered manifest is genuine, but this "
                         f"clip was changed after signing: {first}{more} (compared "
                         f"{compared}){overlays}", compared=True, extra=extra)
    return Judgement(RecoveryState.RECOVERED, "credentials recovered; this clip matches the "
                     f"signed content where compared ({compared}){overlays}", compared=True,
                     extra=extra)


def _recovered(judgement: Judgement, creds: CredentialCheck | None,
               **where: Any) -> RecoveredCredentials:
    distance = judgement.fingerprint_distance
    return RecoveredCredentials(
        state=judgement.state, credentials=creds, detail=judgement.detail,
        fingerprint_distance=None if distance is None else round(distance, 4),
        **(judgement.extra or {}), **where)


# --- the local manifest store -------------------------------------------------------------

def from_store(payload_id: str, clip: Received, *, store_path: Path,
               trust: TrustConfig, own: CredentialCheck | None = None) -> RecoveredCredentials:
    """The manifest of ``payload_id`` from the local manifest store, judged against ``clip``.

    ``own``: the credentials embedded in the clip itself. When they validate, their hard
    binding matches the file's bytes, and they are the manifest the mark points to, nothing is
    compared frame by frame: the hash signed into that manifest already proves the file is the
    signed one, byte for byte (a stronger check than any comparison of pictures)."""
    from veriframe.credentials import (
        ManifestStore,
        redact_url,
        store_location,
        validate_manifest_bytes,
    )

    try:
        kind, location = store_location(store_path)
    except VeriframeError as exc:
        return RecoveredCredentials(state=RecoveryState.ERROR, store=str(store_path),
                                    detail=exc.message)
    where = redact_url(location) if kind == "postgresql" else str(store_path)
    if kind == "sqlite" and not store_path.exists():
        return RecoveredCredentials(
            state=RecoveryState.NOT_FOUND, store=where,
            detail="no manifest store here; the mark's manifest cannot be looked up")
    try:
        record = ManifestStore(location if kind == "postgresql" else store_path).get(payload_id)
    except VeriframeError as exc:
        return RecoveredCredentials(state=RecoveryState.ERROR, store=where, detail=exc.message)
    if record is None:
        return RecoveredCredentials(state=RecoveryState.NOT_FOUND, store=where,
                                    detail=f"payload {payload_id} is not in the manifest store")
    creds = validate_manifest_bytes(record.manifest_store, asset_path=clip.path,
                                    fmt=record.fmt, trust=trust)
    if _is_own(own, record.manifest_label) and creds.state in (CredentialState.VALID,
                                                               CredentialState.TRUSTED):
        return RecoveredCredentials(
            state=RecoveryState.RECOVERED, store=where, credentials=creds,
            comparison=OWN_MANIFEST,
            detail="the mark points to this file's own manifest, whose hash of the file's "
                   "bytes validates: the content is exactly what was signed")
    verdict = judge(creds, clip)
    if verdict.state is RecoveryState.INVALID:
        verdict = replace(verdict, detail="the stored manifest's signature does not validate")
    return _recovered(verdict, creds, store=where)


OWN_MANIFEST = "hard-binding"  # ``RecoveredCredentials.comparison``: the file's own manifest


def _is_own(own: CredentialCheck | None, label: str) -> bool:
    """Whether ``own`` (a clip's embedded credentials) is the intact manifest ``label``."""
    return (own is not None and own.state in (CredentialState.VALID, CredentialState.TRUSTED)
            and own.hard_binding is HardBinding.MATCH and bool(label)
            and own.manifest_label == label)


# --- soft-binding resolvers ---------------------------------------------------------------

_STATE_FOR_CODE = {
    "resolver.unreachable": ResolverState.UNREACHABLE,
    "resolver.timeout": ResolverState.TIMEOUT,
    "resolver.refused": ResolverState.REFUSED,
    "resolver.busy": ResolverState.BUSY,
    "resolver.bad-url": ResolverState.ERROR,
}
_FOR_RECOVERY = {
    RecoveryState.RECOVERED: ResolverState.RECOVERED,
    RecoveryState.EDITED: ResolverState.EDITED,
    RecoveryState.MISMATCH: ResolverState.MISMATCH,
    RecoveryState.INVALID: ResolverState.INVALID_MANIFEST,
}
# When several matches were checked, the most telling outcome is reported.
_RANK = [ResolverState.RECOVERED, ResolverState.EDITED, ResolverState.MISMATCH,
         ResolverState.UNCONFIRMED, ResolverState.INVALID_MANIFEST, ResolverState.NO_MATCH]


@dataclass(frozen=True)
class _Outcome:
    attempt: ResolverAttempt
    recovered: RecoveredCredentials | None


def make_excerpt(sample: FrameSample, dst: Path) -> Path:
    """The sampled frames as a short, nearly lossless H.264 MP4 (what a resolver's watermark
    detection needs, and nothing of the clip beyond the frames the verifier decoded)."""
    from veriframe import media

    if sample.rgb is None:
        raise ResolverError("resolver.no-frames", "the sample holds no RGB frames",
                            "sample frames with RGB")
    media.write_video(dst, sample.rgb, fps=8, crf=EXCERPT_CRF, preset="veryfast")
    return dst


def via_resolvers(
    clip: Received,
    *,
    resolvers: Sequence[str],
    trust: TrustConfig,
    mode: ResolverMode | str = ResolverMode.BOTH,
    timeout_s: float = 10.0,
    transport: Any = None,
) -> tuple[tuple[ResolverAttempt, ...], RecoveredCredentials | None]:
    """Ask each resolver in turn for the clip's manifest; stop at the first that recovers it.

    Returns one :class:`ResolverAttempt` per resolver asked, and the recovered (or mismatching)
    credentials, if any. Never raises for a resolver's failure.
    """
    from veriframe import watermark
    from veriframe.softbinding.client import ResolverClient

    how = ResolverMode(mode)
    flat = watermark.structure(clip.sample) < watermark.MIN_STRUCTURE
    fp = watermark.fingerprint(clip.sample)
    attempts: list[ResolverAttempt] = []
    found: RecoveredCredentials | None = None
    with tempfile.TemporaryDirectory(prefix="veriframe-excerpt-") as tmp:
        excerpt: bytes | None = None
        for url in resolvers:
            try:
                with ResolverClient(url, timeout_s=timeout_s, transport=transport) as client:
                    outcomes: list[_Outcome] = []
                    if how in (ResolverMode.FINGERPRINT, ResolverMode.BOTH) and not flat:
                        matches = client.by_binding(FINGERPRINT_ALG, encode_fingerprint(fp))
                        outcomes += _check_matches(client, matches, MatchKind.FINGERPRINT, clip,
                                                   trust=trust)
                    if how in (ResolverMode.EXCERPT, ResolverMode.BOTH) and not any(
                            o.attempt.state is ResolverState.RECOVERED for o in outcomes):
                        if excerpt is None:
                            excerpt = make_excerpt(clip.sample,
                                                   Path(tmp) / "excerpt.mp4").read_bytes()
                        matches = client.by_content(excerpt, content_type="video/mp4")
                        outcomes += _check_matches(client, matches, None, clip, trust=trust)
            except ResolverError as exc:
                attempts.append(ResolverAttempt(
                    url=url, state=_STATE_FOR_CODE.get(exc.code, ResolverState.INVALID_RESPONSE),
                    detail=exc.message))
                continue
            best = _best(outcomes)
            if best is None:
                attempts.append(ResolverAttempt(url=url, state=ResolverState.NO_MATCH,
                                                detail="the resolver knows no manifest for "
                                                "this content"))
                continue
            attempts.append(best.attempt)
            if best.recovered is not None and best.recovered.state is RecoveryState.RECOVERED:
                found = best.recovered
                break
            if best.recovered is not None and found is None:
                found = best.recovered  # a mismatch: kept unless a later resolver recovers
    return tuple(attempts), found


def _best(outcomes: list[_Outcome]) -> _Outcome | None:
    """The most telling outcome: by state (:data:`_RANK`); among equals, the manifest whose
    comparison covered the most of this clip (a manifest of a shorter clip of the same scene
    explains less of it), then the smaller fingerprint distance."""
    if not outcomes:
        return None

    def key(o: _Outcome) -> tuple[int, float, float]:
        state = o.attempt.state
        rec = o.recovered
        covered = ((rec.compared_s or 0.0) * (rec.frame_coverage or 0.0)) if rec else 0.0
        distance = o.attempt.fingerprint_distance
        return (_RANK.index(state) if state in _RANK else len(_RANK), -covered,
                distance if distance is not None else float("inf"))

    return min(outcomes, key=key)


def _check_matches(client: Any, matches: list[Match], kind: MatchKind | None, clip: Received,
                   *, trust: TrustConfig) -> list[_Outcome]:
    return [_check_match(client, match, kind, clip, trust=trust)
            for match in matches[:MAX_MATCHES_CHECKED]]


def _check_match(client: Any, match: Match, kind: MatchKind | None, clip: Received, *,
                 trust: TrustConfig) -> _Outcome:
    """Download, validate here, then :func:`judge`: one match's outcome."""
    from veriframe.credentials import validate_manifest_bytes

    url = client.url
    how = match.kind or (kind.value if kind is not None else None)

    def attempt(state: ResolverState, detail: str,
                distance: float | None = None) -> ResolverAttempt:
        return ResolverAttempt(
            url=url, state=state, detail=detail, match_kind=how, manifest_id=match.manifest_id,
            similarity=match.similarity_score,
            fingerprint_distance=None if distance is None else round(distance, 4))

    if match.endpoint is not None and match.endpoint.rstrip("/") != url:
        return _Outcome(attempt(ResolverState.UNCONFIRMED, "the match points to another "
                                "resolver, which is not followed"), None)
    data = client.manifest(match.manifest_id)
    creds = validate_manifest_bytes(data, asset_path=clip.path, fmt=clip.fmt, trust=trust)
    if creds.state not in (CredentialState.VALID, CredentialState.TRUSTED):
        return _Outcome(attempt(ResolverState.INVALID_MANIFEST, "the manifest the resolver "
                                "sent does not validate; it is ignored"), None)
    if creds.manifest_label != match.manifest_id:
        return _Outcome(attempt(ResolverState.INVALID_MANIFEST, "the resolver sent a different "
                                "manifest than the one it matched"), None)
    verdict = judge(creds, clip)
    if verdict.state is RecoveryState.RECOVERED and not verdict.compared:
        # Nothing about the content confirmed the resolver's pointer: not a recovery.
        return _Outcome(attempt(ResolverState.UNCONFIRMED, verdict.detail), None)
    detail = verdict.detail.replace("credentials recovered",
                                    "credentials recovered through a resolver", 1)
    state = _FOR_RECOVERY.get(verdict.state, ResolverState.MISMATCH)
    rec = _recovered(replace(verdict, detail=detail), creds, source="resolver", resolver=url,
                     match_kind=how, manifest_id=match.manifest_id)
    return _Outcome(attempt(state, detail, verdict.fingerprint_distance), rec)


__all__ = ["Judgement", "Received", "from_store", "judge", "make_excerpt", "via_resolvers"]
