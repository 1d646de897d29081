"""The resolver keeps only the signer's own records: the attacks of issue #23, reproduced.

A real uvicorn on 127.0.0.1 runs on a copy of the signer's home (its keys, its CA, its store).
Each attack is made with real signed manifests: an outsider (valid signature, untrusted CA), a
configured partner publisher (trusted, but another signer) claiming the victim's payload id
and watermark key id, and the victim's own MP4 posted as a manifest store. Each is refused
with a stable code and changes nothing; the stripped clip is still recovered from an empty
home. Tokens: scopes, revocation and new tokens without a restart; body limits; headers;
the audit log.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.clipgen import make_clip
from tests.services.conftest import PASSPHRASE, Signed
from tests.services.server import serve
from veriframe.resolver import ResolverConfig, create_app
from veriframe.settings import Settings
from veriframe.softbinding import WATERMARK_ALG, encode_payload


@dataclass(frozen=True)
class Attack:
    """The victim's resolver and what the attackers signed."""

    url: str
    home: Path  # the resolver's home (a copy of the victim's)
    store: str  # its store: the home's SQLite file, or a PostgreSQL database
    token: str  # a publishing token (store:manifests, store:bindings)
    victim_label: str
    victim_bytes: bytes
    outsider: bytes  # outsider CA, own key, the victim's payload id
    partner_own_key: bytes  # trusted partner CA, its own key, the victim's payload id
    partner_victim_key: bytes  # trusted partner CA, claims the victim's key id and payload id


def _store_bytes(home: Path, payload_id: str) -> bytes:
    from veriframe.credentials.store import ManifestStore

    record = ManifestStore(home / "manifests.sqlite").get(payload_id)
    assert record is not None
    return record.manifest_store


def _sign_claiming(tmp: Path, home: Path, *, payload_id: str, key_id: str | None,
                   seed: int, mp: pytest.MonkeyPatch) -> bytes:
    """Sign a fresh clip with ``home``'s keys, its manifest claiming ``payload_id`` (and
    ``key_id`` as the watermark key, where given); return its manifest store."""
    from veriframe import signing, watermark
    from veriframe.credentials.manifest import SoftBinding

    value = int(payload_id, 16)
    victim = watermark.Payload(content_id=value & ((1 << 56) - 1), version=value >> 56)
    with mp.context() as m:
        m.setattr(watermark.Payload, "new", classmethod(lambda cls, version=2: victim))
        if key_id is not None:
            m.setattr(signing, "SoftBinding",
                      lambda **kw: SoftBinding(**{**kw, "key_id": key_id}))
        clip = make_clip(tmp / f"attack-{seed}.mp4", seconds=1.5, width=320, height=180,
                         fps=12, seed=seed)
        signing.sign_video(clip, output=tmp / f"attack-{seed}.signed.mp4", model="m",
                           home=home, passphrase=PASSPHRASE)
    return _store_bytes(home, payload_id)


@dataclass(frozen=True)
class Material:
    home: Path
    publishers: Path
    victim: Any
    outsider: bytes
    partner_own_key: bytes
    partner_victim_key: bytes


@pytest.fixture(scope="module")
def material(signed_set: Signed, tmp_path_factory: pytest.TempPathFactory) -> Material:
    from veriframe.credentials.keys import init_keys
    from veriframe.credentials.store import ManifestStore

    root = tmp_path_factory.mktemp("attack")
    victim = ManifestStore(signed_set.home / "manifests.sqlite").get(signed_set.payload_id)
    assert victim is not None
    outsider, partner = root / "outsider", root / "partner"
    init_keys(org="Outsider Media", passphrase=PASSPHRASE, home=outsider)
    init_keys(org="Partner Studio", passphrase=PASSPHRASE, home=partner)
    publishers = root / "publishers.pem"
    shutil.copy(partner / "keys" / "ca.pem", publishers)
    mp = pytest.MonkeyPatch()
    try:
        out = _sign_claiming(root, outsider, payload_id=signed_set.payload_id, key_id=None,
                             seed=61, mp=mp)
        own = _sign_claiming(root, partner, payload_id=signed_set.payload_id, key_id=None,
                             seed=62, mp=mp)
        claims = _sign_claiming(root, partner, payload_id=signed_set.payload_id,
                                key_id=victim.key_id, seed=63, mp=mp)
    finally:
        mp.undo()
    return Material(signed_set.home, publishers, victim, out, own, claims)


