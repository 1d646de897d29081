"""Through a resolver too, a recovered clip must be what was signed: a keyless verifier that
recovers a patched copy says ``tampered`` and where, never ``recovered``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services.conftest import Signed
from tests.services.server import serve
from veriframe import media
from veriframe.resolver import ResolverConfig, create_app
from veriframe.results import RecoveryState, ResolverState, Verdict
from veriframe.settings import Settings
from veriframe.verification import verify


@pytest.fixture(scope="module")
def resolver(signed_set: Signed) -> Iterator[Any]:
    with serve(create_app(ResolverConfig(settings=Settings(home=signed_set.home)))) as running:
        yield running


@pytest.fixture(scope="module")
def patched(signed_set: Signed, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The signed clip with a 15 % patch of another clip for one second, re-encoded."""
    clip = media.read_frames(signed_set.signed, rgb=True, luma=False)
    donor = media.read_frames(signed_set.other, rgb=True, luma=False)
    assert clip.rgb is not None and donor.rgb is not None
    frames = clip.rgb.copy()
    fps = round(clip.info.fps or 15)
    frames[fps:2 * fps, 90:240, 300:530] = donor.rgb[0:fps, 90:240, 300:530]
    out = tmp_path_factory.mktemp("patched") / "patched.mp4"
    media.write_video(out, frames, fps=fps, crf=23)
    return out


@pytest.mark.parametrize("mode", ["fingerprint", "excerpt"])
def test_patched_copy_through_a_resolver_is_tampered_and_says_where(
        signed_set: Signed, resolver: Any, patched: Path, tmp_path: Path, mode: str) -> None:
    settings = Settings(home=tmp_path / "journalist", resolver_mode=mode)
    report = verify(patched, settings=settings, detector=None, resolvers=[resolver.url])
    rec = report.watermark.recovered
    assert rec is not None, report.watermark.resolvers
    assert rec.source == "resolver"
    assert report.verdict is Verdict.TAMPERED, rec.detail
    assert rec.state is RecoveryState.EDITED
    assert report.watermark.resolvers[0].state is ResolverState.EDITED
    assert any(d.start_s < 2.0 and d.end_s > 1.0 and d.region is not None
               for d in rec.differences)
    assert report.exit_code().value == 2


def test_reposted_copy_through_a_resolver_is_recovered_with_coverage(
        signed_set: Signed, resolver: Any, tmp_path: Path) -> None:
    report = verify(signed_set.reposted, home=tmp_path / "j", detector=None,
                    resolvers=[resolver.url])
    rec = report.watermark.recovered
    assert report.verdict is Verdict.RECOVERED, rec
    assert rec is not None and rec.comparison == "segments" and not rec.differences
    assert rec.geometry is not None and rec.geometry["source"] == "search"  # no key: no mark
