"""The soft-binding resolver end to end: a real uvicorn on 127.0.0.1, httpx as the client.

sign -> strip -> re-encode (CRF 28, 0.75x) -> verify with --resolver from a home with no keys
and no store -> recovered; a clean clip -> not recovered; a resolver that is down, slow or
answers garbage never crashes verify nor gives ``recovered``; one that points to a manifest for
other content gives ``tampered``. Responses follow the C2PA OpenAPI document's schemas.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.services.conftest import PASSPHRASE, Signed
from tests.services.server import serve
from veriframe._cli import main
from veriframe.resolver import ResolverConfig, create_app
from veriframe.resolver.app import openapi_document
from veriframe.results import RecoveryState, ResolverState, Verdict
from veriframe.settings import Settings
from veriframe.softbinding import FINGERPRINT_ALG, WATERMARK_ALG, encode_payload
from veriframe.verification import verify


def _schema(name: str) -> dict[str, Any]:
    doc = openapi_document()
    return {**doc["components"]["schemas"][name], "components": doc["components"]}


def _validate(doc: Any, name: str) -> None:
    schema = _schema(name)
    ref_resolver = {"$ref": f"#/components/schemas/{name}", "components": schema["components"]}
    jsonschema.validate(doc, ref_resolver)


@pytest.fixture(scope="module")
def resolver(signed_set: Signed) -> Any:
    config = ResolverConfig(settings=Settings(home=signed_set.home))
    with serve(create_app(config)) as running:
        yield running


def _verify(path: Path, home: Path, url: str | list[str], **kw: Any) -> Any:
    urls = [url] if isinstance(url, str) else url
    return verify(path, home=home, detector=None, resolvers=urls, **kw)


def test_stripped_and_reencoded_clip_is_recovered_from_an_empty_home(
    signed_set: Signed, resolver: Any, tmp_path: Path
) -> None:
    empty = tmp_path / "journalist"
    report = _verify(signed_set.reposted, empty, resolver.url)
    assert report.verdict is Verdict.RECOVERED, report.watermark.resolvers
    rec = report.watermark.recovered
    assert rec is not None and rec.state is RecoveryState.RECOVERED
    assert rec.source == "resolver" and rec.resolver == resolver.url
    assert rec.match_kind == "fingerprint" and rec.manifest_id
    assert rec.credentials is not None and rec.credentials.state.value == "valid"
    assert rec.credentials.signer is not None
    assert "Resolver Test Studio" in (rec.credentials.signer.common_name or "")
    assert report.watermark.resolvers[0].state is ResolverState.RECOVERED
    assert report.exit_code().value == 0
    assert not empty.exists()  # a verifier's home is never created


def test_excerpt_mode_finds_the_watermark(signed_set: Signed, resolver: Any,
                                          tmp_path: Path) -> None:
    from veriframe.settings import Settings as S

    report = verify(signed_set.stripped, settings=S(home=tmp_path / "j", resolver_mode="excerpt"),
                    detector=None, resolvers=[resolver.url])
    assert report.verdict is Verdict.RECOVERED
    rec = report.watermark.recovered
    assert rec is not None and rec.match_kind == "watermark"


def test_cli_json_names_the_resolver(signed_set: Signed, resolver: Any, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VERIFRAME_HOME", str(tmp_path / "journalist"))
    code = main(["verify", str(signed_set.reposted), "--json", "--no-detect",
                 "--resolver", resolver.url])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["verdict"] == "recovered"
    assert doc["watermark"]["resolvers"][0]["url"] == resolver.url
    assert doc["watermark"]["resolvers"][0]["state"] == "recovered"
    assert doc["watermark"]["recovered"]["source"] == "resolver"
    # The recovered manifest declares AI generation, which outranks the recovery itself.
    assert doc["decision"]["label"] == "ai-generated"
    assert any(resolver.url in r and "found its manifest" in r
               for r in doc["decision"]["reasons"])


def test_clean_clip_is_not_recovered(signed_set: Signed, resolver: Any, tmp_path: Path) -> None:
    report = _verify(signed_set.other, tmp_path / "j", resolver.url)
    assert report.verdict is Verdict.UNSIGNED
    assert report.watermark.resolvers[0].state is ResolverState.NO_MATCH
    assert report.exit_code().value == 3


def test_down_resolver_falls_back_to_what_the_clip_shows(
    signed_set: Signed, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    config = ResolverConfig(settings=Settings(home=signed_set.home))
    with serve(create_app(config)) as running:
        url = running.url
    report = _verify(signed_set.stripped, tmp_path / "j", url)
    assert report.verdict is Verdict.UNSIGNED
    assert report.watermark.resolvers[0].state is ResolverState.UNREACHABLE
    monkeypatch.setenv("VERIFRAME_HOME", str(tmp_path / "j"))
    assert main(["verify", str(signed_set.stripped), "--json", "--no-detect",
                 "--resolver", url]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["watermark"]["resolvers"][0]["state"] == "unreachable"


def _fake(routes: dict[str, Any]) -> Starlette:
    return Starlette(routes=[Route(path, fn, methods=["GET", "POST"])
                             for path, fn in routes.items()])


def test_garbage_and_slow_resolvers_never_recover(signed_set: Signed, tmp_path: Path) -> None:
    async def garbage(request: Request) -> Response:
        return Response(b"<html>not json</html>", media_type="text/html")

    async def wrong_shape(request: Request) -> JSONResponse:
        return JSONResponse({"matches": [{"manifestId": 42}]})

    async def slow(request: Request) -> JSONResponse:
        await asyncio.sleep(3)
        return JSONResponse({"matches": []})

    settings = Settings(home=tmp_path / "j", resolver_timeout_s=0.5)
    for handler, state in ((garbage, ResolverState.INVALID_RESPONSE),
                           (wrong_shape, ResolverState.INVALID_RESPONSE),
                           (slow, ResolverState.TIMEOUT)):
        app = _fake({"/matches/byBinding": handler, "/matches/byContent": handler})
        with serve(app) as running:
            report = verify(signed_set.stripped, settings=settings, detector=None,
                            resolvers=[running.url])
        assert report.verdict is Verdict.UNSIGNED, handler
        assert report.watermark.resolvers[0].state is state, handler


def test_resolver_killed_mid_run_is_unreachable(signed_set: Signed, tmp_path: Path) -> None:
    stopper: dict[str, Any] = {}

    async def dies(request: Request) -> Response:
        stopper["server"].should_exit = True
        stopper["server"].force_exit = True
        await asyncio.sleep(5)
        return JSONResponse({"matches": []})

    with serve(_fake({"/matches/byBinding": dies, "/matches/byContent": dies})) as running:
        stopper["server"] = running.server
        report = verify(signed_set.stripped, settings=Settings(home=tmp_path / "j",
                                                               resolver_timeout_s=3),
                        detector=None, resolvers=[running.url])
    assert report.verdict is Verdict.UNSIGNED
    assert report.watermark.resolvers[0].state in (ResolverState.UNREACHABLE,
                                                   ResolverState.TIMEOUT,
                                                   ResolverState.INVALID_RESPONSE)


def test_a_manifest_for_other_content_reads_tampered(signed_set: Signed, resolver: Any,
                                                     tmp_path: Path) -> None:
    # A resolver (hostile or broken) that points every query to another signed clip.
    other = httpx.get(f"{resolver.url}/matches/byContent", timeout=30)
    assert other.status_code == 405
    with httpx.Client(base_url=resolver.url, timeout=60) as client:
        found = client.post("/matches/byContent", content=signed_set.other_signed.read_bytes(),
                            headers={"Content-Type": "video/mp4"}).json()
    other_id = found["matches"][0]["manifestId"]

    async def points_elsewhere(request: Request) -> JSONResponse:
        return JSONResponse({"matches": [{"manifestId": other_id, "similarityScore": 100}]})

    async def manifest(request: Request) -> Response:
        data = httpx.get(f"{resolver.url}/manifests/{other_id}", timeout=30).content
        return Response(data, media_type="application/c2pa")

    app = Starlette(routes=[
        Route("/matches/byBinding", points_elsewhere, methods=["GET", "POST"]),
        Route("/matches/byContent", points_elsewhere, methods=["POST"]),
        Route("/manifests/{mid}", manifest)])
    with serve(app) as running:
        report = _verify(signed_set.reposted, tmp_path / "j", running.url)
    assert report.verdict is Verdict.TAMPERED
    assert report.watermark.resolvers[0].state is ResolverState.MISMATCH
    assert report.exit_code().value == 2
    assert report.watermark.recovered is not None
    assert report.watermark.recovered.state is RecoveryState.MISMATCH


def test_responses_follow_the_c2pa_schemas(signed_set: Signed, resolver: Any) -> None:
    with httpx.Client(base_url=resolver.url, timeout=60) as client:
        algs = client.get("/services/supportedAlgorithms")
        assert algs.status_code == 200
        _validate(algs.json(), "c2pa.softBindingAlgList")
        assert {"alg": WATERMARK_ALG} in algs.json()["watermarks"]
        by_id = client.get("/matches/byBinding", params={
            "alg": WATERMARK_ALG, "value": encode_payload(signed_set.payload_id)})
        assert by_id.status_code == 200
        _validate(by_id.json(), "c2pa.softBindingQueryResult")
        [match] = by_id.json()["matches"]
        assert match["similarityScore"] == 100
        posted = client.post("/matches/byBinding", json={
            "alg": WATERMARK_ALG, "value": encode_payload(signed_set.payload_id)})
        assert posted.json() == by_id.json()
        content = client.post("/matches/byContent?maxResults=3",
                              content=signed_set.reposted.read_bytes(),
                              headers={"Content-Type": "video/mp4"})
        assert content.status_code == 200, content.text
        _validate(content.json(), "c2pa.softBindingQueryResult")
        assert content.json()["matches"][0]["manifestId"] == match["manifestId"]
        got = client.get(f"/manifests/{match['manifestId']}")
        assert got.status_code == 200 and got.headers["content-type"] == "application/c2pa"
        assert got.content[:4] != b"" and len(got.content) > 1000
        spec = client.get("/openapi.json").json()
        assert set(spec["paths"]) >= {"/matches/byBinding", "/matches/byContent",
                                      "/manifests/{manifestId}", "/services/supportedAlgorithms"}
        assert client.get("/health").json()["status"] == "ok"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("GET", "/matches/byBinding", {}, 400, "resolver.bad-query"),
        ("GET", "/matches/byBinding", {"params": {"alg": WATERMARK_ALG, "value": "%%%"}}, 400,
         "resolver.bad-query"),
        ("GET", "/matches/byBinding", {"params": {"alg": "x.y.1", "value": "AAAA"}}, 422,
         "resolver.unsupported-algorithm"),
        ("GET", "/matches/byBinding", {"params": {"alg": FINGERPRINT_ALG, "value": "A" * 5000}},
         414, "resolver.query-too-long"),
        ("GET", "/matches/byBinding", {"params": {"alg": WATERMARK_ALG, "value": "AAAA",
                                                  "maxResults": "0"}}, 400, "resolver.bad-query"),
        ("POST", "/matches/byBinding", {"content": b"{not json"}, 400, "resolver.bad-query"),
        ("POST", "/matches/byContent", {"content": b"hello", "headers": {
            "Content-Type": "text/plain"}}, 415, "resolver.unsupported-type"),
        ("POST", "/matches/byContent", {"content": b"\x00garbage" * 100, "headers": {
            "Content-Type": "video/mp4"}}, 422, "media.unreadable"),
        ("POST", "/matches/byContent", {"content": b"", "headers": {
            "Content-Type": "video/mp4"}}, 400, "resolver.bad-query"),
        ("GET", "/manifests/not-an-id", {}, 400, "resolver.bad-manifest-id"),
        ("GET", "/manifests/urn:c2pa:00000000-0000-0000-0000-000000000000", {}, 404,
         "resolver.not-found"),
        ("POST", "/manifests", {"content": b"x", "headers": {
            "Content-Type": "application/c2pa"}}, 403, "http.forbidden"),
        ("GET", "/nowhere", {}, 404, "http.not-found"),
    ],
)
def test_bad_requests_get_json_errors(resolver: Any, method: str, path: str,
                                      kwargs: dict[str, Any], status: int, code: str) -> None:
    with httpx.Client(base_url=resolver.url, timeout=30) as client:
        response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    for secret in ("signer-home", "/tmp", "veriframe-resolver-", "Traceback", ".sqlite"):
        assert secret not in response.text


def test_oversized_upload_is_refused_before_it_is_read(signed_set: Signed) -> None:
    config = ResolverConfig(settings=Settings(home=signed_set.home), max_upload_bytes=10_000)
    with serve(create_app(config)) as running, httpx.Client(base_url=running.url,
                                                            timeout=30) as client:
        response = client.post("/matches/byContent", content=b"\x00" * 200_000,
                               headers={"Content-Type": "video/mp4"})
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "http.too-large"
        assert client.get("/health").status_code == 200  # still up


def test_rate_limit_answers_429_with_retry_after(signed_set: Signed) -> None:
    config = ResolverConfig(settings=Settings(home=signed_set.home), rate=0.5, burst=3)
    with serve(create_app(config)) as running, httpx.Client(base_url=running.url,
                                                            timeout=30) as client:
        codes = [client.get("/services/supportedAlgorithms").status_code for _ in range(6)]
        assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
        refused = client.get("/services/supportedAlgorithms")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert client.get("/health").status_code == 200  # health is never limited


def test_detection_is_bounded_busy_answers_503(signed_set: Signed) -> None:
    config = ResolverConfig(settings=Settings(home=signed_set.home), detect_workers=1,
                            detect_queue=0, content_burst=50, content_rate=50)
    body = signed_set.reposted.read_bytes()

    async def burst(url: str) -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            replies = await asyncio.gather(*[
                client.post("/matches/byContent", content=body,
                            headers={"Content-Type": "video/mp4"}) for _ in range(4)])
        return [r.status_code for r in replies]

    with serve(create_app(config)) as running:
        codes = asyncio.run(burst(running.url))
    assert codes.count(200) >= 1 and 503 in codes, codes


def test_publish_needs_a_token_and_registers_the_manifest(
    signed_set: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from tests.clipgen import make_clip
    from veriframe.resolver.tokens import add_token, load_token_hashes, tokens_path

    # The signer's resolver: its keys and its organisation's CA (a copy of the signer's home).
    resolver_home = tmp_path / "resolver-home"
    shutil.copytree(signed_set.home, resolver_home)
    token = add_token(resolver_home, name="signer-01")
    assert load_token_hashes(resolver_home) and token not in (
        resolver_home / "resolver-tokens").read_text()
    config = ResolverConfig(settings=Settings(home=resolver_home),
                            tokens_file=tokens_path(resolver_home))
    clip = make_clip(tmp_path / "new.mp4", seconds=2.0, width=640, height=360, fps=15, seed=44)
    out = tmp_path / "new.signed.mp4"
    monkeypatch.setenv("VERIFRAME_HOME", str(signed_set.home))
    monkeypatch.setenv("VERIFRAME_KEY_PASSPHRASE", PASSPHRASE)
    with serve(create_app(config)) as running:
        monkeypatch.delenv("VERIFRAME_RESOLVER_TOKEN", raising=False)
        assert main(["sign", str(clip), "-o", str(out), "--publish", running.url]) == 1
        assert "error[resolver.no-token]" in capsys.readouterr().err and not out.exists()
        monkeypatch.setenv("VERIFRAME_RESOLVER_TOKEN", "wrong")
        assert main(["sign", str(clip), "-o", str(out), "--publish", running.url]) == 1
        assert "error[resolver.refused]" in capsys.readouterr().err and not out.exists()
        monkeypatch.setenv("VERIFRAME_RESOLVER_TOKEN", token)
        assert main(["sign", str(clip), "-o", str(out), "--publish", running.url,
                     "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert any("published" in n for n in result["notes"])
        reply = httpx.get(f"{running.url}/matches/byBinding", params={
            "alg": WATERMARK_ALG, "value": encode_payload(result["payload_id"])}).json()
        assert reply["matches"][0]["manifestId"] == result["manifest_label"]
        bad = httpx.post(f"{running.url}/manifests", content=b"not a manifest",
                         headers={"Authorization": f"Bearer {token}",
                                  "Content-Type": "application/c2pa"})
        assert bad.status_code == 415
        assert bad.json()["error"]["code"] == "resolver.not-a-manifest-store"
        from veriframe import media

        stripped = tmp_path / "new.stripped.mp4"
        media.remux(out, stripped)
        report = _verify(stripped, tmp_path / "j", running.url)
    assert report.verdict is Verdict.RECOVERED


def test_excerpt_detection_equals_detection_on_the_frames(signed_set: Signed,
                                                          tmp_path: Path) -> None:
    from veriframe import media, watermark
    from veriframe.credentials.keys import load_watermark_keys
    from veriframe.recovery import make_excerpt

    keys = [watermark.WatermarkKey(k) for k in load_watermark_keys(home=signed_set.home)]
    sample = media.sample_frames(signed_set.reposted, count=32)
    direct = watermark.detect(sample, keys=keys)
    excerpt = make_excerpt(sample, tmp_path / "excerpt.mp4")
    again = watermark.detect(media.sample_frames(excerpt, count=32), keys=keys)
    assert direct.state.value == again.state.value == "present"
    assert direct.payload_id == again.payload_id == signed_set.payload_id
    assert excerpt.stat().st_size < 5_000_000  # 32 frames, nearly lossless: a small upload


def test_binding_values_round_trip() -> None:
    from veriframe.softbinding import decode_fingerprint, decode_payload, encode_fingerprint

    assert decode_payload(encode_payload("0123456789abcdef")) == "0123456789abcdef"
    fp = "p2:" + "ab" * 72
    assert decode_fingerprint(encode_fingerprint(fp)) == fp
    assert base64.b64decode(encode_payload("0123456789abcdef")) == bytes.fromhex(
        "0123456789abcdef")
