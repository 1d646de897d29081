"""The verify service's API end to end: a real uvicorn on 127.0.0.1, httpx as the client.

A signed clip uploaded to ``POST /v1/verify`` gives the same document as ``veriframe verify
--json`` (but for the file's name and the service's paths, which never leave it); junk gets a
4xx with a stable code and the service stays up; the size limit, the decode limits, the
bounded queue (503 before the body is read), the time budget (504) and bearer tokens hold;
every upload is gone when its answer arrives; the access log holds the verdict, sizes and
timing only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from tests.services.conftest import SmallSigned
from tests.services.server import Running, serve
from veriframe._service.auth import hash_token
from veriframe.media import Limits
from veriframe.serve import ServeConfig, create_app
from veriframe.serve.openapi import openapi_document
from veriframe.settings import Settings

CLIENT_NAME = "Source interview (raw take).mp4"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _validate(doc: Any, name: str) -> None:
    spec = openapi_document(auth=False)
    jsonschema.validate(doc, {"$ref": f"#/components/schemas/{name}",
                              "components": spec["components"]})


def _private(small_signed: SmallSigned, work: Path) -> list[str]:
    """Strings no answer may contain: the service's folders and what Python shows of errors."""
    return [str(work), str(small_signed.home), "veriframe-serve-", "manifests.sqlite",
            "Traceback", 'File "', str(small_signed.signed.parent)]


def _assert_clean(text: str, small_signed: SmallSigned, work: Path) -> None:
    for secret in _private(small_signed, work):
        assert secret not in text, secret




@pytest.fixture()
def client(service: Running, work: Path) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=120) as http:
        yield http
    assert list(work.iterdir()) == []  # every upload (and its folder) is gone


def _file(path: Path, name: str = CLIENT_NAME) -> dict[str, Any]:
    return {"file": (name, path.read_bytes(), "video/mp4")}


