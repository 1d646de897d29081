"""Embed a signed C2PA manifest into an MP4 (or another format c2pa can sign in place).

With ``SigningIdentity.tsa_url`` set, c2pa-rs asks that RFC 3161 time-stamp authority to
time-stamp the signature while signing. It fails closed: if the authority cannot be reached,
answers with an HTTP error or with something that is not a time-stamp, c2pa-rs refuses to sign
and :func:`sign_mp4` raises ``credentials.tsa-unavailable`` with nothing written. c2pa-rs
accepts plain ``http://`` URLs (RFC 3161 responses are signed, so TLS is not needed for
integrity) and gives up on an authority that does not answer after about 30 s.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from veriframe._atomic import atomic_output
from veriframe.credentials.keys import ALGORITHMS, SigningIdentity
from veriframe.credentials.manifest import ingredient_format, ingredient_label
from veriframe.errors import CredentialsError, ErrorKind, SignError


def check_tsa_url(url: str) -> str:
    """``url`` if it can name a time-stamp authority (http or https, a host), else raise."""
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and url.isprintable()
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        ok = False
    if not ok or len(url) > 2000:
        raise CredentialsError(
            "credentials.tsa-bad-url",
            f"{url[:200]!r} is not a time-stamp authority URL",
            "give an http:// or https:// URL of an RFC 3161 time-stamp authority",
        )
    return url


def _signer(identity: SigningIdentity) -> Any:
    """One ``c2pa.Signer`` over ``identity.sign``: local and remote keys take the same path."""
    import c2pa

    alg = ALGORITHMS.get(identity.alg.lower())
    if alg is None:
        raise SignError(
            "sign.unsupported-algorithm",
            f"signing algorithm {identity.alg!r} is not supported by C2PA",
            "use " + ", ".join(ALGORITHMS),
        )
    tsa_url = None if identity.tsa_url is None else check_tsa_url(identity.tsa_url)
    failures: list[str] = []

    def callback(data: bytes) -> bytes:
        try:
            return identity.sign(data)
        except Exception as exc:
            # c2pa logs the exception text; the signer's own message may hold secrets (a KMS
            # error with a token). Keep only the type, for our error message.
            failures.append(type(exc).__name__)
            raise RuntimeError("the signing callable failed") from None

    try:
        signer = c2pa.Signer.from_callback(
            callback,
            getattr(c2pa.C2paSigningAlg, alg.c2pa),
            identity.chain_pem.decode("ascii"),
            tsa_url,
        )
    except (c2pa.C2paError, UnicodeDecodeError) as exc:
        raise SignError(
            "sign.bad-certificate",
            f"c2pa refused the signing certificate chain: {_short(exc)}",
            "check the chain with `veriframe keys show`; re-run `veriframe keys init` if needed",
        ) from None
    signer._veriframe_failures = failures  # read back after a failed sign
    return signer


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def sign_mp4(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    manifest: dict[str, Any],
    identity: SigningIdentity,
    ingredients: Sequence[str | os.PathLike[str]] = (),
    fmt: str = "video/mp4",
) -> bytes:
    """Sign ``src`` with ``manifest`` into ``dst`` and return the manifest-store bytes.

    ``ingredients`` (input image, input audio) are added with relationship ``inputTo`` and
    the label :func:`manifest.ingredient_label` gives them, so the created action links them.
    The write is atomic: ``dst`` appears complete or not at all, and ``src`` is never
    modified (``dst`` equal to ``src`` is refused with ``sign.same-file``). With
    ``identity.tsa_url`` the signature is time-stamped there; when that fails, the error is
    ``credentials.tsa-unavailable`` and nothing is written (``credentials.tsa-bad-url`` for a
    URL that cannot name one).
    """
    import c2pa

    src_path, dst_path = Path(src), Path(dst)
    if not src_path.is_file():
        raise SignError("sign.not-found", f"{src_path} does not exist", "check the path")
    if dst_path.exists() and dst_path.resolve() == src_path.resolve():
        raise SignError(
            "sign.same-file",
            f"the output {dst_path} is the input file",
            "write the signed copy to another path (-o clip.signed.mp4)",
        )
    definition = copy.deepcopy(manifest)
    definition["format"] = fmt
    for ing in ingredients:
        if not Path(ing).is_file():
            raise SignError(
                "sign.ingredient-not-found", f"ingredient {ing} does not exist", "check the path"
            )
    signer = _signer(identity)
    try:
        builder = c2pa.Builder(definition)
    except c2pa.C2paError as exc:
        signer.close()
        raise SignError(
            "sign.bad-manifest", f"c2pa refused the manifest: {_short(exc)}", "see build_manifest"
        ) from None
    try:
        for ing in ingredients:
            ing_path = Path(ing)
            ing_fmt = ingredient_format(ing_path)
            meta = {
                "title": ing_path.name,
                "relationship": "inputTo",
                "label": ingredient_label(ing_path),
                "format": ing_fmt,
            }
            try:
                with open(ing_path, "rb") as fh:
                    builder.add_ingredient(meta, ing_fmt, fh)
            except c2pa.C2paError as exc:
                raise SignError(
                    "sign.ingredient-unsupported",
                    f"ingredient {ing_path.name} ({ing_fmt}) cannot be added: {_short(exc)}",
                    "use a JPEG/PNG/WebP image or a WAV/MP3/M4A audio file",
                ) from None
        with atomic_output(dst_path) as tmp:
            try:
                with open(src_path, "rb") as source, open(tmp, "w+b") as dest:
                    store = builder.sign(signer, fmt, source, dest)
            except c2pa.C2paError as exc:
                failed = getattr(signer, "_veriframe_failures", [])
                if failed:
                    raise SignError(
                        "sign.signer-failed",
                        f"the signing callable raised {failed[-1]}",
                        "check the remote signer (KMS/HSM) or the local key",
                    ) from None
                text = _short(exc)
                if identity.tsa_url is not None and isinstance(exc, c2pa.C2paError.Signature):
                    # The key signed (no callback failure) but the signature could not be
                    # completed: with a TSA configured, that is the time-stamp request.
                    raise CredentialsError(
                        "credentials.tsa-unavailable",
                        f"the time-stamp authority {identity.tsa_url[:200]} did not give a "
                        f"time-stamp: {text}",
                        "check the URL and the network, or sign without --tsa; nothing was "
                        "written",
                    ) from None
                if "unsupported" in text.lower() or isinstance(exc, c2pa.C2paError.NotSupported):
                    raise SignError(
                        "sign.unsupported-format",
                        f"c2pa cannot sign {fmt} in place: {text}",
                        "convert the video to MP4 first (veriframe sign does this)",
                        kind=ErrorKind.INPUT,
                    ) from None
                raise SignError(
                    "sign.failed", f"c2pa could not sign {src_path.name}: {text}",
                    "check that the input is a complete, readable MP4",
                ) from None
        return bytes(store)
    finally:
        builder.close()
        signer.close()