def resolver_home(signed_set: Signed, root: Path, backend: str) -> tuple[Path, str]:
    """A copy of the signer's home for its resolver, and the store the resolver uses: the
    home's SQLite file, or a fresh PostgreSQL database holding the same records."""
    from veriframe.credentials.store import ManifestStore

    home = root / "resolver-home"
    shutil.copytree(signed_set.home, home)
    sqlite = home / "manifests.sqlite"
    if backend == "sqlite":
        return home, str(sqlite)
    from tests.pg import cluster

    url = cluster().new_database()
    target = ManifestStore(url)
    import sqlite3

    with sqlite3.connect(sqlite) as conn:
        payloads = [r[0] for r in conn.execute("SELECT DISTINCT payload_id FROM manifests")]
    source = ManifestStore(sqlite)
    for payload in payloads:
        for record, _ in source.history(payload):
            target.put(record)
    target.close()  # type: ignore[attr-defined]
    return home, url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def attack(request: pytest.FixtureRequest, material: Material, signed_set: Signed,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Attack]:
    from veriframe.resolver.tokens import add_token, tokens_path

    home, store = resolver_home(signed_set, tmp_path_factory.mktemp(request.param),
                                request.param)
    token = add_token(home, name="render-01")
    config = ResolverConfig(settings=Settings(home=home), store=store,
                            tokens_file=tokens_path(home), publishers_file=material.publishers)
    with serve(create_app(config)) as running:
        yield Attack(running.url, home, store, token, material.victim.manifest_label,
                     material.victim.manifest_store, material.outsider,
                     material.partner_own_key, material.partner_victim_key)


def _publish(attack: Attack, body: bytes, *, token: str | None = None,
             ctype: str = "application/c2pa") -> httpx.Response:
    return httpx.post(f"{attack.url}/manifests", content=body, timeout=60, headers={
        "Authorization": f"Bearer {token or attack.token}", "Content-Type": ctype})


def _unchanged(attack: Attack, payload_id: str) -> None:
    """byBinding still names only the victim's manifest, whose bytes are as stored."""
    reply = httpx.get(f"{attack.url}/matches/byBinding", params={
        "alg": WATERMARK_ALG, "value": encode_payload(payload_id)}, timeout=30).json()
    assert [m["manifestId"] for m in reply["matches"]] == [attack.victim_label]
    got = httpx.get(f"{attack.url}/manifests/{attack.victim_label}", timeout=30)
    assert got.status_code == 200 and got.content == attack.victim_bytes


@pytest.mark.parametrize(("which", "status", "code"), [
    ("outsider", 403, "resolver.untrusted-publisher"),
    ("partner_own_key", 403, "resolver.foreign-key"),
    ("partner_victim_key", 409, "resolver.conflict"),
])
def test_shadowing_is_refused_and_changes_nothing(attack: Attack, signed_set: Signed,
                                                  which: str, status: int, code: str) -> None:
    body = getattr(attack, which)
    assert body[4:8] == b"jumb"  # a real manifest store, validly signed
    reply = _publish(attack, body)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["code"] == code
    _unchanged(attack, signed_set.payload_id)


def test_overwrite_with_the_victims_mp4_is_refused(attack: Attack, signed_set: Signed) -> None:
    reply = _publish(attack, signed_set.signed.read_bytes())
    assert reply.status_code == 415
    assert reply.json()["error"]["code"] == "resolver.not-a-manifest-store"
    # Republishing the stored manifest itself is idempotent, not a replacement.
    again = _publish(attack, attack.victim_bytes)
    assert again.status_code == 201 and again.json()["manifestId"] == attack.victim_label
    _unchanged(attack, signed_set.payload_id)