def test_verify_gives_the_cli_document_without_the_services_paths(
    small_signed: SmallSigned, client: httpx.Client, work: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    from veriframe._cli import main

    response = client.post("/v1/verify", files=_file(small_signed.signed))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    doc = response.json()
    _validate(doc, "verifyReport")
    assert doc["schema"] == "veriframe.verify/1.2" and doc["verdict"] == "signed"
    assert small_signed.org in doc["credentials"]["signer"]["issuer"]
    assert doc["file"]["path"] == CLIENT_NAME
    assert doc["decision"]["policy"] == "newsroom" and doc["detection"]["state"] == "scored"
    _assert_clean(response.text, small_signed, work)

    monkeypatch.setenv("VERIFRAME_HOME", str(small_signed.home))
    assert main(["verify", str(small_signed.signed), "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    for d in (doc, cli):  # the only differences allowed: where the file and store are
        d["file"].pop("path")
        d["file"]["media"].pop("path")
        (d["watermark"].get("recovered") or {}).pop("store", None)
    assert doc == cli


def test_policy_and_detect_fields(small_signed: SmallSigned, client: httpx.Client) -> None:
    strict = client.post("/v1/verify", files=_file(small_signed.signed),
                         data={"policy": "strict", "detect": "false"}).json()
    assert strict["decision"]["policy"] == "strict"
    assert strict["detection"]["state"] == "not_checked"
    bare = client.post("/v1/verify", files=_file(small_signed.signed),
                       data={"policy": "none", "detect": "no"}).json()
    assert bare["decision"]["state"] == "not_checked" and bare["verdict"] == "signed"


def test_report_gives_both_reports_as_text(small_signed: SmallSigned, client: httpx.Client,
                                           work: Path) -> None:
    response = client.post("/v1/report", files=_file(small_signed.signed),
                           data={"detect": "false"})
    assert response.status_code == 200, response.text
    bundle = response.json()
    _validate(bundle, "reportBundle")
    doc = json.loads(bundle["json"])
    assert bundle["verdict"] == doc["verdict"] == "signed"
    assert doc["file"]["path"] == CLIENT_NAME
    page = bundle["html"]
    assert page.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in page
    assert "verdict: <b>signed</b>" in page and small_signed.org in page
    assert "<script" not in page.lower()
    _assert_clean(response.text, small_signed, work)


def test_detect_gives_the_detectors_estimate(small_signed: SmallSigned,
                                             client: httpx.Client) -> None:
    response = client.post("/v1/detect", files=_file(small_signed.signed),
                           data={"policy": "strict"})
    assert response.status_code == 200, response.text
    doc = response.json()
    _validate(doc, "detectResult")
    det = doc["detection"]
    assert doc["file"] == CLIENT_NAME and det["state"] == "scored"
    assert 0.0 <= det["p_synthetic"] <= 1.0 and det["frame_scores"]
    from veriframe.policy import load_policy

    assert det["label"] == load_policy("strict").label_for(det["p_synthetic"])
    no_meta = client.post("/v1/detect", files=_file(small_signed.signed),
                          data={"metadata": "false", "policy": "none"}).json()["detection"]
    assert no_meta["used_metadata"] is False and no_meta["label"] is None


def test_policies_health_and_openapi(client: httpx.Client) -> None:
    policies = client.get("/v1/policies").json()
    _validate(policies, "policies")
    assert policies["default"] == "newsroom"
    assert {"newsroom", "platform", "strict"} <= {p["name"] for p in policies["policies"]}
    health = client.get("/health").json()
    _validate(health, "health")
    assert health["auth"] is False and health["capacity"] == 10
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert set(spec["paths"]) == {"/health", "/v1/policies", "/v1/verify", "/v1/report",
                                  "/v1/detect"}
    assert "security" not in spec["paths"]["/v1/verify"]["post"]
    assert spec["paths"]["/v1/verify"]["post"]["responses"]["503"]["headers"]["Retry-After"]


def _multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "vfb0undary"
               ) -> tuple[bytes, dict[str, str]]:
    out = b""
    for name, filename, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def _junk_cases() -> list[tuple[str, dict[str, Any], int, str]]:
    two, two_h = _multipart([("file", "a.mp4", b"x"), ("file", "b.mp4", b"y")])
    cut, cut_h = _multipart([("file", "a.mp4", b"\x00" * 100)])
    return [
        ("/v1/verify", {"files": {"file": ("notes.txt", b"just some text, not a video")}},
         415, "media.unsupported-type"),
        ("/v1/verify", {"files": {"file": ("photo.mp4", PNG)}}, 415, "media.unsupported-type"),
        ("/v1/verify", {"files": {"file": ("x.mp4", b"\x00\x00\x00\x18ftypisom"
                                           + b"\x00junk" * 400)}}, 422, "media.unreadable"),
        ("/v1/verify", {"files": {"file": ("empty.mp4", b"")}}, 422, "media.empty"),
        ("/v1/report", {"files": {"file": ("notes.txt", b"hello")}}, 415,
         "media.unsupported-type"),
        ("/v1/detect", {"files": {"file": ("notes.txt", b"hello")}}, 415,
         "media.unsupported-type"),
        ("/v1/detect", {"files": {"file": ("x.mp4", b"\x1a\x45\xdf\xa3" + b"\x01" * 500)}},
         422, "media.unreadable"),
        ("/v1/verify", {"content": b"\x00" * 100, "headers": {"Content-Type": "video/mp4"}},
         415, "http.not-multipart"),
        ("/v1/verify", {"files": {"other": ("x.mp4", b"abc")}}, 400, "http.bad-form"),
        ("/v1/verify", {"files": {"policy": (None, b"strict")}}, 400, "http.no-file"),
        ("/v1/verify", {"content": two, "headers": two_h}, 400, "http.bad-form"),
        ("/v1/verify", {"content": cut[:-10], "headers": cut_h}, 400, "http.bad-form"),
        ("/v1/verify", {"files": {"file": ("x.mp4", b"abc")}, "data": {"polcy": "strict"}},
         400, "http.bad-form"),
        ("/v1/verify", {"files": {"file": ("x.mp4", b"abc")}, "data": {"policy": "/etc/passwd"}},
         400, "policy.not-found"),
        ("/v1/verify", {"files": {"file": ("x.mp4", b"abc")}, "data": {"detect": "maybe"}},
         400, "http.bad-form"),
        ("/v1/verify", {"files": {"file": ("x.mp4", b"abc")},
                        "data": {"policy": "x" * 5000}}, 400, "http.bad-form"),
    ]


@pytest.mark.parametrize(("path", "kwargs", "status", "code"), _junk_cases())
def test_bad_input_gets_a_json_error_and_the_service_stays_up(
    small_signed: SmallSigned, client: httpx.Client, work: Path, path: str,
    kwargs: dict[str, Any], status: int, code: str
) -> None:
    response = client.post(path, **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and "hint" in error
    _assert_clean(response.text, small_signed, work)
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/v1/verify", 405, "http.method-not-allowed"),
    ("GET", "/nowhere", 404, "http.not-found"),
    ("GET", "/static/index.html", 404, "http.not-found"),
    ("GET", "/static/..%2f..%2fapp.py", 404, "http.not-found"),
])
def test_routes_that_do_not_exist(client: httpx.Client, method: str, path: str, status: int,
                                  code: str) -> None:
    response = client.request(method, path)
    assert response.status_code == status and response.json()["error"]["code"] == code


def test_page_and_its_files(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    text = page.text
    assert '<script src="static/page.js" defer></script>' in text
    assert text.count("<script") == 1 and "<style" not in text and " style=" not in text
    assert "deleted as soon as the answer is sent" in text
    assert 'value="newsroom" selected' in text and 'id="token"' not in text
    for name, kind in (("page.js", "text/javascript"), ("page.css", "text/css"),
                       ("report.css", "text/css")):
        got = client.get(f"/static/{name}")
        assert got.status_code == 200 and got.headers["content-type"].startswith(kind)
    from veriframe.report.html import stylesheet

    assert client.get("/static/report.css").text == stylesheet()


def test_upload_over_the_limit_is_refused_with_413(small_signed: SmallSigned,
                                                   tmp_path: Path) -> None:
    config = ServeConfig(settings=Settings(home=small_signed.home), max_upload_bytes=50_000,
                         work_dir=tmp_path)
    big = b"\x00" * 300_000

    def chunks() -> Iterator[bytes]:  # no Content-Length: stopped while it streams
        body, _ = _multipart([("file", "big.mp4", big)])
        for i in range(0, len(body), 16_384):
            yield body[i:i + 16_384]

    with serve(create_app(config)) as running, httpx.Client(base_url=running.url,
                                                            timeout=60) as client:
        declared = client.post("/v1/verify", files={"file": ("big.mp4", big)})
        _, headers = _multipart([])
        streamed = client.post("/v1/verify", content=chunks(), headers=headers)
        for response in (declared, streamed):
            assert response.status_code == 413, response.text
            assert response.json()["error"]["code"] == "http.too-large"
        assert client.get("/health").status_code == 200
    assert list(tmp_path.iterdir()) == []


def test_decode_limits_apply_to_uploads(small_signed: SmallSigned, tmp_path: Path) -> None:
    from tests.clipgen import make_clip

    unsigned = make_clip(tmp_path / "clip" / "plain.mp4", seconds=0.5, width=320, height=180)
    work = tmp_path / "work"
    work.mkdir()
    settings = Settings(home=small_signed.home, limits=Limits(max_pixels=160 * 90))
    config = ServeConfig(settings=settings, work_dir=work)
    with serve(create_app(config)) as running:
        refused = httpx.post(f"{running.url}/v1/verify", files=_file(unsigned), timeout=60)
        signed = httpx.post(f"{running.url}/v1/verify", files=_file(small_signed.signed),
                            timeout=60)
    # Nothing to judge without decoding: the limit is the answer.
    assert refused.status_code == 413, refused.text
    assert refused.json()["error"]["code"] == "media.limits"
    # Intact credentials are judged without decoding a frame (as `verify` does); the pixel
    # checks say why they did not run.
    assert signed.status_code == 200 and signed.json()["verdict"] == "signed"
    assert signed.json()["detection"]["error"]["code"] == "media.limits"
    assert signed.json()["watermark"]["state"] == "not_checked"
    assert list(work.iterdir()) == []


async def _raw_post(url: str, path: str, *, declared: int, send: bytes) -> bytes:
    """Send headers declaring ``declared`` body bytes but only ``send`` of them; read back."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write((f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {declared}\r\n"
                  "Content-Type: multipart/form-data; boundary=vfb0undary\r\n\r\n").encode()
                 + send)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(65536), timeout=20)
    finally:
        writer.close()


def test_a_full_queue_answers_503_before_reading_the_body(
    small_signed: SmallSigned, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from veriframe.serve import app as serve_app

    config = ServeConfig(settings=Settings(home=small_signed.home), workers=1, queue=0,
                         work_dir=tmp_path)
    release = threading.Event()
    real = serve_app.verify_upload

    def held(*args: Any, **kwargs: Any) -> Any:  # the only worker stays busy until released
        release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(serve_app, "verify_upload", held)

    async def scenario() -> tuple[Any, bytes, float, Any]:
        async with httpx.AsyncClient(base_url=running.url, timeout=60) as http:
            first = asyncio.create_task(http.post("/v1/verify", files=_file(small_signed.signed)))
            for _ in range(200):
                if (await http.get("/health")).json()["busy"] == 1:
                    break
                await asyncio.sleep(0.05)
            t0 = time.perf_counter()
            refused = await _raw_post(running.url, "/v1/verify", declared=400_000_000,
                                      send=b"--vfb0undary\r\n")
            elapsed = time.perf_counter() - t0
            health = (await http.get("/health")).json()
            release.set()
            return await first, refused, elapsed, health

    with serve(create_app(config)) as running:
        first, refused, elapsed, health = asyncio.run(scenario())
    head, _, payload = refused.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503"), refused[:300]
    assert b"retry-after: 5" in head.lower()
    assert json.loads(payload)["error"]["code"] == "http.busy"
    assert elapsed < 5  # refused at once: the 400 MB it announced were never awaited
    assert health["busy"] == 1 and health["capacity"] == 1
    assert first.status_code == 200 and first.json()["verdict"] == "signed"
    assert list(tmp_path.iterdir()) == []


def test_past_the_time_budget_answers_504_and_the_service_stays_up(
    small_signed: SmallSigned, tmp_path: Path
) -> None:
    config = ServeConfig(settings=Settings(home=small_signed.home), timeout_s=0.05,
                         work_dir=tmp_path)
    with serve(create_app(config)) as running, httpx.Client(base_url=running.url,
                                                            timeout=60) as client:
        response = client.post("/v1/verify", files=_file(small_signed.signed))
        assert response.status_code == 504, response.text
        assert response.json()["error"]["code"] == "http.timeout"
        assert list(tmp_path.iterdir()) == []  # deleted with the answer, work or not
        deadline = time.monotonic() + 60
        while client.get("/health").json()["busy"] and time.monotonic() < deadline:
            time.sleep(0.1)  # the check's thread runs out and gives its place back
        assert client.get("/health").json()["busy"] == 0


def test_bearer_token_guards_the_uploads_only(small_signed: SmallSigned, tmp_path: Path) -> None:
    token = "a-long-random-token-for-the-newsroom"
    config = ServeConfig(settings=Settings(home=small_signed.home),
                         token_hashes=(hash_token(token),), work_dir=tmp_path)
    junk = {"file": ("notes.txt", b"hello")}
    with serve(create_app(config)) as running, httpx.Client(base_url=running.url,
                                                            timeout=60) as client:
        for path in ("/v1/verify", "/v1/report", "/v1/detect"):
            missing = client.post(path, files=junk)
            wrong = client.post(path, files=junk, headers={"Authorization": "Bearer nope"})
            for response in (missing, wrong):
                assert response.status_code == 401
                assert response.json()["error"]["code"] == "http.unauthorized"
                assert response.headers["www-authenticate"] == "Bearer"
            right = client.post(path, files=junk, headers={"Authorization": f"Bearer {token}"})
            assert right.status_code == 415  # past the check: the file itself is refused
        assert client.get("/health").json()["auth"] is True
        assert client.get("/v1/policies").status_code == 200
        page = client.get("/").text
        assert 'id="token"' in page and token not in page
        spec = client.get("/openapi.json").json()
        assert spec["paths"]["/v1/verify"]["post"]["security"] == [{"bearer": []}]
    assert list(tmp_path.iterdir()) == []


def test_access_log_holds_verdict_size_and_timing_only(
    small_signed: SmallSigned, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="veriframe.access")
    data = small_signed.signed.read_bytes()
    client.post("/v1/verify", files=_file(small_signed.signed), data={"detect": "false"})
    client.post("/v1/verify", files={"file": ("secret-source.txt", b"not a video")})
    lines = [json.loads(r.getMessage()) for r in caplog.records
             if r.name == "veriframe.access"]
    verified = [x for x in lines if x["route"] == "/v1/verify"]
    assert [x["verdict"] for x in verified] == ["signed", "error"]
    assert [x["status"] for x in verified] == [200, 415]
    assert len(data) < verified[0]["in"] < len(data) + 2000 and verified[0]["ms"] > 0
    allowed = {"ts", "service", "method", "route", "status", "in", "bytes", "ms", "verdict"}
    assert all(set(x) <= allowed for x in lines)
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (CLIENT_NAME, "secret-source", "Source interview", "127.0.0.1"):
        assert secret not in text


def test_cli_resolves_the_environment_and_keeps_only_token_hashes(
    small_signed: SmallSigned, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    from veriframe._cli import main
    from veriframe._cli import serve as cli

    monkeypatch.setenv("VERIFRAME_HOME", str(small_signed.home))
    monkeypatch.setenv("VERIFRAME_SERVE_TOKEN", "tok-one, tok-two")
    monkeypatch.setenv("VERIFRAME_MAX_PIXELS", "1000000")
    monkeypatch.setenv("VERIFRAME_RESOLVERS", "https://resolver.example.org")
    config = cli._config(store=None, trust=None, policy="strict", resolvers=[],
                         resolver_mode="fingerprint", concurrency=3, queue=4, timeout=9.0,
                         max_upload_mb=7, samples=16, work_dir=None)
    text = json.dumps(config)
    assert "tok-one" not in text and "tok-two" not in text
    assert config["tokens"] == [hash_token("tok-one"), hash_token("tok-two")]
    assert config["limits"]["max_pixels"] == 1_000_000
    assert config["resolvers"] == ["https://resolver.example.org"]
    assert config["max_upload_bytes"] == 7 * 1024 * 1024
    monkeypatch.setenv(cli.CONFIG_ENV, text)
    app = cli.app_from_env()  # what each of `--workers N` processes builds
    with serve(app) as running:
        health = httpx.get(f"{running.url}/health").json()
        page = httpx.get(f"{running.url}/").text
        policies = httpx.get(f"{running.url}/v1/policies").json()
    assert health["auth"] is True and health["capacity"] == 7
    assert policies["default"] == "strict"
    assert "https://resolver.example.org" in page and "fingerprint" in page
    assert main(["serve", "--policy", "no-such-policy"]) == 1
    assert "error[policy.not-found]" in capsys.readouterr().err
    assert main(["serve", "--resolver-mode", "everything"]) == 1
    assert "error[serve.bad-option]" in capsys.readouterr().err
