"""Read and validate C2PA credentials: one :class:`CredentialCheck` per file, never a crash.

States: ``trusted`` (intact, signer chains to an anchor), ``valid`` (intact, signer unknown:
c2pa-rs files ``signingCredential.untrusted`` under failures although the manifest is fine,
so that code alone never makes a file invalid), ``invalid`` (a check failed, in the active
manifest or in any ingredient: the codes are in ``failures``; the manifest's contents are then
*not* reported as fact), ``absent``, ``error`` (the file or its manifest could not be read:
``error`` holds a stable code). The state follows c2pa-rs's rule and is never better than
c2pa's own ``validation_state`` (see :mod:`veriframe.credentials.validation`); where a check
failed is in ``active_manifest_result`` and ``ingredient_failures``, and the provenance chain,
CAWG identities and time-stamp in ``chain``, ``identities`` and ``time``
(:mod:`veriframe.credentials.chain`).

Reading runs in a worker thread with a deadline, so a file that makes the native parser spin
gives ``credentials.timeout`` instead of hanging the caller.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from veriframe.credentials.chain import (
    actions,
    assertions,
    build_chain,
    claim_generator,
    digital_source_type,
    signer_info,
    text,
)
from veriframe.credentials.trust import TrustConfig
from veriframe.credentials.validation import (
    BINDING,
    SIGNATURE_INSIDE_VALIDITY,
    SIGNATURE_VALIDATED,
    issues,
    judge,
    reference_state,
)
from veriframe.errors import ErrorInfo, ErrorKind
from veriframe.results import CredentialCheck, CredentialState, HardBinding, Issue, ManifestResult

DEFAULT_TIMEOUT_S = 30.0
THUMBNAIL_LIMIT = 256 * 1024  # bytes; a larger "thumbnail" is not shown
# A format hint from the extension: c2pa detects most containers from the bytes but not SVG
# (without a hint it says "type is unsupported"); when the hint and the bytes disagree,
# c2pa goes by the bytes, so a wrong extension does no harm.
_FORMAT_HINTS = {".svg": "image/svg+xml"}
# BMFF box types that start a media segment (a fragment without its init segment).
_FRAGMENT_BOXES = {b"styp", b"moof", b"sidx", b"emsg", b"prft"}


def _err(code: str, message: str, hint: str, *, unsupported: bool = False) -> CredentialCheck:
    """An ``error`` check; ``unsupported``: the input is at fault (exit 4), not the system."""
    kind = ErrorKind.INPUT if unsupported else ErrorKind.OPERATIONAL
    return CredentialCheck(state=CredentialState.ERROR, error=ErrorInfo(code, message, hint, kind))


def _short(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


def _map_c2pa_error(exc: BaseException) -> CredentialCheck:
    """A c2pa exception as a CredentialCheck (absent, or error with a stable code)."""
    import c2pa

    text = _short(exc)
    low = text.lower()
    if isinstance(exc, c2pa.C2paError.ManifestNotFound):
        return CredentialCheck(state=CredentialState.ABSENT)
    if isinstance(exc, c2pa.C2paError.NotSupported) or "type is unsupported" in low:
        return _err(
            "credentials.unsupported-format",
            f"C2PA cannot read this file type ({text})",
            "C2PA credentials can be read from MP4/MOV, fragmented MP4, JPEG, PNG, WAV, PDF...",
            unsupported=True,
        )
    if isinstance(exc, c2pa.C2paError.RemoteManifest) or low.startswith("remote"):
        return _err(
            "credentials.remote-manifest",
            "the file points to a remote manifest; veriframe does not fetch URLs named in a file",
            "download the manifest from its publisher and check it separately",
        )
    if isinstance(exc, c2pa.C2paError.Verify) or "cbor" in low:
        return _err(
            "credentials.malformed",
            f"the embedded manifest is malformed ({text})",
            "the manifest is damaged or forged; treat the file as unsigned",
        )
    if "unknown algorithm" in low or "unsupported algorithm" in low:
        return _err(
            "credentials.unsupported-algorithm",
            f"the manifest uses a signing or hash algorithm C2PA does not allow ({text})",
            "the manifest cannot be checked; treat the file as unsigned",
            unsupported=True,
        )
    if "prerelease" in low:
        return _err(
            "credentials.unsupported-version",
            "the manifest was written by a pre-release C2PA implementation",
            "it cannot be validated against the current specification",
            unsupported=True,
        )
    if "could not be parsed" in low or isinstance(exc, (c2pa.C2paError.Io, OSError)):
        return _err(
            "credentials.unreadable",
            f"the file's structure could not be parsed ({text})",
            "the file is truncated, damaged or deliberately malformed",
        )
    return _err(
        "credentials.unreadable",
        f"the credentials could not be read ({text})",
        "the file or its manifest is damaged; rerun with --debug for details",
    )


def _run_with_deadline(
    fn: Callable[[], CredentialCheck], timeout_s: float | None
) -> CredentialCheck:
    """Run ``fn`` in a daemon thread; give up after ``timeout_s`` with credentials.timeout."""
    if timeout_s is None:
        return fn()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["exc"] = exc

    worker = threading.Thread(target=run, name="veriframe-c2pa-read", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        # The native call cannot be interrupted; the daemon thread is abandoned.
        return _err(
            "credentials.timeout",
            f"reading the credentials took longer than {timeout_s:g} s",
            "the file may be built to exhaust a parser; treat it as unverified",
        )
    if "exc" in box:
        raise box["exc"]
    result: CredentialCheck = box["result"]
    return result


class _BoundedBuffer(io.BytesIO):
    """A buffer that refuses to grow past ``limit`` bytes (a thumbnail is small)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, data: Any) -> int:
        if self.tell() + len(data) > self.limit:
            raise OSError("resource larger than the limit")
        return super().write(data)


