"""Where a check failed, the provenance chain, identities and time in all three report forms."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from tests.credentials.chainfiles import ChainFiles, make_chain
from tests.policy.factory import HOSTILE
from veriframe.credentials.keys import init_keys, load_identity
from veriframe.credentials.read import read_credentials
from veriframe.credentials.trust import TrustConfig
from veriframe.report.html import CSP, render_html, thumbnail_uri
from veriframe.report.json_report import render_json
from veriframe.report.terminal import render_terminal
from veriframe.results import (
    CredentialCheck,
    CredentialState,
    FileInfo,
    IdentityAssertion,
    IdentityState,
    IngredientFailure,
    Issue,
    ManifestResult,
    NamedActor,
    ProvenanceNode,
    Thumbnail,
    Verdict,
    VerifyReport,
)

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> ChainFiles:
    home = tmp_path_factory.mktemp("home")
    init_keys(home=home, org="Example Newsroom", passphrase=PASSPHRASE)
    return make_chain(tmp_path_factory.mktemp("chain"), load_identity(home=home,
                                                                       passphrase=PASSPHRASE))


def report_of(path: Path) -> VerifyReport:
    cred = read_credentials(path, trust=TrustConfig.none())
    verdict = {CredentialState.VALID: Verdict.SIGNED, CredentialState.TRUSTED: Verdict.SIGNED,
               CredentialState.INVALID: Verdict.TAMPERED}.get(cred.state, Verdict.UNSIGNED)
    return VerifyReport(FileInfo(path=str(path)), verdict, cred)


def terminal(rep: VerifyReport, width: int = 160) -> str:
    buf = io.StringIO()
    render_terminal(rep, console=Console(file=buf, width=width, force_terminal=False, no_color=True,
                                highlight=False))
    return buf.getvalue()


def test_terminal_names_the_failing_ingredient(chain: ChainFiles) -> None:
    out = terminal(report_of(chain.tampered))
    assert "INVALID: AN INGREDIENT'S CREDENTIALS FAIL VALIDATION" in out
    flat = " ".join(out.replace("│", " ").split())
    assert ("The file's own signature is intact; ingredient 'interview.mp4' failed: "
            in flat)
    assert "assertion.hashedURI.mismatch" in out
    # the "where" column of the failed checks
    assert any("ingredient 'interview.mp4' (manifest" in line and "hashedURI.mismatch" in line
               for line in out.splitlines())
    assert "an assertion (a recorded claim) changed after signing" in flat
    # the chain: this file intact at the root, the ingredient failed below it
    assert re.search(r"final\.mp4 +\(this file\) +\[intact\]", out)
    assert re.search(r"interview\.mp4 +\(inputTo\) +\[FAILED\]", out)
    assert "camera.mp4" not in out  # listed only by the failing manifest: not shown as fact


def test_terminal_shows_the_chain_as_a_tree(chain: ChainFiles) -> None:
    out = terminal(report_of(chain.final))
    lines = out.splitlines()
    final = next(i for i, line in enumerate(lines) if "final.mp4  (this file)" in line)
    interview = next(i for i, line in enumerate(lines) if "interview.mp4  (inputTo)" in line)
    camera = next(i for i, line in enumerate(lines) if "camera.mp4  (inputTo)" in line)
    assert final < interview < camera
    indent = [lines[i].index(name) for i, name in ((final, "final.mp4"),
                                                    (interview, "interview.mp4"),
                                                    (camera, "camera.mp4"))]
    assert indent[0] < indent[1] < indent[2]  # nested, not a flat list
    assert "└──" in lines[interview] and "└──" in lines[camera]
    block = "\n".join(lines[camera:camera + 4])
    assert "signed by Example Newsroom" in block and "source: digitalCapture" in block
    assert "Time-stamp" in out and "no time-stamp" in out


def test_json_names_the_failing_ingredient_and_nests_the_chain(chain: ChainFiles) -> None:
    doc = json.loads(render_json(report_of(chain.tampered)))
    assert doc["schema"] == "veriframe.verify/1.2"
    cred = doc["credentials"]
    assert cred["state"] == "invalid" and cred["reference_state"] == "invalid"
    assert cred["active_manifest_result"] == {"state": "valid", "failures": []}
    [failed] = cred["ingredient_failures"]
    assert failed["title"] == "interview.mp4" and failed["path"] == ["final.mp4",
                                                                      "interview.mp4"]
    assert "assertion.hashedURI.mismatch" in [f["code"] for f in failed["failures"]]
    assert all(f["explanation"] for f in failed["failures"])
    assert cred["chain"]["ingredients"][0]["state"] == "invalid"
    doc = json.loads(render_json(report_of(chain.final)))
    node = doc["credentials"]["chain"]["ingredients"][0]["ingredients"][0]
    assert node["title"] == "camera.mp4" and node["relationship"] == "inputTo"
    assert node["signer"]["common_name"] and node["signer"]["signed_at"]


def test_html_names_the_failing_ingredient(chain: ChainFiles) -> None:
    page = render_html(report_of(chain.tampered))
    text = re.sub(r"<[^>]+>", " ", page)
    flat = " ".join(text.split()).replace("&#x27;", "'")
    assert "Where it failed: The file's own signature is intact; ingredient 'interview.mp4'" \
        in flat
    assert "assertion.hashedURI.mismatch" in page
    assert '<ul class="tree">' in page and "interview.mp4" in page
    assert CSP in page


def test_html_inlines_thumbnails_as_data_uris(shared_dir: Path) -> None:
    page = render_html(report_of(shared_dir / "c2pa" / "adobe-20220124-CAI.jpg"))
    uris = re.findall(r'src="(data:[^"]+)"', page)
    assert len(uris) == 3 and all(u.startswith("data:image/jpeg;base64,/9j/") for u in uris)
    assert not re.search(r'src="(?!data:)', page)  # nothing loaded from anywhere


def test_json_never_carries_thumbnail_bytes(shared_dir: Path) -> None:
    rep = report_of(shared_dir / "c2pa" / "adobe-20220124-CAI.jpg")
    assert rep.credentials.chain is not None and rep.credentials.chain.thumbnail is not None
    text = render_json(rep)
    assert "/9j/" not in text and '"data"' not in text
    assert json.loads(text)["credentials"]["chain"]["thumbnail"]["size_bytes"] > 1000


def test_identity_and_time_beside_the_signer(shared_dir: Path) -> None:
    out = terminal(report_of(shared_dir / "c2pa" / "C_with_CAWG_data.jpg"))
    flat = " ".join(out.replace("│", " ").split())
    assert ("Identity C2PA Signer [X.509 certificate, issued by C2PA Test Signing Cert]: "
            "validated, but its issuer is not on a trust list") in flat
    assert "Time-stamp 2025-07-29T23:13:49+00:00 by DigiCert" in flat
    assert "Certificate was valid when it signed (checked at the time-stamp's time)" in flat
    page = render_html(report_of(shared_dir / "c2pa" / "cawg_ica_success.jpg"))
    assert "First-Name Last-Name (document verification via Example ID Verifier)" in page


def test_expired_certificate_is_explained(shared_dir: Path) -> None:
    out = terminal(report_of(shared_dir / "c2pa" / "nikon-20221019-building.jpeg"))
    flat = " ".join(out.replace("│", " ").split())
    assert "NOT valid today (expired or not yet valid)" in flat
    assert "signingCredential.expired" in out


def hostile_check() -> CredentialCheck:
    bad = Issue(HOSTILE, HOSTILE, HOSTILE)
    identity = IdentityAssertion(label="cawg.identity", state=IdentityState.VALID,
                                 credential="X.509 certificate", issuer=HOSTILE,
                                 actors=(NamedActor(name=HOSTILE, kind=HOSTILE,
                                                    provider=HOSTILE),))
    thumb = Thumbnail(format="image/svg+xml", size_bytes=10, sha256="0" * 64,
                      data=b"<svg onload=alert(1)>")
    node = ProvenanceNode(title=HOSTILE, relationship=HOSTILE, manifest_label=HOSTILE,
                          state=CredentialState.INVALID, failures=(bad,),
                          recorded_failures=(bad,), thumbnail=thumb)
    root = ProvenanceNode(title=HOSTILE, state=CredentialState.VALID, identities=(identity,),
                          ingredients=(node,), claim_generator=HOSTILE)
    return CredentialCheck(
        state=CredentialState.INVALID, failures=(bad,), chain=root,
        active_manifest_result=ManifestResult(state=CredentialState.VALID),
        ingredient_failures=(IngredientFailure(title=HOSTILE, manifest_label=HOSTILE,
                                               path=(HOSTILE, HOSTILE), failures=(bad,)),),
        stricter_than_reference=HOSTILE, reference_state="valid",
    )


def test_hostile_chain_strings_are_neutralised() -> None:
    rep = VerifyReport(FileInfo(path="/data/x.mp4"), Verdict.TAMPERED, hostile_check())
    out = terminal(rep)
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "alert(1)" in out  # shown as inert text
    assert not any(line.strip(" │").startswith("fake: trusted") for line in out.splitlines())
    page = render_html(rep)
    assert "<script>" not in page and "alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    assert "data:image/svg" not in page and "onload" not in page  # not an allowed image
    json.loads(render_json(rep))


@pytest.mark.parametrize("thumb", [
    Thumbnail(format="image/svg+xml", size_bytes=5, sha256="", data=b"<svg/>"),
    Thumbnail(format="image/png", size_bytes=5, sha256="", data=b"<script>"),
    Thumbnail(format="text/html", size_bytes=5, sha256="", data=b"\xff\xd8\xff<html>"),
    Thumbnail(format="image/webp", size_bytes=12, sha256="", data=b"RIFF\0\0\0\0HTML"),
    Thumbnail(format="image/jpeg", size_bytes=0, sha256=""),
])
def test_thumbnail_uri_refuses_anything_but_known_images(thumb: Thumbnail) -> None:
    assert thumbnail_uri(thumb) is None


def test_thumbnail_uri_of_a_jpeg() -> None:
    uri = thumbnail_uri(Thumbnail(format="image/jpeg", size_bytes=4, sha256="",
                                  data=b"\xff\xd8\xff\xe0"))
    assert uri == "data:image/jpeg;base64,/9j/4A=="
