"""Who signs: a certificate chain and a callable that signs bytes (a local key, a KMS, an HSM)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from veriframe.credentials.keys.algorithms import Algorithm, algorithm_for_key, get_algorithm
from veriframe.credentials.keys.certificates import check_signing_certificate, parse_chain
from veriframe.errors import KeysError
from veriframe.watermark.keys import KEY_BYTES, key_id


@dataclass(frozen=True)
class SigningIdentity:
    """Who signs: a certificate chain and a callable that signs bytes with its key.

    ``sign(data) -> signature`` returns the raw signature C2PA's COSE expects (for ECDSA the
    fixed-size ``r || s`` form). The local key and a remote key (KMS, HSM) share this one
    path: see :meth:`remote`. ``watermark_keyring`` holds every watermark key (current first)
    for detection; ``watermark_key`` is the one new clips are marked with. ``tsa_url``: an
    RFC 3161 time-stamp authority to time-stamp each signature (None: no time-stamp).
    """

    chain_pem: bytes
    alg: str
    sign: Callable[[bytes], bytes] = field(repr=False)
    watermark_key: bytes = field(repr=False)
    subject: str = ""
    watermark_keyring: tuple[bytes, ...] = field(default=(), repr=False)
    tsa_url: str | None = None

    @property
    def key_id(self) -> str:
        """Id of the current watermark key (never the key itself)."""
        return key_id(self.watermark_key)

    @classmethod
    def remote(
        cls,
        *,
        chain_pem: bytes,
        sign: Callable[[bytes], bytes],
        alg: str = "es256",
        watermark_key: bytes,
        watermark_keyring: tuple[bytes, ...] | None = None,
        tsa_url: str | None = None,
    ) -> SigningIdentity:
        """An identity whose private key lives elsewhere (KMS, HSM, a signing service).

        ``sign(data)`` must return an signature over ``data`` with the leaf's key: for ECDSA
        either DER or raw ``r || s`` (DER is converted), for PS256/Ed25519 the raw signature.
        The leaf certificate (first in ``chain_pem``) is checked against the C2PA rules.
        """
        algorithm = get_algorithm(alg)
        certs = parse_chain(chain_pem)
        check_signing_certificate(certs[0])
        if len(watermark_key) != KEY_BYTES:
            raise KeysError(
                "keys.bad-watermark-key",
                f"a watermark key has {KEY_BYTES} bytes, got {len(watermark_key)}",
                "pass the 32-byte key from keys/watermark.key or secrets.token_bytes(32)",
            )
        ring = watermark_keyring or (watermark_key,)
        if watermark_key not in ring:
            ring = (watermark_key, *ring)
        return cls(
            chain_pem=chain_pem,
            alg=algorithm.name,
            sign=normalising_signer(sign, algorithm),
            watermark_key=watermark_key,
            subject=certs[0].subject.rfc4514_string(),
            watermark_keyring=tuple(ring),
            tsa_url=tsa_url,
        )


def normalising_signer(sign: Callable[[bytes], bytes], alg: Algorithm) -> Callable[[bytes], bytes]:
    """Wrap ``sign`` so an ECDSA DER signature is turned into raw ``r || s``."""
    size = alg.ecdsa_size
    if size is None:
        return sign

    def wrapped(data: bytes) -> bytes:
        sig = bytes(sign(data))
        if len(sig) == 2 * size:
            return sig
        r, s = decode_dss_signature(sig)
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    return wrapped


def local_signer(key: Any) -> tuple[Callable[[bytes], bytes], Algorithm]:
    """A ``sign`` callable and its algorithm for a private key object."""
    alg = algorithm_for_key(key)
    digest = alg.digest
    if isinstance(key, ec.EllipticCurvePrivateKey) and digest is not None:

        def sign_ec(data: bytes) -> bytes:
            return bytes(key.sign(data, ec.ECDSA(digest())))

        return normalising_signer(sign_ec, alg), alg
    if isinstance(key, rsa.RSAPrivateKey) and digest is not None:

        def sign_rsa(data: bytes) -> bytes:
            pss = padding.PSS(mgf=padding.MGF1(digest()), salt_length=digest().digest_size)
            return bytes(key.sign(data, pss, digest()))

        return sign_rsa, alg
    if isinstance(key, ed25519.Ed25519PrivateKey):

        def sign_ed(data: bytes) -> bytes:
            return bytes(key.sign(data))

        return sign_ed, alg
    raise KeysError(
        "keys.unsupported-algorithm",
        f"{type(key).__name__} keys cannot sign C2PA manifests",
        "use an EC P-256/P-384/P-521, RSA >= 2048 or Ed25519 key",
    )


__all__ = ["SigningIdentity", "local_signer", "normalising_signer"]
