"""Trust anchors: which certificate authorities make a valid signature *trusted*.

Anchors come from a named PEM file (``--trust FILE`` or ``$VERIFRAME_TRUST``, resolved by the
command line), the user's own CA from ``keys init`` (``keys/ca.pem``) and ``trust.pem`` in the
veriframe home. With no anchor at all an intact manifest reads ``valid`` (signer unknown), never
``trusted``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from veriframe.errors import CredentialsError
from veriframe.home import HomePaths


def _load_pem_file(path: Path) -> tuple[bytes, ...]:
    """Each certificate of a PEM bundle, re-encoded (so a missing final newline is harmless)."""
    if not path.is_file():
        raise CredentialsError(
            "trust.not-found", f"trust anchor file {path} does not exist", "check the path"
        )
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except ValueError:
        raise CredentialsError(
            "trust.bad-anchors",
            f"{path} is not a PEM bundle of certificates",
            "pass CA certificates as PEM (-----BEGIN CERTIFICATE-----)",
        ) from None
    return tuple(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@dataclass(frozen=True)
class TrustConfig:
    """A set of PEM trust anchors (each one certificate) and where they came from."""

    anchors: tuple[bytes, ...] = ()
    sources: tuple[str, ...] = ()

    @classmethod
    def none(cls) -> TrustConfig:
        """No anchors: intact manifests read ``valid``, none ``trusted``."""
        return cls()

    @classmethod
    def from_pem(cls, pem: bytes, *, source: str = "<memory>") -> TrustConfig:
        """Anchors from PEM bytes."""
        try:
            certs = x509.load_pem_x509_certificates(pem)
        except ValueError:
            raise CredentialsError(
                "trust.bad-anchors", f"{source} is not a PEM bundle", "pass PEM certificates"
            ) from None
        return cls(
            anchors=tuple(c.public_bytes(serialization.Encoding.PEM) for c in certs),
            sources=(source,),
        )

    @classmethod
    def load(
        cls,
        *,
        trust_file: str | os.PathLike[str] | None = None,
        home: str | os.PathLike[str] | None = None,
        include_own_ca: bool = True,
    ) -> TrustConfig:
        """Anchors from ``trust_file``, the home's own CA and its ``trust.pem``.

        A file that is named explicitly must exist and parse; the implicit ones are used when
        present.
        """
        paths = HomePaths.resolve(home)
        anchors: list[bytes] = []
        sources: list[str] = []
        explicit = [Path(trust_file).expanduser()] if trust_file is not None else []
        implicit = [paths.trust]
        if include_own_ca:
            implicit.insert(0, paths.keys / "ca.pem")
        for path in explicit + [p for p in implicit if p.is_file()]:
            for pem in _load_pem_file(path):
                if pem not in anchors:
                    anchors.append(pem)
            sources.append(str(path))
        return cls(anchors=tuple(anchors), sources=tuple(sources))

    def pem(self) -> str:
        """All anchors as one PEM string, joined with newlines."""
        return "\n".join(a.decode("ascii").strip() for a in self.anchors) + (
            "\n" if self.anchors else ""
        )

    @property
    def fingerprint(self) -> str:
        """A short id of this anchor set (for caching and reports)."""
        return hashlib.sha256(self.pem().encode("ascii")).hexdigest()[:16]

    def settings_dict(self) -> dict[str, Any]:
        """c2pa settings: these anchors only, no network access during verification.

        ``core.allowed_network_hosts = []`` closes what the two ``verify`` switches leave
        open: without it c2pa-rs resolves the ``did:web`` issuer of a CAWG identity
        assertion (a DNS lookup, then HTTPS, to a host the file names), which tells the
        file's author who opened it and when. Such an identity then reads
        ``cawg.ica.did_unavailable``.
        """
        settings: dict[str, Any] = {
            "verify": {
                "remote_manifest_fetch": False,  # never reach out to a URL named in a file
                "ocsp_fetch": False,
            },
            "core": {"allowed_network_hosts": []},
        }
        if self.anchors:
            settings["trust"] = {"trust_anchors": self.pem()}
        return settings

    def settings(self) -> Any:
        """A ``c2pa.Settings`` for :meth:`settings_dict`."""
        import c2pa

        return c2pa.Settings.from_dict(self.settings_dict())

    def context(self) -> Any:
        """A fresh ``c2pa.Context`` with these settings (one per read: contexts are cheap)."""
        import c2pa

        return c2pa.Context.from_dict(self.settings_dict())