def test_after_the_attacks_a_keyless_verifier_still_recovers(attack: Attack, signed_set: Signed,
                                                             tmp_path: Path) -> None:
    from veriframe.results import Verdict
    from veriframe.verification import verify

    for body in (attack.outsider, attack.partner_own_key, attack.partner_victim_key):
        _publish(attack, body)
    report = verify(signed_set.stripped, home=tmp_path / "j", detector=None,
                    resolvers=[attack.url])
    assert report.verdict is Verdict.RECOVERED
    assert report.watermark.recovered is not None
    assert report.watermark.recovered.manifest_id == attack.victim_label
    # The signer's own local verify (its store) is not shadowed either.
    from veriframe.credentials.store import ManifestStore

    local = ManifestStore(attack.store).get(signed_set.payload_id)
    assert local is not None and local.manifest_label == attack.victim_label


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_same_signer_supersede_is_kept_as_history(signed_set: Signed, tmp_path: Path,
                                                  backend: str) -> None:
    from veriframe.credentials.store import ManifestStore
    from veriframe.resolver.tokens import add_token, tokens_path

    home, store = resolver_home(signed_set, tmp_path, backend)
    signer = tmp_path / "signer"  # the same organisation's render machine: same keys
    shutil.copytree(signed_set.home, signer)
    mp = pytest.MonkeyPatch()
    try:
        newer = _sign_claiming(tmp_path, signer, payload_id=signed_set.payload_id,
                               key_id=None, seed=64, mp=mp)
    finally:
        mp.undo()
    token = add_token(home, name="render-02")
    config = ResolverConfig(settings=Settings(home=home), store=store,
                            tokens_file=tokens_path(home))
    with serve(create_app(config)) as running:
        reply = httpx.post(f"{running.url}/manifests", content=newer, timeout=60, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/c2pa"})
        assert reply.status_code == 201, reply.text
        new_label = reply.json()["manifestId"]
        found = httpx.get(f"{running.url}/matches/byBinding", params={
            "alg": WATERMARK_ALG, "value": encode_payload(signed_set.payload_id)}).json()
    assert found["matches"][0]["manifestId"] == new_label and len(found["matches"]) == 2
    history = ManifestStore(store).history(signed_set.payload_id)
    assert [r.manifest_label for r, _ in history][-1] == new_label and len(history) == 2


def test_tokens_scopes_revocation_and_new_tokens_without_restart(attack: Attack) -> None:
    from veriframe.resolver.tokens import add_token, revoke_token

    fresh = add_token(attack.home, name="made-while-running")
    reader = add_token(attack.home, name="bindings-only", scopes=["store:bindings"])
    ok = _publish(attack, attack.victim_bytes, token=fresh)
    assert ok.status_code == 201
    scoped = _publish(attack, attack.victim_bytes, token=reader)
    assert scoped.status_code == 403 and scoped.json()["error"]["code"] == "http.forbidden"
    revoke_token(attack.home, name="made-while-running")
    gone = _publish(attack, attack.victim_bytes, token=fresh)
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "http.unauthorized"
    assert _publish(attack, attack.victim_bytes).status_code == 201  # others still work


def test_cli_token_add_list_revoke(tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from veriframe._cli import main

    home = tmp_path / "h"
    monkeypatch.setenv("VERIFRAME_HOME", str(home))
    assert main(["resolver", "token", "add", "cli-01", "--scope", "store:manifests"]) == 0
    token = capsys.readouterr().out.strip()
    assert main(["resolver", "token", "--name", "cli-02"]) == 0  # the older form
    capsys.readouterr()
    assert main(["resolver", "token", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["tokens"]
    assert [(t["name"], t["scopes"]) for t in listed] == [
        ("cli-01", ["store:manifests"]), ("cli-02", ["store:manifests", "store:bindings"])]
    assert main(["resolver", "token", "revoke", "cli-01"]) == 0
    assert main(["resolver", "token", "revoke", "cli-01"]) == 1
    assert "error[resolver.unknown-token]" in capsys.readouterr().err
    assert token not in (home / "resolver-tokens").read_text()
    assert main(["resolver", "token", "revoke", "cli-02"]) == 0  # the last one
    capsys.readouterr()
    assert main(["resolver", "token", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == []
    assert main(["resolver", "audit", "--json"]) == 0
    actions = [e["action"] for e in json.loads(capsys.readouterr().out)["entries"]]
    assert actions[:4] == ["token.revoke", "token.revoke", "token.add", "token.add"]


def test_audit_log_records_every_write_and_no_secret(attack: Attack) -> None:
    from veriframe.credentials.store import ManifestStore

    _publish(attack, attack.outsider)
    _publish(attack, attack.victim_bytes)
    entries = ManifestStore(attack.store).audit_log(limit=500)
    outcomes = {(e.actor, e.action, e.outcome) for e in entries}
    assert ("render-01", "publish", "refused:resolver.untrusted-publisher") in outcomes
    assert ("render-01", "publish", "stored") in outcomes
    text = repr(entries)
    assert attack.token not in text and "Bearer" not in text


def test_deep_json_is_a_400_and_every_answer_has_the_security_headers(attack: Attack) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with httpx.Client(base_url=attack.url, timeout=30) as client:
        small = b"[" * 20_000 + b"]" * 20_000
        for body, status in ((small, 400), (deep, 413)):
            reply = client.post("/matches/byBinding", content=body,
                                headers={"Content-Type": "application/json"})
            assert reply.status_code == status, reply.text
            assert reply.json()["error"]["code"] in ("resolver.bad-query", "http.too-large")
        for path in ("/services/supportedAlgorithms", "/nowhere", "/health",
                     f"/manifests/{attack.victim_label}", "/v1/services/capabilities"):
            reply = client.get(path)
            assert reply.headers["x-content-type-options"] == "nosniff", path
            assert reply.headers["x-frame-options"] == "DENY", path
            assert "default-src 'none'" in reply.headers["content-security-policy"], path
            assert reply.headers["referrer-policy"] == "no-referrer", path


def test_unsupported_store_url_is_refused() -> None:
    from veriframe.credentials.store import ManifestStore
    from veriframe.errors import StoreError

    for url in ("mysql://u@h/db", "https://example.org/store", "redis://localhost"):
        with pytest.raises(StoreError) as exc:
            ManifestStore(url)
        assert exc.value.code == "store.unsupported-url"


def test_cli_serve_refuses_an_unsupported_store_url(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from veriframe._cli import main

    monkeypatch.setenv("VERIFRAME_HOME", str(tmp_path / "h"))
    assert main(["resolver", "serve", "--store", "mysql://u@127.0.0.1/db"]) == 1
    assert "error[store.unsupported-url]" in capsys.readouterr().err


def test_sign_writes_its_record_to_a_postgresql_store(signed_set: Signed, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from tests.pg import cluster
    from veriframe._cli import main
    from veriframe.credentials.store import ManifestStore

    url = cluster().new_database()
    home = tmp_path / "render-home"
    shutil.copytree(signed_set.home, home)
    clip = make_clip(tmp_path / "c.mp4", seconds=1.5, width=320, height=180, fps=12, seed=91)
    monkeypatch.setenv("VERIFRAME_HOME", str(home))
    monkeypatch.setenv("VERIFRAME_KEY_PASSPHRASE", PASSPHRASE)
    out = tmp_path / "c.signed.mp4"
    assert main(["sign", str(clip), "-o", str(out), "--store", url, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    record = ManifestStore(url).get(result["payload_id"])
    assert record is not None and record.manifest_label == result["manifest_label"]
    assert not (home / "manifests.sqlite").with_name("postgresql:").exists()
    assert main(["sign", str(clip), "-o", str(tmp_path / "x.mp4"), "--store",
                 "mysql://u@127.0.0.1/db"]) == 1
    assert "store.unsupported-url" in capsys.readouterr().err
