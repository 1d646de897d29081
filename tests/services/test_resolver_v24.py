"""The Soft Binding Resolution API 2.4 on a real uvicorn, on both store back ends.

Discovery (``/.well-known/c2pa-soft-binding-resolution``), capabilities, status, delete,
bindings, receipts and byReference (off unless turned on; allow-list, private addresses,
size), every answer validated against the OpenAPI document the service serves under ``/v1``;
1.0.0 clients still get the root routes, and a keyless ``verify --resolver`` on the ``/v1``
base URL still recovers a stripped clip.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.services.conftest import PASSPHRASE, Signed
from tests.services.server import serve
from tests.services.test_resolver_trust import resolver_home
from veriframe.resolver import ResolverConfig, create_app
from veriframe.resolver.app import openapi_document_24
from veriframe.resolver.reference import ReferencePolicy
from veriframe.settings import Settings
from veriframe.softbinding import WATERMARK_ALG, encode_payload


def _validate(doc: Any, name: str) -> None:
    spec = openapi_document_24()
    jsonschema.validate(doc, {"$ref": f"#/components/schemas/{name}",
                              "components": spec["components"]})


def _validate_matches(doc: Any) -> None:
    spec = openapi_document_24()
    schema = spec["components"]["responses"]["Matches"]["content"]["application/json"]["schema"]
    jsonschema.validate(doc, {**schema, "components": spec["components"]})


@dataclass(frozen=True)
class V24:
    url: str
    api: str
    store: str
    token: str
    other_token: str
    fresh: bytes  # a manifest store signed for this module, not yet published
    config: ResolverConfig


@pytest.fixture(scope="module")
def fresh_manifest(signed_set: Signed, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from tests.clipgen import make_clip
    from veriframe.credentials.store import ManifestStore
    from veriframe.signing import sign_video

    root = tmp_path_factory.mktemp("v24-sign")
    home = root / "render-home"
    shutil.copytree(signed_set.home, home)
    clip = make_clip(root / "c.mp4", seconds=1.5, width=320, height=180, fps=12, seed=71)
    result = sign_video(clip, output=root / "c.signed.mp4", model="m", home=home,
                        passphrase=PASSPHRASE)
    record = ManifestStore(home / "manifests.sqlite").get(str(result.payload_id))
    assert record is not None
    return record.manifest_store


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def v24(request: pytest.FixtureRequest, signed_set: Signed, fresh_manifest: bytes,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[V24]:
    from veriframe.resolver.tokens import add_token, tokens_path

    home, store = resolver_home(signed_set, tmp_path_factory.mktemp(f"v24-{request.param}"),
                                request.param)
    token = add_token(home, name="render-01")
    other = add_token(home, name="render-02")
    config = ResolverConfig(settings=Settings(home=home), store=store,
                            tokens_file=tokens_path(home))
    with serve(create_app(config)) as running:
        yield V24(running.url, running.url + "/v1", store, token, other, fresh_manifest,
                  config)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_discovery_capabilities_and_status(v24: V24) -> None:
    with httpx.Client(timeout=30) as client:
        found = client.get(f"{v24.url}/.well-known/c2pa-soft-binding-resolution")
        assert found.status_code == 200
        _validate(found.json(), "WellKnownDiscovery")
        doc = found.json()
        assert doc["apiEndpoint"] == v24.api and doc["c2paSpecificationVersion"] == "2.4.0"
        caps = client.get(doc["capabilitiesEndpoint"]).json()
        _validate(caps, "ServiceCapabilities")
        assert caps["supportedCapabilities"] == ["queryByContent", "storeManifests",
                                                 "storeBindings"]  # no byReference: off
        status = client.get(doc["statusEndpoint"]).json()
        _validate(status, "ServiceStatus")
        assert status["status"] == "ok"
        served = client.get(f"{v24.api}/openapi.json").json()
        assert served["info"]["version"] == "2.4.0"
        assert served["servers"] == [{"url": "/v1"}]  # relative: never the request's Host
        foreign = client.get(f"{v24.api}/openapi.json", headers={"Host": "evil.example"})
        assert foreign.status_code == 421
        assert {"/bindings", "/manifests/{manifestId}/receipts", "/matches/byReference",
                "/services/capabilities"} <= set(served["paths"])
        # 1.0.0 clients: the root routes and the 1.0.0 document still answer.
        assert client.get(f"{v24.url}/openapi.json").json()["info"]["version"] == "1.0.0"
        algs = client.get(f"{v24.url}/services/supportedAlgorithms").json()
        assert algs == client.get(f"{v24.api}/services/supportedAlgorithms").json()


def test_publish_with_receipt_then_receipts(v24: V24, signed_set: Signed) -> None:
    import base64
    import hashlib

    with httpx.Client(timeout=60) as client:
        reply = client.post(f"{v24.api}/manifests?returnReceipt=true", content=v24.fresh,
                            headers={**_auth(v24.token), "Content-Type": "application/c2pa"})
        assert reply.status_code == 201, reply.text
        manifest_id = reply.json()["manifestId"]
        receipt = reply.json()["receipt"]
        _validate(receipt, "Receipt")
        digest = base64.b64encode(hashlib.sha256(v24.fresh).digest()).decode()
        assert receipt["anchor"]["proof"] == {"alg": "sha256", "value": digest}
        assert receipt["repository"]["manifestId"] == manifest_id
        got = client.get(f"{v24.api}/manifests/{manifest_id}/receipts")
        assert got.status_code == 200
        _validate(got.json(), "Receipt")
        assert got.json()["anchor"]["proof"] == receipt["anchor"]["proof"]
        checked = client.post(f"{v24.api}/manifests/{manifest_id}/receipts", json=receipt)
        assert checked.status_code == 200 and checked.json()["verified"] is True
        forged = {**receipt, "anchor": {**receipt["anchor"], "proof": {"alg": "sha256",
                                                                       "value": "AAAA"}}}
        assert client.post(f"{v24.api}/manifests/{manifest_id}/receipts",
                           json=forged).json()["verified"] is False
        none = client.get(f"{v24.api}/manifests/urn:c2pa:00000000-0000-0000-0000-"
                          "000000000000/receipts")
        assert none.status_code == 404


def test_delete_needs_the_publishers_token(v24: V24) -> None:
    from veriframe.credentials.store import ManifestStore

    with httpx.Client(timeout=60) as client:
        reply = client.post(f"{v24.api}/manifests", content=v24.fresh,
                            headers={**_auth(v24.token), "Content-Type": "application/c2pa"})
        assert reply.status_code == 201
        manifest_id = reply.json()["manifestId"]
        path = f"{v24.api}/manifests/{manifest_id}"
        assert client.delete(path).status_code == 401
        refused = client.delete(path, headers=_auth(v24.other_token))
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "resolver.not-owner"
        assert client.delete(path, headers=_auth(v24.token)).status_code == 204
        assert client.get(path).status_code == 404
        assert client.delete(path, headers=_auth(v24.token)).status_code == 404
        # The tombstone keeps the payload id claimed: the same bytes are not taken back.
        again = client.post(f"{v24.api}/manifests", content=v24.fresh,
                            headers={**_auth(v24.token), "Content-Type": "application/c2pa"})
        assert again.status_code == 409
    actions = [(e.action, e.outcome) for e in ManifestStore(v24.store).audit_log(limit=50)]
    assert ("delete", "deleted") in actions and ("delete", "refused:not-owner") in actions


def test_bindings(v24: V24, signed_set: Signed) -> None:
    from veriframe.credentials.store import ManifestStore

    victim = ManifestStore(v24.store).get(signed_set.payload_id)
    assert victim is not None
    with httpx.Client(timeout=30, headers=_auth(v24.token)) as client:
        unknown = client.post(f"{v24.api}/bindings", json={
            "bindingValue": "Y29uZm9ybWFuY2U=",
            "manifestId": "urn:c2pa:conformance-does-not-exist"})
        assert unknown.status_code == 404
        made = client.post(f"{v24.api}/bindings", json={
            "bindingValue": "Y29uZm9ybWFuY2U=", "manifestId": victim.manifest_label,
            "alg": "conformance-test"})
        assert made.status_code == 204, made.text
        found = client.get(f"{v24.api}/matches/byBinding", params={
            "alg": "conformance-test", "value": "Y29uZm9ybWFuY2U="})
        assert found.status_code == 200
        _validate_matches(found.json())
        assert [m["manifestId"] for m in found.json()["matches"]] == [victim.manifest_label]
        put = client.put(f"{v24.api}/bindings", json={
            "bindingValue": "Y29uZm9ybWFuY2U=", "manifestId": victim.manifest_label,
            "alg": "conformance-test"})
        assert put.status_code == 204
        missing = client.put(f"{v24.api}/bindings", json={
            "bindingValue": "bmV2ZXI=", "manifestId": victim.manifest_label})
        assert missing.status_code == 404
        bad = client.post(f"{v24.api}/bindings", content=b"[" * 5000 + b"]" * 5000,
                          headers={"Content-Type": "application/json"})
        assert bad.status_code == 400
        assert httpx.post(f"{v24.api}/bindings", json={
            "bindingValue": "eA==", "manifestId": victim.manifest_label}).status_code == 401


def test_v1_answers_follow_the_24_document(v24: V24, signed_set: Signed) -> None:
    with httpx.Client(base_url=v24.api, timeout=60) as client:
        by_id = client.get("/matches/byBinding", params={
            "alg": WATERMARK_ALG, "value": encode_payload(signed_set.payload_id)})
        _validate_matches(by_id.json())
        content = client.post("/matches/byContent", content=signed_set.reposted.read_bytes(),
                              headers={"Content-Type": "video/mp4"})
        assert content.status_code == 200
        _validate_matches(content.json())
        error = client.get("/manifests/not-an-id")
        assert error.status_code == 400
        _validate(error.json(), "Error")
        off = client.post("/matches/byReference", json={
            "referenceUrl": "https://example.org/x.mp4", "assetLength": 10})
        assert off.status_code == 501 and off.json()["error"]["code"] == "resolver.not-enabled"


def test_keyless_verify_on_the_v1_endpoint_recovers(v24: V24, signed_set: Signed,
                                                    tmp_path: Path) -> None:
    from veriframe.results import Verdict
    from veriframe.verification import verify

    report = verify(signed_set.reposted, home=tmp_path / "j", detector=None,
                    resolvers=[v24.api])
    assert report.verdict is Verdict.RECOVERED
    assert not (tmp_path / "j").exists()


@pytest.fixture(scope="module")
def asset_server(signed_set: Signed) -> Iterator[str]:
    body = signed_set.reposted.read_bytes()

    async def clip(request: Request) -> Response:
        return Response(body, media_type="video/mp4")

    async def moved(request: Request) -> Response:
        return Response(status_code=302, headers={"Location": "http://169.254.169.254/"})

    app = Starlette(routes=[Route("/clip.mp4", clip), Route("/moved", moved)])
    with serve(app) as running:
        yield running.url


def test_by_reference_is_bounded(v24: V24, signed_set: Signed, asset_server: str) -> None:
    size = signed_set.reposted.stat().st_size
    port = asset_server.rsplit(":", 1)[1]
    policy = ReferencePolicy(allow_hosts=("localhost",), schemes=("http",),
                             allow_private_addresses=True, max_bytes=size + 10)
    strict = ReferencePolicy(allow_hosts=("localhost",), schemes=("http",))
    on = dataclasses.replace(v24.config, reference=policy)
    with serve(create_app(on)) as running, httpx.Client(base_url=running.url + "/v1",
                                                        timeout=60) as client:
        caps = client.get("/services/capabilities").json()["supportedCapabilities"]
        assert "queryByReference" in caps
        ok = client.post("/matches/byReference", json={
            "referenceUrl": f"http://localhost:{port}/clip.mp4", "assetLength": size})
        assert ok.status_code == 200, ok.text
        _validate_matches(ok.json())
        assert ok.json()["matches"], ok.json()
        for body, status, code in (
            ({"referenceUrl": f"http://127.0.0.1:{port}/clip.mp4", "assetLength": size},
             403, "resolver.reference-refused"),  # not on the allow-list
            ({"referenceUrl": f"http://localhost:{port}/clip.mp4", "assetLength": 1000},
             413, "http.too-large"),  # longer than it said
            ({"referenceUrl": f"http://localhost:{port}/clip.mp4", "assetLength": size + 99},
             413, "http.too-large"),  # over the resolver's limit
            ({"referenceUrl": f"http://localhost:{port}/moved", "assetLength": 10},
             502, "resolver.reference-unreachable"),  # redirects are not followed
            ({"referenceUrl": "file:///etc/passwd", "assetLength": 10}, 400,
             "resolver.bad-query"),
            ({"referenceUrl": "http://localhost/x", "assetLength": "10"}, 400,
             "resolver.bad-query"),
        ):
            reply = client.post("/matches/byReference", json=body)
            assert reply.status_code == status, (body, reply.text)
            assert reply.json()["error"]["code"] == code
    closed = dataclasses.replace(v24.config, reference=strict)
    with serve(create_app(closed)) as running:
        reply = httpx.post(f"{running.url}/v1/matches/byReference", timeout=30, json={
            "referenceUrl": f"http://localhost:{port}/clip.mp4", "assetLength": size})
        assert reply.status_code == 403  # localhost is a private address
        assert reply.json()["error"]["code"] == "resolver.reference-refused"