def _fetcher(reader: Any, limit: int) -> Callable[[str], bytes | None]:
    """``fetch(uri)``: a resource of the store (a thumbnail), or None when absent or too big."""
    import c2pa

    def fetch(uri: str) -> bytes | None:
        buf = _BoundedBuffer(limit)
        try:
            reader.resource_to_stream(uri, buf)
        except (c2pa.C2paError, OSError, ValueError):
            return None
        return buf.getvalue()

    return fetch


def _check_from_reader(reader: Any, *, ignore_binding: bool) -> CredentialCheck:
    """Turn a c2pa Reader into a CredentialCheck (see the module docstring for the rules)."""
    c2pa_state = reader.get_validation_state()
    results = reader.get_validation_results() or {}
    store = json.loads(reader.json())
    if not isinstance(store, dict) or not isinstance(results, dict):
        raise ValueError("unexpected manifest report")
    label = store.get("active_manifest")
    manifests = store.get("manifests") or {}
    m = manifests.get(label) if isinstance(label, str) else None
    if not ignore_binding and reference_state(c2pa_state) is None:
        return _err(
            "credentials.unreadable",
            f"the validator returned no usable state ({str(c2pa_state)[:40]!r})",
            "the manifest could not be checked",
        )
    if not results.get("activeManifest"):  # older result shape: a flat status list
        flat = issues(store.get("validation_status"))
        results = {"activeManifest": {
            "failure": [i.to_dict() for i in flat if not i.code.endswith(".match")]}}
    verdict = judge(results, c2pa_state, ignore_binding=ignore_binding)
    active_block = results.get("activeManifest")
    active_block = active_block if isinstance(active_block, dict) else {}
    failures = list(verdict.failures)
    successes = verdict.successes
    binding_codes = [c for c in successes + tuple(f.code for f in verdict.own_failures)
                     if BINDING.match(c)]
    hard_binding: HardBinding | None = None
    if binding_codes:
        mismatch = any(c.endswith(".mismatch") for c in binding_codes)
        hard_binding = HardBinding.MISMATCH if mismatch else HardBinding.MATCH
    state = verdict.state
    if m is None:
        state = CredentialState.INVALID
        failures.append(Issue(code="manifest.missing", explanation="no active manifest"))
    elif state is CredentialState.INVALID and not failures:
        # Invalid without a failure code: a success that should have come did not, or the
        # reference judged the store invalid for a reason it did not list.
        if SIGNATURE_VALIDATED not in successes:
            failures.append(Issue("claimSignature.missing", "signature not checked"))
        elif SIGNATURE_INSIDE_VALIDITY not in successes:
            failures.append(Issue("claimSignature.outsideValidity",
                                  "the signature was not made inside the certificate's validity"))
        else:
            failures.append(Issue("veriframe.reference-invalid",
                                  "c2pa-rs judged the manifest store invalid"))
    chain = build_chain(store, results, verdict, fetch=_fetcher(reader, THUMBNAIL_LIMIT))
    own_failures = verdict.own_failures
    if not own_failures and verdict.own_state is CredentialState.INVALID:
        own_failures = tuple(failures)
    common: dict[str, Any] = {
        "state": state,
        "failures": tuple(failures),
        "successes": successes,
        "informational": (*issues(active_block.get("informational")), *verdict.informational),
        "hard_binding": hard_binding,
        "manifest_label": text(label),
        "reference_state": None if verdict.reference is None else verdict.reference.value,
        "stricter_than_reference": verdict.stricter,
        "active_manifest_result": ManifestResult(
            state=CredentialState.INVALID if m is None else verdict.own_state,
            failures=own_failures),
        "ingredient_failures": chain.ingredient_failures,
        "chain": chain.root,
        "identities": chain.identities,
        "time": chain.time,
    }
    if state is CredentialState.INVALID or m is None:
        return CredentialCheck(**common)
    assertion_map = assertions(m)
    acts = actions(assertion_map)
    return CredentialCheck(
        **common,
        signer=signer_info(m, acts),
        claim_generator=claim_generator(m),
        title=text(m.get("title")),
        format=text(m.get("format")),
        digital_source_type=digital_source_type(acts),
        actions=tuple(acts),
        ingredients=tuple(_ingredients(m, results)),
        manifest=assertion_map,
    )


