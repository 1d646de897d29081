"""Checking a path, sniffing its content and opening it with PyAV, with errors mapped.

PyAV raises ``av.error.*`` (and sometimes plain ``ValueError``/``OSError``) for files it
cannot read; none of those may reach a user. Everything here turns them into a
:class:`~veriframe.errors.MediaError` with a stable code.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import av.error

from veriframe.errors import MediaError, UnsupportedInputError
from veriframe.media.limits import Limits, limit_error

# Demuxers that read still images or plain text: a file that only they can open is not a video.
_IMAGE_DEMUXERS = ("image2", "_pipe", "tty", "ansi", "bin", "xbin", "idf", "adf")

# Brands of an ISO-BMFF ``ftyp`` box that mark a still image (HEIF/HEIC/AVIF), not a movie.
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
_BMFF_BOXES = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot", b"uuid", b"styp"}

# Exceptions PyAV (or the C library under it) raises for bad data.
AV_ERRORS: tuple[type[BaseException], ...] = (
    av.error.FFmpegError,
    ValueError,
    OSError,
    EOFError,
    IndexError,
    OverflowError,
    KeyError,
    MemoryError,
)


def unreadable(path: Path, detail: str = "") -> MediaError:
    """The ``media.unreadable`` error for ``path``."""
    msg = f"cannot read {path.name!r} as a video"
    if detail:
        msg += f": {detail}"
    return MediaError(
        "media.unreadable",
        msg,
        "The file is corrupt, truncated or not a media file; try re-exporting it.",
    )


def _unsupported(path: Path, kind: str) -> UnsupportedInputError:
    return UnsupportedInputError(
        "media.unsupported-type",
        f"{path.name!r} is {kind}, not a video",
        "Give a video file: mp4, mov, webm, mkv, avi or gif.",
    )


def sniff(head: bytes) -> str | None:
    """Classify the first bytes of a file.

    Returns ``"video"`` for a known video/animation container, ``"audio"`` for an audio
    container, ``"image"``, ``"pdf"``, ``"archive"`` or ``"text"`` for things that are not
    video, and ``None`` when the bytes match nothing known (let the demuxer decide).
    """
    if len(head) >= 12 and head[4:8] in _BMFF_BOXES:
        if head[4:8] == b"ftyp" and head[8:12] in _IMAGE_BRANDS:
            return "image"
        return "video"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska / WebM
        return "video"
    if head.startswith(b"RIFF") and len(head) >= 12:
        form = head[8:12]
        if form.startswith(b"AVI"):
            return "video"
        if form == b"WEBP":
            return "image"
        if form == b"WAVE":
            return "audio"
        return None
    if head.startswith((b"GIF87a", b"GIF89a", b"FLV", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):
        return "video"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):  # ASF / WMV
        return "video"
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"II*\x00", b"MM\x00*")):
        return "image"
    if head.startswith((b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51", b"qoif", b"8BPS")):
        return "image"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith((b"PK\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"BZh")):
        return "archive"
    if head.startswith((b"ID3", b"fLaC", b"OggS", b"#!AMR")):
        return "audio"  # Ogg may hold Theora video: the demuxer decides below
    if head and b"\x00" not in head:
        # A multibyte character cut at the end of a full 4 KiB head is still text.
        body = head[:-3] if len(head) >= 4096 else head
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text"
    return None


def require_file(path: str | os.PathLike[str]) -> os.stat_result:
    """``stat`` of ``path``, which must exist and not be a folder.

    The one existence check of every path that reads a file: ``media.not-found``,
    ``media.is-directory`` or ``media.unreadable`` (permissions) otherwise.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise MediaError(
            "media.not-found", f"{str(p)!r} does not exist", "Check the path and try again."
        ) from None
    except OSError as exc:
        raise MediaError(
            "media.unreadable", f"cannot access {str(p)!r}: {exc.strerror}", "Check permissions."
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise MediaError(
            "media.is-directory",
            f"{str(p)!r} is a directory",
            "Give a video file; use `veriframe scan` for folders.",
        )
    return st


def check_path(path: str | os.PathLike[str], limits: Limits) -> tuple[Path, int]:
    """Check that ``path`` is a non-empty regular file within the size limit.

    Returns the path and its size. Raises ``media.not-found``, ``media.is-directory``,
    ``media.empty``, ``media.limits`` or ``media.unsupported-type`` (decided by content).
    """
    p = Path(path)
    st = require_file(p)
    if st.st_size == 0:
        raise MediaError("media.empty", f"{p.name!r} is empty (0 bytes)", "Give a non-empty file.")
    if st.st_size > limits.max_file_bytes:
        raise limit_error(
            "file size", st.st_size, limits.max_file_bytes, "VERIFRAME_MAX_FILE_BYTES"
        )
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise MediaError(
            "media.unreadable", f"cannot open {p.name!r}: {exc.strerror}", "Check permissions."
        ) from None
    kind = sniff(head)
    if kind in ("image", "pdf", "archive", "text"):
        names = {
            "image": "a still image",
            "pdf": "a PDF document",
            "archive": "an archive",
            "text": "a text file",
        }
        raise _unsupported(p, names[kind])
    return p, st.st_size


@contextlib.contextmanager
def open_input(path: Path) -> Iterator[Any]:
    """Open ``path`` with PyAV for reading; map failures to ``media.*`` errors."""
    try:
        container = av.open(str(path), "r", metadata_errors="replace")
    except AV_ERRORS as exc:
        raise unreadable(path, _describe(exc)) from None
    try:
        fmt = container.format.name or ""
        if any(fmt == d or (d.startswith("_") and fmt.endswith(d)) for d in _IMAGE_DEMUXERS):
            raise _unsupported(path, "a still image or text file")
        yield container
    finally:
        with contextlib.suppress(*AV_ERRORS):
            container.close()


def _describe(exc: BaseException) -> str:
    """A short, single-line description of a PyAV exception (no file paths repeated)."""
    if isinstance(exc, av.error.FFmpegError):
        return str(getattr(exc, "strerror", None) or type(exc).__name__)
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def describe(exc: BaseException) -> str:
    """Public alias of the short exception description used in error messages."""
    return _describe(exc)
