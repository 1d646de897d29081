"""A small RFC 3161 time-stamp authority on 127.0.0.1, for tests (asn1crypto + cryptography).

It answers each ``application/timestamp-query`` POST with a granted ``TimeStampResp``: a CMS
SignedData over a ``TSTInfo`` that echoes the request's message imprint and nonce, signed with
ECDSA P-256 by a certificate whose only extended key usage is ``timeStamping`` (critical, as
RFC 3161 requires), issued by a test root. ``mode`` makes it misbehave: ``"http-500"`` answers
with an HTTP error, ``"garbage"`` with bytes that are not a time-stamp response.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import threading
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TSA_NAME = "veriframe test TSA"
POLICY = "1.3.6.1.4.1.55738.1.1"  # an arbitrary test policy OID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "veriframe tests")])


def _usage(*, sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=sign, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=not sign, crl_sign=not sign, encipher_only=False,
                         decipher_only=False)


def make_tsa_chain() -> tuple[x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]:
    """(root, TSA certificate, TSA key), valid from yesterday for 30 days."""
    now = dt.datetime.now(dt.timezone.utc)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (x509.CertificateBuilder().subject_name(_name("veriframe test TSA root"))
            .issuer_name(_name("veriframe test TSA root")).public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_usage(sign=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()),
                           critical=False)
            .sign(root_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(TSA_NAME)).issuer_name(root.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(sign=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    return root, cert, key


def time_stamp_response(request: bytes, cert: x509.Certificate,
                        key: ec.EllipticCurvePrivateKey, *, when: dt.datetime,
                        serial: int) -> bytes:
    """A granted DER ``TimeStampResp`` for the DER ``TimeStampReq`` ``request``."""
    req = tsp.TimeStampReq.load(request)
    fields: dict[str, Any] = {"version": "v1", "policy": POLICY,
                              "message_imprint": req["message_imprint"],
                              "serial_number": serial, "gen_time": when}
    if req["nonce"].native is not None:
        fields["nonce"] = req["nonce"].native
    content = tsp.TSTInfo(fields).dump()
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    acert = ax509.Certificate.load(cert_der)
    attrs = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
        cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": when})]}),
        cms.CMSAttribute({"type": "message_digest",
                          "values": [hashlib.sha256(content).digest()]}),
        cms.CMSAttribute({"type": "signing_certificate_v2", "values": [tsp.SigningCertificateV2(
            {"certs": [{"cert_hash": hashlib.sha256(cert_der).digest()}]})]}),
    ])
    signer_info = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber(
            {"issuer": acert.issuer, "serial_number": acert.serial_number})}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "signed_attrs": attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
        "signature": key.sign(attrs.dump(), ec.ECDSA(hashes.SHA256())),
    })
    signed = cms.SignedData({
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {"content_type": "tst_info",
                               "content": core.ParsableOctetString(content)},
        "certificates": [acert],
        "signer_infos": [signer_info],
    })
    return tsp.TimeStampResp({
        "status": {"status": "granted"},
        "time_stamp_token": cms.ContentInfo({"content_type": "signed_data", "content": signed}),
    }).dump()


@dataclass
class TimeStampServer:
    """The authority; :meth:`start` serves it on 127.0.0.1 and returns its URL."""

    mode: str = "ok"  # ok | http-500 | garbage
    url: str = ""  # set by start()
    requests: list[bytes] = field(default_factory=list)
    times: list[dt.datetime] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root, self.cert, self.key = make_tsa_chain()
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def root_pem(self) -> bytes:
        """The root to add to the trust anchors for a *trusted* time-stamp."""
        return self.root.public_bytes(serialization.Encoding.PEM)

    def start(self) -> str:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append(body)
                if outer.mode == "http-500":
                    self.send_response(500)
                    self.end_headers()
                    return
                when = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
                outer.times.append(when)
                der = (b"\x30\x03\x02\x01\x02" if outer.mode == "garbage" else
                       time_stamp_response(body, outer.cert, outer.key, when=when,
                                           serial=len(outer.requests)))
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(der)))
                self.end_headers()
                self.wfile.write(der)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/tsa"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
