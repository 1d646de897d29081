"""The one table of C2PA signing algorithms: name, key type, curve, digest, c2pa's name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from veriframe.errors import KeysError


@dataclass(frozen=True)
class Algorithm:
    """One signing algorithm C2PA allows.

    ``name`` is ours and the manifest's (``es256``), ``c2pa`` the member of
    ``c2pa.C2paSigningAlg``; ``curve`` (EC) and ``ecdsa_size`` (bytes of ``r`` and of ``s`` in
    the raw signature COSE expects) are None for RSA-PSS and Ed25519.
    """

    name: str
    c2pa: str
    family: str  # "ec" | "rsa-pss" | "ed25519"
    digest: type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512] | None
    curve: str | None = None
    ecdsa_size: int | None = None


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("es256", "ES256", "ec", hashes.SHA256, "secp256r1", 32),
        Algorithm("es384", "ES384", "ec", hashes.SHA384, "secp384r1", 48),
        Algorithm("es512", "ES512", "ec", hashes.SHA512, "secp521r1", 66),
        Algorithm("ps256", "PS256", "rsa-pss", hashes.SHA256),
        Algorithm("ps384", "PS384", "rsa-pss", hashes.SHA384),
        Algorithm("ps512", "PS512", "rsa-pss", hashes.SHA512),
        Algorithm("ed25519", "ED25519", "ed25519", None),
    )
}
CURVES = tuple(a.curve for a in ALGORITHMS.values() if a.curve)
MIN_RSA_BITS = 2048


def _unsupported(what: str) -> KeysError:
    return KeysError(
        "keys.unsupported-algorithm",
        f"{what} cannot sign C2PA manifests",
        "use " + ", ".join(ALGORITHMS) + " (EC P-256/P-384/P-521, RSA >= 2048 or Ed25519)",
    )


def get_algorithm(name: str) -> Algorithm:
    """The algorithm called ``name`` (case-insensitive); ``keys.unsupported-algorithm`` else."""
    alg = ALGORITHMS.get(name.lower())
    if alg is None:
        raise _unsupported(f"signing algorithm {name!r}")
    return alg


def algorithm_for_key(key: Any) -> Algorithm:
    """The algorithm a public or private key signs with (RSA keys sign with PS256)."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        for alg in ALGORITHMS.values():
            if alg.curve == key.curve.name:
                return alg
        raise _unsupported(f"an EC key on curve {key.curve.name}")
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return ALGORITHMS["ps256"]
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return ALGORITHMS["ed25519"]
    raise _unsupported(f"a {type(key).__name__} key")
