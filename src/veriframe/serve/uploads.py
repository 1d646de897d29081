"""Checking a file that arrived over the network: the calls the verify service makes.

An upload sits in a private temporary folder under a name made by :func:`upload_name` (the
client's file name, reduced to a safe plain name). :func:`verify_upload` and
:func:`detect_upload` run the same checks as ``veriframe verify`` and ``veriframe detect`` on
it; their results name the file only by that name and carry none of the service's own paths
(the temporary folder, the veriframe home, the manifest store, the trust file):
:func:`without_paths` rewrites every string of a result.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from veriframe.settings import Settings
from veriframe.verification import Verification, Verifier

if TYPE_CHECKING:
    from veriframe.detect import Detector
    from veriframe.media import Limits
    from veriframe.policy import Policy
    from veriframe.results import DetectionCheck

T = TypeVar("T")

MAX_NAME_BYTES = 160
DEFAULT_NAME = "upload"
STORE_LABEL = "<the service's manifest store>"
HOME_LABEL = "<the service's home>"
TRUST_LABEL = "<the service's trust anchors>"
FOLDER_LABEL = "<upload folder>"
_KEEP = frozenset(" ._-+()[],@=")


def upload_name(filename: str | None) -> str:
    """A plain, safe file name for an upload called ``filename`` by its client.

    The last path component only; letters, digits, spaces and ``._-+()[],@=``; no leading dot;
    at most :data:`MAX_NAME_BYTES` bytes of UTF-8 (keeping a short extension); ``"upload"``
    when nothing is left. The result is used as the file's name inside a private folder and
    is what reports and error messages show.
    """
    base = re.split(r"[\\/]", filename or "")[-1]
    kept = "".join(ch for ch in base if ch.isalnum() or ch in _KEEP).strip().lstrip(".")
    if len(kept.encode("utf-8")) > MAX_NAME_BYTES:
        stem, dot, ext = kept.rpartition(".")
        suffix = f".{ext}" if dot and stem and len(ext) <= 10 else ""
        stem = stem if suffix else kept
        while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
            stem = stem[:-1]
        kept = (stem.rstrip() + suffix).strip()
    return kept or DEFAULT_NAME


def without_paths(value: T, replacements: Mapping[str, str]) -> T:
    """``value`` (a result dataclass, or containers of them) with every occurrence of each
    key of ``replacements`` in its strings replaced by the key's value (longest keys first)."""
    pairs = sorted(((k, v) for k, v in replacements.items() if k), key=lambda kv: -len(kv[0]))

    def clean(item: Any) -> Any:
        if isinstance(item, enum.Enum):
            return item
        if isinstance(item, str):
            for old, new in pairs:
                if old in item:
                    item = item.replace(old, new)
            return item
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            changes = {f.name: clean(getattr(item, f.name))
                       for f in dataclasses.fields(item) if f.init}
            return dataclasses.replace(item, **changes)
        if isinstance(item, Mapping):
            return {clean(k): clean(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return type(item)(clean(v) for v in item)
        return item

    cleaned: T = clean(value)
    return cleaned


def _private_paths(path: Path, settings: Settings | None) -> dict[str, str]:
    """What of the service's file system an answer about ``path`` must not show."""
    found: dict[str, str] = {}

    def add(where: Path | None, label: str) -> None:
        if where is None:
            return
        for form in {str(where), str(where.resolve())}:
            found[form] = label

    add(path, path.name)
    add(path.parent, FOLDER_LABEL)
    for form in {str(path.parent), str(path.parent.resolve())}:
        found[form + os.sep] = ""
    if settings is not None:
        add(settings.store_path, STORE_LABEL)
        add(settings.trust_file, TRUST_LABEL)
        add(settings.home, HOME_LABEL)
    return found


def verify_upload(path: str | os.PathLike[str], *, verifier: Verifier) -> Verification:
    """:meth:`Verifier.verify <veriframe.verification.Verifier.verify>` on an uploaded file,
    for an answer.

    The report names the file by its own name (see :func:`upload_name`) and carries no path of
    the service (:func:`without_paths`); the frame sample is kept for the HTML report. Like
    ``verify``, a file that cannot be judged gives a report with the ``error`` verdict
    (``report.raise_for_error()`` turns it into the exception).
    """
    file_path = Path(path)
    result = verifier.verify(file_path)
    report = without_paths(result.report, _private_paths(file_path, verifier.settings))
    return Verification(report=report, sample=result.sample)


def detect_upload(
    path: str | os.PathLike[str],
    *,
    detector: Detector | str = "default",
    limits: Limits | None = None,
    policy: Policy | None = None,
    use_metadata: bool = True,
) -> DetectionCheck:
    """What ``veriframe detect`` computes for an uploaded file, decoded within ``limits``.

    The label comes from ``policy``'s thresholds when one is given (else it stays None).
    Raises :class:`~veriframe.errors.MediaError` (or ``UnsupportedInputError``) for a file
    that cannot be decoded, with messages that name the file by its own name only.
    """
    from veriframe.detect import Detector

    file_path = Path(path)
    model = detector if isinstance(detector, Detector) else Detector.load(detector)
    # The same call as `veriframe detect`: one door to the decode limits.
    check = model.score_file(file_path, use_metadata=use_metadata, limits=limits)
    if policy is not None:
        check = dataclasses.replace(check, label=policy.label_for(check.p_synthetic))
    return without_paths(check, _private_paths(file_path, None))


__all__ = ["detect_upload", "upload_name", "verify_upload", "without_paths"]