def _ingredients(m: dict[str, Any], results: dict[str, Any]) -> list[dict[str, Any]]:
    """The active manifest's ingredients as in ``veriframe.verify/1`` (flat, one level)."""
    deltas: dict[str, dict[str, Any]] = {}
    for d in results.get("ingredientDeltas") or ():
        if isinstance(d, dict) and isinstance(d.get("ingredientAssertionURI"), str):
            deltas[d["ingredientAssertionURI"].rsplit("/", 1)[-1]] = d.get("validationDeltas") or {}
    out: list[dict[str, Any]] = []
    for ing in m.get("ingredients") or ():
        if not isinstance(ing, dict):
            continue
        entry = {
            k: ing[k]
            for k in ("title", "format", "relationship", "label", "instance_id", "document_id",
                      "active_manifest", "description")
            if k in ing
        }
        for k in ("validation_status", "validation_results"):
            if k in ing:
                entry[f"recorded_{k}"] = ing[k]
        delta = deltas.get(str(ing.get("label")))
        if delta is not None:
            failures = [i.code for i in issues(delta.get("failure"))]
            # Kept as in veriframe.verify/1: any failure code, even signingCredential.untrusted,
            # reads "invalid" here; the chain's node state applies c2pa-rs's rule.
            entry["validation"] = {
                "state": "invalid" if failures else "valid",
                "failures": failures,
                "successes": [i.code for i in issues(delta.get("success"))],
                "informational": [i.code for i in issues(delta.get("informational"))],
            }
        out.append(entry)
    return out


