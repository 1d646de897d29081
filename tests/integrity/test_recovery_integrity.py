"""A recovered clip must be the content that was signed, and the report must say where not.

Every case is a real encoded copy of a clip signed by a real key: re-encoded, cropped, cut,
patched, spliced, overlaid; verified through the local store (the watermark) and, for the
fingerprint-only path, with no watermark geometry at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from tests.clipgen import make_clip
from tests.services.conftest import street_clip
from veriframe import media
from veriframe._cli import main
from veriframe.credentials.keys import init_keys
from veriframe.integrity import read_prints
from veriframe.results import RecoveryState, Verdict, VerifyReport
from veriframe.settings import Settings
from veriframe.signing import sign_video
from veriframe.verification import Verifier

PASSPHRASE = "integrity tests"
SECONDS = 3.0
FPS = 15


@dataclass(frozen=True)
class Case:
    home: Path
    signed: Path
    other: Path
    root: Path
    payload_id: str


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    root = tmp_path_factory.mktemp("integrity")
    home = root / "home"
    init_keys(org="Integrity Newsroom", passphrase=PASSPHRASE, home=home)
    src = make_clip(root / "src.mp4", seconds=SECONDS, width=640, height=360, fps=FPS, seed=3)
    signed = root / "signed.mp4"
    result = sign_video(src, output=signed, model="camera", home=home, passphrase=PASSPHRASE)
    other = street_clip(root / "other.mp4", seed=11, seconds=SECONDS, fps=FPS)
    assert result.payload_id
    return Case(home, signed, other, root, result.payload_id)


def _verify(case: Case, path: Path) -> VerifyReport:
    return Verifier(Settings(home=case.home, detector=None)).verify(path).report


def _edit(case: Case, name: str, change: Callable[[np.ndarray, np.ndarray, int], None]) -> Path:
    """A copy of the signed clip with ``change(frames, donor, fps)`` applied, at CRF 23."""
    clip = media.read_frames(case.signed, rgb=True, luma=False)
    donor = media.read_frames(case.other, rgb=True, luma=False)
    assert clip.rgb is not None and donor.rgb is not None
    frames = clip.rgb.copy()
    change(frames, donor.rgb, FPS)
    out = case.root / f"{name}.mp4"
    media.write_video(out, frames, fps=FPS, crf=23)
    return out


def _overlap(a: tuple[float, ...] | None, b: tuple[float, float, float, float]) -> bool:
    if a is None:
        return True
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_signed_manifest_carries_segment_fingerprints_within_budget(case: Case) -> None:
    from veriframe.credentials.read import read_credentials
    from veriframe.credentials.trust import TrustConfig
    from veriframe.integrity import ASSERTION_LABEL

    creds = read_credentials(case.signed, trust=TrustConfig.load(home=case.home))
    prints = read_prints(creds.manifest)
    assert prints is not None
    assert (prints.width, prints.height) == (640, 360)
    assert prints.segment_s == 0.5 and prints.segments == 6
    assert prints.means.shape == (6, 16, 16) and prints.energy.shape == (6, 8, 8)
    text = json.dumps(creds.manifest[ASSERTION_LABEL])
    assert len(text) <= max(2048, 32 * 1024 * SECONDS / 60)


def test_reencoded_copy_is_recovered_and_says_what_was_compared(case: Case) -> None:
    copy = case.root / "crf28.mp4"
    media.transcode(case.signed, copy, crf=28, scale=0.75)
    report = _verify(case, copy)
    rec = report.watermark.recovered
    assert report.verdict is Verdict.RECOVERED, rec
    assert rec is not None and rec.state is RecoveryState.RECOVERED
    assert rec.comparison == "segments" and rec.differences == ()
    assert rec.frame_coverage is not None and rec.frame_coverage >= 0.95
    assert rec.compared_s == pytest.approx(SECONDS, abs=0.1)
    assert "where compared (" in rec.detail and "% of the signed picture" in rec.detail
    assert report.exit_code().value == 0


def test_cropped_copy_is_recovered_and_not_compared_outside_the_crop(case: Case) -> None:
    copy = case.root / "crop.mp4"
    media.transcode(case.signed, copy, crop=0.1, crf=23)
    report = _verify(case, copy)
    rec = report.watermark.recovered
    assert report.verdict is Verdict.RECOVERED, rec
    assert rec is not None and rec.geometry is not None
    assert rec.geometry["source"] == "watermark"
    assert rec.geometry["scale_x"] == pytest.approx(1.0, abs=0.02)
    assert 0.6 <= (rec.frame_coverage or 0) < 0.95  # the border cells were not compared


def test_excerpt_is_compared_only_where_it_exists(case: Case) -> None:
    copy = case.root / "excerpt.mp4"
    media.transcode(case.signed, copy, start=1.0, duration=1.6, crf=23)
    report = _verify(case, copy)
    rec = report.watermark.recovered
    assert report.verdict is Verdict.RECOVERED, rec
    assert rec is not None and rec.geometry is not None
    assert rec.geometry["time_offset_s"] == pytest.approx(1.0, abs=0.15)
    assert rec.compared_s is not None and 0.9 <= rec.compared_s <= 1.7


def test_foreign_patch_makes_the_copy_tampered_and_says_where(case: Case, tmp_path: Path) -> None:
    x, y, w, h = 240, 100, 230, 150  # 15 % of the frame, frames 15..29 (1.0-2.0 s)

    def patch(frames: np.ndarray, donor: np.ndarray, fps: int) -> None:
        frames[fps:2 * fps, y:y + h, x:x + w] = donor[fps:2 * fps, y:y + h, x:x + w]

    report = _verify(case, _edit(case, "patch", patch))
    rec = report.watermark.recovered
    assert report.verdict is Verdict.TAMPERED, rec
    assert rec is not None and rec.state is RecoveryState.EDITED
    assert rec.differences
    hit = [d for d in rec.differences if d.start_s < 2.0 and d.end_s > 1.0]
    assert hit and any(_overlap(d.region, (x / 640, y / 360, w / 640, h / 360)) for d in hit)
    assert all(d.end_s <= 2.6 and d.start_s >= 0.4 for d in hit)
    assert report.exit_code().value == 2
    # the JSON carries the differences at watermark.recovered.differences
    doc = report.to_dict()
    diff = doc["watermark"]["recovered"]["differences"][0]
    assert set(diff) >= {"start_s", "end_s", "region", "score"}
    assert "changed after signing" in rec.detail


def test_spliced_second_of_another_clip_is_tampered(case: Case) -> None:
    def splice(frames: np.ndarray, donor: np.ndarray, fps: int) -> None:
        frames[fps:2 * fps] = donor[fps:2 * fps]

    report = _verify(case, _edit(case, "splice", splice))
    rec = report.watermark.recovered
    assert report.verdict is Verdict.TAMPERED, rec
    assert rec is not None and rec.state in (RecoveryState.EDITED, RecoveryState.MISMATCH)
    assert any(d.start_s < 2.0 and d.end_s > 1.0 for d in rec.differences)


def test_caption_band_overlay_is_listed_not_tampered(case: Case) -> None:
    def caption(frames: np.ndarray, donor: np.ndarray, fps: int) -> None:
        band = 44
        frames[:, -band:] = (frames[:, -band:] * 0.3).astype(np.uint8)
        frames[:, -30:-14, 40:600:23] = 235

    report = _verify(case, _edit(case, "caption", caption))
    rec = report.watermark.recovered
    assert report.verdict is Verdict.RECOVERED, rec
    assert rec is not None and rec.overlays and not rec.differences
    band = rec.overlays[0]
    assert band.region is not None and band.region[1] + band.region[3] >= 0.95
    assert "overlay covers the bottom" in rec.detail


def test_old_format_manifest_recovers_with_a_plain_caveat(case: Case, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from veriframe.integrity import PrintBuilder

    monkeypatch.setattr(PrintBuilder, "build", lambda self: None)  # as signed before them
    home = tmp_path / "old-home"
    init_keys(org="Old Newsroom", passphrase=PASSPHRASE, home=home)
    old = tmp_path / "old.mp4"
    sign_video(case.root / "src.mp4", output=old, model="camera", home=home,
               passphrase=PASSPHRASE)
    copy = tmp_path / "old-copy.mp4"
    media.transcode(old, copy, crf=28)
    report = Verifier(Settings(home=home, detector=None)).verify(copy).report
    rec = report.watermark.recovered
    assert report.verdict is Verdict.RECOVERED, rec
    assert rec is not None and rec.comparison == "global"
    assert "signed before segment fingerprints" in rec.detail


def test_fingerprint_only_match_aligns_by_search(case: Case) -> None:
    """No watermark geometry (a resolver's fingerprint match): a bounded search places the
    picture; an unchanged copy recovers, a patched one does not."""
    from veriframe import recovery
    from veriframe.credentials.read import validate_manifest_bytes
    from veriframe.credentials.store import ManifestStore
    from veriframe.credentials.trust import TrustConfig

    record = ManifestStore(Settings(home=case.home).store_path).get(case.payload_id)
    assert record is not None
    trust = TrustConfig.load(home=case.home)
    copy = case.root / "fp-only.mp4"
    media.transcode(case.signed, copy, crop=0.1, scale=0.5, crf=28)

    def judge(path: Path) -> recovery.Judgement:
        sample = media.sample_frames(path, count=32)
        creds = validate_manifest_bytes(record.manifest_store, asset_path=path,
                                        fmt="video/mp4", trust=trust)
        return recovery.judge(creds, recovery.Received(path, sample, None))

    ok = judge(copy)
    assert ok.state is RecoveryState.RECOVERED, ok.detail
    assert ok.extra is not None and ok.extra["geometry"]["source"] == "search"

    def patch(frames: np.ndarray, donor: np.ndarray, fps: int) -> None:
        frames[fps:2 * fps, 80:260, 300:520] = donor[fps:2 * fps, 80:260, 300:520]

    edited = judge(_edit(case, "fp-patch", patch))
    assert edited.state is RecoveryState.EDITED, edited.detail


def test_verify_cli_prints_the_changes_and_exits_2(case: Case, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def patch(frames: np.ndarray, donor: np.ndarray, fps: int) -> None:
        frames[fps:2 * fps, 0:180, 0:250] = donor[fps:2 * fps, 0:180, 0:250]

    edited = _edit(case, "cli-patch", patch)
    monkeypatch.setenv("VERIFRAME_HOME", str(case.home))
    code = main(["verify", str(edited), "--no-detect"])
    err = capsys.readouterr()
    assert code == 2
    text = err.out + err.err
    assert "changed" in text and "top-left" in text
    assert main(["verify", str(edited), "--no-detect", "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["watermark"]["recovered"]["state"] == "edited"
    assert doc["watermark"]["recovered"]["differences"]


def test_html_report_draws_the_timeline_and_outlines_the_change(case: Case) -> None:
    from veriframe.report.html import render_html

    def patch(frames: np.ndarray, donor: np.ndarray, fps: int) -> None:
        frames[fps:2 * fps, 150:330, 350:600] = donor[fps:2 * fps, 150:330, 350:600]

    result = Verifier(Settings(home=case.home, detector=None)).verify(
        _edit(case, "html-patch", patch))
    page = render_html(result.report, sample=result.sample)
    assert 'class="timeline"' in page and 'stroke="#ff2d2d"' in page
    assert "Changed after signing" in page
    plain = replace(result.report)
    assert "assertion.bmffHash.mismatch</code>" not in render_html(plain, sample=None)


def test_own_intact_manifest_is_not_compared_frame_by_frame(case: Case) -> None:
    """A signed file whose mark points to its own intact manifest: the manifest's hash of the
    bytes already proves the content, so no timeline is decoded to compare pictures."""
    report = _verify(case, case.signed)
    assert report.verdict is Verdict.SIGNED
    rec = report.watermark.recovered
    assert rec is not None and rec.state is RecoveryState.RECOVERED
    assert rec.comparison == "hard-binding" and rec.frame_coverage is None
    assert "exactly what was signed" in rec.detail


@pytest.mark.parametrize("change", ["another-label", "invalid", "binding-mismatch"])
def test_other_or_broken_own_manifest_still_compares_the_content(case: Case, change: str) -> None:
    """The short cut needs the clip's own manifest intact, bound to these bytes and the one
    the mark points to; otherwise the stored manifest is judged by the content comparison."""
    from veriframe import recovery
    from veriframe.credentials.read import read_credentials
    from veriframe.credentials.trust import TrustConfig
    from veriframe.results import CredentialState, HardBinding

    trust = TrustConfig.load(home=case.home)
    own = read_credentials(case.signed, trust=trust)
    assert own.hard_binding is HardBinding.MATCH
    own = {"another-label": replace(own, manifest_label="urn:c2pa:another"),
           "invalid": replace(own, state=CredentialState.INVALID),
           "binding-mismatch": replace(own, hard_binding=HardBinding.MISMATCH)}[change]
    sample = media.sample_frames(case.signed, count=32)
    clip = recovery.Received(case.signed, sample, None)
    rec = recovery.from_store(case.payload_id, clip, store_path=Settings(home=case.home).store_path,
                              trust=trust, own=own)
    assert rec.state is RecoveryState.RECOVERED
    assert rec.comparison == "segments" and rec.frame_coverage is not None
