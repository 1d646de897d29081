"""RFC 3161 time-stamps: requested from a real (local) authority, shown on verify, fail closed."""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("asn1crypto", reason="the test time-stamp authority needs asn1crypto "
                    "(the [dev] extra)")

from tests.credentials.conftest import spec_for_tests
from tests.credentials.tsa_server import TSA_NAME, TimeStampServer
from veriframe._cli import main
from veriframe.credentials.keys import SigningIdentity
from veriframe.credentials.manifest import build_manifest
from veriframe.credentials.read import read_credentials
from veriframe.credentials.sign import sign_mp4
from veriframe.credentials.trust import TrustConfig
from veriframe.errors import CredentialsError
from veriframe.home import HomePaths
from veriframe.results import CredentialState, TimeStampState


@pytest.fixture()
def tsa() -> Iterator[TimeStampServer]:
    server = TimeStampServer()
    server.start()
    yield server
    server.stop()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign(identity: SigningIdentity, src: Path, dst: Path, url: str | None) -> None:
    sign_mp4(src, dst, manifest=build_manifest(spec_for_tests()),
             identity=dataclasses.replace(identity, tsa_url=url))


def test_signature_is_time_stamped(identity: SigningIdentity, small_clip: Path,
                                   tmp_path: Path, vf_home: Path,
                                   tsa: TimeStampServer) -> None:
    out = tmp_path / "stamped.mp4"
    sign(identity, small_clip, out, tsa.url)
    assert len(tsa.requests) == 1  # c2pa-rs asked our authority over plain http
    check = read_credentials(out, trust=TrustConfig.none())
    assert check.state is CredentialState.VALID
    t = check.time
    assert t is not None and t.time_stamp is TimeStampState.VALID  # authority not trusted
    assert t.authority == TSA_NAME and t.basis == "time-stamp" and t.inside_validity is True
    assert t.time == tsa.times[0].isoformat()  # the authority's time, not the signer's
    assert check.signer is not None and check.signer.signed_at == t.time
    # with the authority's root among the anchors, c2pa-rs trusts the time-stamp
    own_ca = (HomePaths.resolve(vf_home).keys / "ca.pem").read_bytes()
    trust = TrustConfig.from_pem(own_ca + b"\n" + tsa.root_pem)
    check = read_credentials(out, trust=trust)
    assert check.state is CredentialState.TRUSTED
    assert check.time is not None and check.time.time_stamp is TimeStampState.TRUSTED


@pytest.mark.parametrize("mode", ["http-500", "garbage", "unreachable"])
def test_failing_authority_fails_closed(identity: SigningIdentity, small_clip: Path,
                                        tmp_path: Path, mode: str) -> None:
    server = TimeStampServer(mode="ok" if mode == "unreachable" else mode)
    url = f"http://127.0.0.1:{_closed_port()}/tsa" if mode == "unreachable" else server.start()
    folder = tmp_path / "out"
    folder.mkdir()
    try:
        with pytest.raises(CredentialsError) as info:
            sign(identity, small_clip, folder / "never.mp4", url)
    finally:
        server.stop()
    assert info.value.code == "credentials.tsa-unavailable"
    assert "127.0.0.1" in info.value.message and info.value.hint
    assert list(folder.iterdir()) == []  # no output, no temporary file left behind
    if mode != "unreachable":
        assert len(server.requests) == 1


@pytest.mark.parametrize("url", ["ftp://tsa.example/", "tsa.example", "http://", "http://x:99999/",
                                 "http://tsa.example/\n"])
def test_bad_tsa_url(identity: SigningIdentity, small_clip: Path, tmp_path: Path,
                     url: str) -> None:
    with pytest.raises(CredentialsError) as info:
        sign(identity, small_clip, tmp_path / "never.mp4", url)
    assert info.value.code == "credentials.tsa-bad-url"
    assert not (tmp_path / "never.mp4").exists()


def test_cli_sign_tsa(vf_home: Path, wm_clip: Path, tmp_path: Path, tsa: TimeStampServer,
                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "init", "--org", "Test Newsroom"]) == 0
    out = tmp_path / "stamped.mp4"
    assert main(["sign", str(wm_clip), "-o", str(out), "--tsa", tsa.url]) == 0
    assert len(tsa.requests) == 1
    capsys.readouterr()
    main(["verify", str(out), "--json", "--no-detect", "--policy", "none"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["credentials"]["time"]["time_stamp"] == "valid"
    assert doc["credentials"]["time"]["authority"] == TSA_NAME


def test_cli_sign_tsa_unavailable_writes_nothing(vf_home: Path, wm_clip: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "init", "--org", "Test Newsroom"]) == 0
    folder = tmp_path / "out"
    folder.mkdir()
    capsys.readouterr()
    code = main(["sign", str(wm_clip), "-o", str(folder / "never.mp4"), "--tsa",
                 f"http://127.0.0.1:{_closed_port()}/tsa"])
    err = capsys.readouterr().err
    assert code == 1 and "error[credentials.tsa-unavailable]" in err
    assert "Traceback" not in err
    assert list(folder.iterdir()) == []
    store = HomePaths.resolve(vf_home).store
    if store.exists():  # nothing was recorded for a file that was not written
        import sqlite3

        with sqlite3.connect(store) as db:
            assert db.execute("select count(*) from manifests").fetchone()[0] == 0
