"""Find the video files under a folder, a file or a glob (lazily, never following links)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from veriframe.errors import ScanError

VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".qt", ".webm", ".mkv", ".avi", ".gif", ".mpg", ".mpeg", ".ts",
    ".m2ts", ".mts", ".3gp", ".3g2", ".wmv", ".flv", ".ogv", ".mxf",
})
# Extensions that are never video: skipped without opening the file.
NON_VIDEO_EXTENSIONS = frozenset({
    ".txt", ".md", ".json", ".jsonl", ".csv", ".tsv", ".xml", ".html", ".htm", ".pdf", ".py",
    ".toml", ".yaml", ".yml", ".ini", ".log", ".parquet", ".jpg", ".jpeg", ".png", ".webp",
    ".bmp", ".tif", ".tiff", ".heic", ".svg", ".wav", ".mp3", ".flac", ".aac", ".m4a", ".ogg",
    ".opus", ".zip", ".gz", ".tar", ".7z", ".sqlite", ".db", ".pem", ".key", ".srt", ".vtt",
})
_GLOB_CHARS = set("*?[")


def _sniff_video(path: Path) -> bool:
    """Whether a file without a known extension is a video: magic bytes, then a probe."""
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    magic = (head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free")
             or head.startswith(b"\x1a\x45\xdf\xa3")  # Matroska / WebM
             or (head.startswith(b"RIFF") and head[8:12] == b"AVI ")
             or head.startswith((b"GIF87a", b"GIF89a"))
             or head[:1] == b"\x47" or head.startswith(b"\x00\x00\x01\xba"))
    if not magic:
        return False
    try:
        from veriframe.media import probe

        info = probe(path)
    except Exception:
        return False
    return bool(getattr(info, "width", 0))


def is_video_candidate(path: Path) -> bool:
    """Known video extension: yes; known other type: no; otherwise sniff the content."""
    ext = path.suffix.lower()
    if ext in VIDEO_EXTENSIONS:
        return True
    if ext in NON_VIDEO_EXTENSIONS:
        return False
    return _sniff_video(path)


def _walk(root: Path) -> Iterator[Path]:
    """Files under ``root``, depth first, sorted per folder, without following links."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(Path(entry.path))
                elif entry.is_file():
                    yield Path(entry.path)
            except OSError:
                continue
        stack.extend(reversed(subdirs))


def find_videos(target: str | os.PathLike[str], *,
                skipped: list[str] | None = None) -> Iterator[str]:
    """Absolute paths of the video files in ``target`` (a file, a folder or a glob), lazily.

    Folders are walked recursively; files that are not videos (by extension, then by their
    magic bytes and a probe) are left out and, when ``skipped`` is given, appended to it.
    """
    text = os.fspath(target)
    roots: Iterable[Path]
    if _GLOB_CHARS & set(text) and not Path(text).exists():
        import glob

        roots = (Path(p) for p in sorted(glob.iglob(os.path.expanduser(text), recursive=True)))
    else:
        root = Path(text).expanduser()
        if not root.exists():
            raise ScanError("scan.not-found", f"{text} does not exist",
                                 "pass a folder, a video file or a glob such as 'clips/**/*.mp4'")
        roots = [root]
    for root in roots:
        files = _walk(root) if root.is_dir() else iter([root])
        for f in files:
            if is_video_candidate(f):
                yield os.path.abspath(f)
            elif skipped is not None:
                skipped.append(os.path.abspath(f))