def _sniff_fragment(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(8)
    return len(head) == 8 and head[4:8] in _FRAGMENT_BOXES


def find_init_segment(path: Path) -> Path | None:
    """The init segment beside a fragment (``dash1.m4s`` → ``dashinit.mp4``), if any."""
    stem = path.stem
    prefix = re.sub(r"(_?seg(ment)?)?[_-]?\d+$", "", stem, flags=re.IGNORECASE)
    names: list[str] = []
    for base in dict.fromkeys((prefix, prefix.rstrip("_-"))):
        for sep in ("", "_", "-", "."):
            for ext in (".mp4", ".m4s", ".m4v", ".m4a", ".mov"):
                names.append(f"{base}{sep}init{ext}")
    names += ["init.mp4", "init.m4s"]
    for name in names:
        cand = path.with_name(name)
        if cand != path and cand.is_file():
            return cand
    return None


def _read_file(path: Path, trust: TrustConfig) -> CredentialCheck:
    import c2pa

    try:
        ctx = trust.context()
        if _sniff_fragment(path):
            init = find_init_segment(path)
            if init is None:
                return _err(
                    "credentials.unsupported-format",
                    "this is a media segment (fragmented MP4) without its init segment",
                    "put the init segment (e.g. init.mp4) beside it and verify again",
                    unsupported=True,
                )
            with open(init, "rb") as fi, open(path, "rb") as ff:
                reader = c2pa.Reader("video/mp4", fi, context=ctx)
                try:
                    reader.with_fragment("video/mp4", fi, ff)
                    return _check_from_reader(reader, ignore_binding=False)
                finally:
                    reader.close()
        with open(path, "rb") as fh:
            hint = _FORMAT_HINTS.get(path.suffix.lower())
            reader = c2pa.Reader(hint, fh, context=ctx) if hint else c2pa.Reader(fh, context=ctx)
            try:
                return _check_from_reader(reader, ignore_binding=False)
            finally:
                reader.close()
    except c2pa.C2paError as exc:
        return _map_c2pa_error(exc)
    except OSError as exc:
        return _err(
            "credentials.unreadable", f"{path.name} could not be read: {exc.strerror}",
            "check the file and its permissions",
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return _err(
            "credentials.malformed",
            f"the manifest report could not be interpreted ({type(exc).__name__})",
            "the manifest is malformed; treat the file as unsigned",
        )


def _precheck(path: Path) -> CredentialCheck | None:
    if not path.exists():
        return _err("credentials.not-found", f"{path} does not exist", "check the path")
    if path.is_dir():
        return _err("credentials.unreadable", f"{path} is a directory", "pass a file")
    if path.stat().st_size == 0:
        return _err("credentials.unreadable", f"{path} is empty", "pass a complete file")
    return None


def read_credentials(
    path: str | os.PathLike[str],
    *,
    trust: TrustConfig,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
) -> CredentialCheck:
    """Validate the C2PA manifest embedded in ``path`` against ``trust``.

    Always returns a CredentialCheck (``error`` with a stable code for unreadable or
    unsupported input, ``credentials.timeout`` past ``timeout_s``); never raises for a bad
    file. Remote manifests are not fetched.
    """
    p = Path(path)
    pre = _precheck(p)
    if pre is not None:
        return pre
    return _run_with_deadline(lambda: _read_file(p, trust), timeout_s)


def validate_manifest_bytes(
    data: bytes,
    *,
    asset_path: str | os.PathLike[str],
    fmt: str,
    trust: TrustConfig,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
) -> CredentialCheck:
    """Re-validate a manifest store recovered from elsewhere (the store) against ``asset_path``.

    ``state`` here judges the manifest itself: its signature, certificate and assertion
    hashes (``valid``/``trusted`` when intact). Whether its content hash binds to this file is
    reported separately in ``hard_binding`` (``match``/``mismatch``): a re-encoded copy of
    the signed video keeps a valid signature but no longer matches the hash.
    """
    import c2pa

    p = Path(asset_path)
    pre = _precheck(p)
    if pre is not None:
        return pre
    if not data:
        return _err("credentials.malformed", "the stored manifest is empty", "re-sign the video")

    def run() -> CredentialCheck:
        try:
            with open(p, "rb") as fh:
                reader = c2pa.Reader(fmt, fh, bytes(data), context=trust.context())
                try:
                    return _check_from_reader(reader, ignore_binding=True)
                finally:
                    reader.close()
        except c2pa.C2paError as exc:
            check = _map_c2pa_error(exc)
            if check.state is CredentialState.ABSENT:
                return _err(
                    "credentials.malformed",
                    "the stored data holds no C2PA manifest",
                    "the store record is damaged",
                )
            return check
        except OSError as exc:
            return _err(
                "credentials.unreadable", f"{p.name} could not be read: {exc.strerror}",
                "check the file",
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return _err(
                "credentials.malformed",
                f"the stored manifest could not be interpreted ({type(exc).__name__})",
                "the store record is damaged",
            )

    return _run_with_deadline(run, timeout_s)


def active_manifest_label(path: str | os.PathLike[str]) -> str | None:
    """The active manifest label of ``path`` (no validation verdict), or None."""
    import c2pa

    try:
        with open(path, "rb") as fh:
            reader = c2pa.Reader(fh, context=TrustConfig.none().context())
            try:
                label = json.loads(reader.json()).get("active_manifest")
            finally:
                reader.close()
    except (c2pa.C2paError, OSError, ValueError):
        return None
    return str(label) if label else None


def validate_manifest_store(
    data: bytes, *, trust: TrustConfig, timeout_s: float | None = DEFAULT_TIMEOUT_S
) -> CredentialCheck:
    """Validate a standalone manifest store (``application/c2pa``, without its asset).

    ``state`` judges the signature, the certificate and the assertion hashes; the content
    binding cannot be checked without the asset (``hard_binding`` is None). Used by a resolver
    to accept a published manifest, never to vouch for content.
    """
    import io

    import c2pa

    if not data:
        return _err("credentials.malformed", "the manifest store is empty", "send the manifest")

    def run() -> CredentialCheck:
        try:
            reader = c2pa.Reader("application/c2pa", io.BytesIO(bytes(data)),
                                 context=trust.context())
            try:
                check = _check_from_reader(reader, ignore_binding=True)
            finally:
                reader.close()
        except c2pa.C2paError as exc:
            check = _map_c2pa_error(exc)
            if check.state is CredentialState.ABSENT:
                return _err("credentials.malformed", "the data holds no C2PA manifest",
                            "send a C2PA manifest store (application/c2pa)")
            return check
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return _err("credentials.malformed",
                        f"the manifest store could not be interpreted ({type(exc).__name__})",
                        "send a C2PA manifest store (application/c2pa)")
        return dataclasses.replace(check, hard_binding=None)

    return _run_with_deadline(run, timeout_s)
