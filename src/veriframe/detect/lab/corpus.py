"""The pinned clip corpus: its manifest, duplicate groups, and the locked final set.

The manifest (``detectors/corpus/clips.csv``) pins every clip to a public repository at a commit:
``repo``, ``commit``, ``path``, and the file's git ``blob`` id, with its label, the evidence for
the label, the generator family and a licence note. The clips never enter the repository; a
cache folder holds them as ``<blob><ext>`` and can be rebuilt from the manifest
(``benchmarks/corpus.py fetch``), each file checked against its blob id.

Clips of closed models are reposted widely, and editing repositories ship the same input clips,
so the same footage can sit in several sources. :func:`duplicate_groups` finds those copies with
a perceptual hash of a few evenly spaced frames (plus exact blob equality) and joins them across
sources; the group of every clip is stored in the manifest's ``dup_group`` column so that no
split puts a copy on each side.

:func:`lock_final_set` draws, once and with a recorded seed, about a third of the sources as the
final set (stratified by class and generator family, duplicate groups kept whole); every design
decision uses the rest. The draw is written to ``split.json`` with ``final_looks: 0``, which
:func:`record_final_look` raises each time the final set is scored.

No scikit-learn or torch here: NumPy and the media layer only.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import math
import os
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from veriframe.detect.lab.dataset import VIDEO_SUFFIXES, Clip, Links
from veriframe.errors import DetectorError

# Columns of a gatherer's part file, in order; the manifest adds ``dup_group``.
PART_COLUMNS: tuple[str, ...] = (
    "repo", "commit", "path", "blob", "bytes", "label", "confidence", "family", "generator",
    "category", "evidence", "licence", "width", "height", "fps", "frames", "codec",
)
MANIFEST_COLUMNS: tuple[str, ...] = (*PART_COLUMNS, "dup_group")
LABELS = ("real", "synthetic")
CONFIDENCES = ("high", "probable")
REAL_FAMILY = "camera"

_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$")

# Perceptual hash: a 64-bit DCT hash of HASH_FRAMES evenly spaced luma frames per clip. Two
# clips are one group when at least half (and at least MIN_MATCHING_FRAMES) of one clip's hashed
# frames have a frame of the other within HASH_RADIUS bits, and at least MIN_CLOSE_FRAMES of them
# within CLOSE_RADIUS. On the first 539 gathered clips, copies (re-encoded, rescaled, trimmed)
# had several frames within 0-4 bits; different talking heads with the same framing came within
# 8-12 bits on every frame but never within 4, so the close frames tell them apart. Frames
# flatter than FLAT_STD (fades, black or single-colour frames) are not hashed: their hashes say
# nothing about the content.
HASH_VERSION = 1
HASH_FRAMES = 8
HASH_RADIUS = 10
CLOSE_RADIUS = 4
MIN_MATCHING_FRAMES = 3
MIN_MATCHING_SHARE = 0.5
MIN_CLOSE_FRAMES = 2
FLAT_STD = 4.0
# A set of sources joined by shared footage larger than this is not drawn for the final set.
MAX_DRAWN_UNIT = 5
_THUMB = 32  # frames are averaged down to 32x32 before the DCT
_LOW = 8  # the 8x8 lowest frequencies make the 64 bits


# ------------------------------------------------------------------------------ rows
@dataclass(frozen=True)
class CorpusRow:
    """One pinned clip of the manifest (or of a gatherer's part file: ``dup_group`` empty)."""

    repo: str
    commit: str
    path: str
    blob: str
    bytes: int
    label: str
    confidence: str
    family: str
    generator: str
    category: str
    evidence: str
    licence: str
    width: int
    height: int
    fps: float
    frames: int
    codec: str
    dup_group: str = ""

    @property
    def ext(self) -> str:
        """The file's extension, lower case, with the dot (``.mp4``)."""
        return Path(self.path).suffix.lower()

    @property
    def cache_name(self) -> str:
        """The clip's file name in the cache: ``<blob><ext>``."""
        return f"{self.blob}{self.ext}"

    @property
    def url(self) -> str:
        """Where the clip can be downloaded at its pinned commit."""
        return f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/{self.path}"

    @property
    def source(self) -> str:
        """The source of the clip: its repository (one spelling per repository: see
        :func:`canonical_repos`)."""
        return self.repo

    def to_row(self) -> dict[str, str]:
        """The manifest's CSV row."""
        out: dict[str, str] = {}
        for name in MANIFEST_COLUMNS:
            value = getattr(self, name)
            out[name] = _fmt_fps(value) if name == "fps" else str(value)
        return out


def _fmt_fps(value: float) -> str:
    return f"{value:.6g}"


def row_problems(row: Mapping[str, str | None]) -> list[str]:
    """What is wrong with one CSV row (empty when it is a valid pinned clip)."""
    problems: list[str] = []

    def text(name: str) -> str:
        return (row.get(name) or "").strip()

    if not _REPO.match(text("repo")):
        problems.append(f"repo {text('repo')!r} is not owner/name")
    for name in ("commit", "blob"):
        if not _HEX40.match(text(name)):
            problems.append(f"{name} {text(name)!r} is not 40 lower-case hex digits")
    path = text("path")
    if not path or path.startswith("/") or ".." in Path(path).parts:
        problems.append(f"path {path!r} is not a relative path inside the repository")
    elif Path(path).suffix.lower() not in VIDEO_SUFFIXES:
        problems.append(f"path {path!r} is not a video file")
    if text("label") not in LABELS:
        problems.append(f"label {text('label')!r} is not real or synthetic")
    if text("confidence") not in CONFIDENCES:
        problems.append(f"confidence {text('confidence')!r} is not high or probable")
    for name in ("evidence", "family"):
        if not text(name):
            problems.append(f"{name} is empty")
    if text("label") == "real" and text("family") not in ("", REAL_FAMILY):
        problems.append(f"a real clip's family must be {REAL_FAMILY!r}, not {text('family')!r}")
    if text("label") == "synthetic" and text("family") == REAL_FAMILY:
        problems.append("a synthetic clip cannot have the family 'camera'")
    for name in ("bytes", "width", "height", "frames"):
        try:
            if int(text(name)) <= 0:
                raise ValueError
        except ValueError:
            problems.append(f"{name} {text(name)!r} is not a positive integer")
    try:
        fps = float(text("fps"))
        if not math.isfinite(fps) or fps <= 0:
            raise ValueError
    except ValueError:
        problems.append(f"fps {text('fps')!r} is not a positive number")
    return problems


def parse_row(row: Mapping[str, str | None], *, where: str = "") -> CorpusRow:
    """A :class:`CorpusRow` from a CSV row; ``DetectorError`` (``detector.bad-dataset``) when
    :func:`row_problems` finds anything."""
    problems = row_problems(row)
    if problems:
        raise DetectorError("detector.bad-dataset", f"{where}: {'; '.join(problems)}",
                            "every clip must be pinned (repo, commit, path, blob) and labelled "
                            "with evidence")

    def text(name: str) -> str:
        return (row.get(name) or "").strip()

    return CorpusRow(
        repo=text("repo"), commit=text("commit"), path=text("path"), blob=text("blob"),
        bytes=int(text("bytes")), label=text("label"), confidence=text("confidence"),
        family=text("family"), generator=text("generator"), category=text("category"),
        evidence=text("evidence"), licence=text("licence"), width=int(text("width")),
        height=int(text("height")), fps=float(text("fps")), frames=int(text("frames")),
        codec=text("codec"), dup_group=text("dup_group"),
    )


def _fields(values: list[str], header: list[str]) -> dict[str, str] | None:
    """A raw CSV record as a column dict. A part file is written without quoting, so a comma
    inside ``path`` splits it: when the record is too long, the path is rebuilt from the
    fields between the commit and the first 40-hex field that leaves exactly the columns after
    ``blob``. None when that does not work out."""
    if len(values) == len(header):
        return dict(zip(header, values, strict=True))
    if len(values) < len(header) or header[:4] != ["repo", "commit", "path", "blob"]:
        return None
    after = len(header) - 4  # columns after blob
    for k in range(3, len(values)):
        if _HEX40.match(values[k].strip()) and len(values) - k - 1 == after:
            fixed = [values[0], values[1], ",".join(values[2:k]), *values[k:]]
            return dict(zip(header, fixed, strict=True))
    return None


def read_rows(path: str | os.PathLike[str], *, columns: Sequence[str] = PART_COLUMNS,
              ) -> tuple[list[CorpusRow], list[str]]:
    """The valid rows of a CSV file and a list of the problems of the others (``file:line:
    why``). The header must hold ``columns`` (extra columns are ignored); a comma inside an
    unquoted ``path`` is recovered (:func:`_fields`)."""
    p = Path(path)
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in columns if c not in header]
        if missing:
            raise DetectorError("detector.bad-dataset",
                                f"{p} lacks the column(s) {', '.join(missing)}",
                                f"the header is {','.join(columns)}")
        rows: list[CorpusRow] = []
        problems: list[str] = []
        for values in reader:
            if not values or not "".join(values).strip():
                continue
            where = f"{p.name}:{reader.line_num}"
            row = _fields(values, header)
            if row is None:
                problems.append(f"{where}: {len(values)} fields for {len(header)} columns")
                continue
            found = row_problems(row)
            if found:
                problems.append(f"{where}: {'; '.join(found)}")
                continue
            rows.append(parse_row(row, where=where))
    return rows, problems


def load_manifest(path: str | os.PathLike[str]) -> list[CorpusRow]:
    """The manifest's rows, every one validated (``detector.bad-dataset`` otherwise): pinned,
    labelled, with a duplicate group; no blob twice."""
    rows, problems = read_rows(path, columns=MANIFEST_COLUMNS)
    problems += [f"{r.repo}/{r.path}: no dup_group" for r in rows if not r.dup_group]
    seen: set[str] = set()
    for r in rows:
        if r.blob in seen:
            problems.append(f"{r.repo}/{r.path}: blob {r.blob} is listed twice")
        seen.add(r.blob)
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise DetectorError("detector.bad-dataset",
                            f"{path}: {' | '.join(problems[:5])}{more}",
                            "rebuild the manifest with benchmarks/corpus.py merge")
    return rows


def write_manifest(path: str | os.PathLike[str], rows: Iterable[CorpusRow]) -> None:
    """Write the manifest atomically, rows sorted by source, path and blob."""
    from veriframe._atomic import write_bytes_atomic

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in sort_rows(rows):
        writer.writerow(r.to_row())
    write_bytes_atomic(path, buf.getvalue().encode("utf-8"))


def sort_rows(rows: Iterable[CorpusRow]) -> list[CorpusRow]:
    """Rows in the manifest's order: by source, then path, then blob."""
    return sorted(rows, key=lambda r: (r.repo.lower(), r.path, r.blob))


# ------------------------------------------------------------------------------ blobs
def git_blob_id(path: str | os.PathLike[str]) -> str:
    """The git blob id of a file: SHA-1 of ``b"blob <size>\\0"`` followed by its bytes."""
    p = Path(path)
    digest = hashlib.sha1(f"blob {p.stat().st_size}\0".encode())
    with p.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_blob_id_of(data: bytes) -> str:
    """The git blob id of ``data`` (see :func:`git_blob_id`)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def cached_path(row: CorpusRow, cache_dir: str | os.PathLike[str]) -> Path:
    """Where ``row``'s clip lives in ``cache_dir``."""
    return Path(cache_dir) / row.cache_name


# ------------------------------------------------------------------------------ holdout
def load_holdout(path: str | os.PathLike[str]) -> frozenset[str]:
    """The repositories of a holdout list (one ``owner/name`` a line, ``#`` comments),
    lower-cased."""
    names = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line.lower())
    return frozenset(names)


def holdout_violations(rows: Iterable[CorpusRow], holdout: Iterable[str]) -> list[CorpusRow]:
    """The rows whose repository is on the holdout list (compared without case)."""
    banned = {h.lower() for h in holdout}
    return [r for r in rows if r.repo.lower() in banned]


def canonical_repos(rows: Iterable[CorpusRow]) -> list[CorpusRow]:
    """``rows`` with one spelling per repository (GitHub names ignore case): the first seen."""
    from dataclasses import replace

    spelling: dict[str, str] = {}
    out = []
    for r in rows:
        name = spelling.setdefault(r.repo.lower(), r.repo)
        out.append(r if name == r.repo else replace(r, repo=name))
    return out


# ------------------------------------------------------------------------------ hashing
def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    m[0] /= math.sqrt(2.0)
    return m


_DCT = _dct_matrix(_THUMB)


def _shrink(luma: np.ndarray, size: int = _THUMB) -> np.ndarray:
    """Average ``luma`` down to ``size`` x ``size`` (every source pixel counts once)."""
    out = luma.astype(np.float64)
    for axis in (0, 1):
        n = out.shape[axis]
        edges = np.linspace(0, n, size, endpoint=False).astype(int)
        widths = np.diff(np.append(edges, n)).astype(np.float64)
        out = np.add.reduceat(out, edges, axis=axis)
        out /= widths[:, None] if axis == 0 else widths[None, :]
    return out


def frame_hash(luma: np.ndarray) -> int | None:
    """The 64-bit perceptual hash of one luma frame (None for a flat frame).

    The frame is averaged down to 32x32, transformed with a 2-D DCT, and each of the 8x8
    lowest frequencies gives one bit: above or below their median (the DC term is left out of
    the median). Re-encoding, rescaling and mild colour changes move few bits.
    """
    if luma.ndim != 2 or min(luma.shape) < _THUMB:
        return None
    small = _shrink(luma)
    if float(small.std()) < FLAT_STD:
        return None
    low = (_DCT @ small @ _DCT.T)[:_LOW, :_LOW].ravel()
    bits = low > float(np.median(low[1:]))
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def clip_hashes(path: str | os.PathLike[str], *, count: int = HASH_FRAMES) -> tuple[int, ...]:
    """The perceptual hashes of ``count`` evenly spaced frames of a clip (flat frames skipped;
    empty when every sampled frame is flat). Raises the media layer's errors."""
    from veriframe.media import sample_frames

    sample = sample_frames(path, count=count, rgb=False, luma=True)
    assert sample.luma is not None
    hashes = (frame_hash(f) for f in sample.luma)
    return tuple(h for h in hashes if h is not None)


class HashCache:
    """Clip hashes kept in a JSON file keyed by blob id (the blob names the bytes exactly, so
    a cached hash never goes stale), with the hash settings in the file."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path is not None else None
        self._key = f"v{HASH_VERSION}-n{HASH_FRAMES}-t{_THUMB}-f{FLAT_STD:g}"
        self.data: dict[str, list[int]] = {}
        if self.path is not None and self.path.is_file():
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if doc.get("settings") == self._key:
                self.data = {k: [int(x, 16) for x in v] for k, v in doc["hashes"].items()}

    def get(self, blob: str, path: Path) -> tuple[int, ...]:
        """The hashes of the clip ``path`` whose blob is ``blob`` (computed once)."""
        if blob not in self.data:
            self.data[blob] = list(clip_hashes(path))
        return tuple(self.data[blob])

    def save(self) -> None:
        """Write the cache (atomically) if it has a path."""
        if self.path is None:
            return
        from veriframe._atomic import write_bytes_atomic

        doc = {"settings": self._key,
               "hashes": {k: [f"{x:016x}" for x in v] for k, v in sorted(self.data.items())}}
        write_bytes_atomic(self.path, json.dumps(doc, indent=0).encode())


def _bit_signs(hashes: Sequence[Sequence[int]], slots: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(hashes)
    signs = np.zeros((n, slots, 64), dtype=np.float32)
    valid = np.zeros((n, slots), dtype=bool)
    shifts = np.arange(64, dtype=np.uint64)
    for i, hs in enumerate(hashes):
        for k, h in enumerate(hs[:slots]):
            bits = (np.uint64(h) >> shifts) & np.uint64(1)
            signs[i, k] = np.where(bits == 1, 1.0, -1.0)
            valid[i, k] = True
    return signs, valid


def near_duplicate_pairs(
    hashes: Sequence[Sequence[int]],
    *,
    radius: int = HASH_RADIUS,
    close_radius: int = CLOSE_RADIUS,
    min_frames: int = MIN_MATCHING_FRAMES,
    min_share: float = MIN_MATCHING_SHARE,
    min_close: int = MIN_CLOSE_FRAMES,
) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``, ``i < j``, of clips whose frame hashes say they are the same footage.

    Clip ``i`` is found in clip ``j`` when at least ``max(min(min_frames, n_i),
    ceil(min_share * n_i))`` of its ``n_i`` hashed frames have a frame of ``j`` within ``radius``
    bits and at least ``min(min_close, n_i)`` within ``close_radius`` bits; a pair is a
    duplicate when either is found in the other (a trimmed copy is found in the longer clip,
    not always the other way round). Clips without hashes match nothing.
    """
    n = len(hashes)
    if n < 2:
        return []
    slots = max((len(h) for h in hashes), default=0)
    if slots == 0:
        return []
    signs, valid = _bit_signs(hashes, slots)
    flat = signs.reshape(n * slots, 64)
    valid_flat = valid.reshape(n * slots)
    n_valid = valid.sum(axis=1)
    need = np.maximum(np.minimum(min_frames, n_valid), np.ceil(min_share * n_valid)).astype(int)
    need_close = np.minimum(min_close, n_valid)
    found = np.zeros((n, n), dtype=bool)
    chunk = max(1, 4096 // slots)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        dist = (64.0 - flat[start * slots:stop * slots] @ flat.T) / 2.0
        dist[:, ~valid_flat] = 65.0
        best = dist.reshape(stop - start, slots, n, slots).min(axis=3)  # (chunk, slots, n)
        mine = valid[start:stop, :, None]
        count = ((best <= radius + 0.5) & mine).sum(axis=1)  # frames of i with a partner in j
        close = ((best <= close_radius + 0.5) & mine).sum(axis=1)
        found[start:stop] = ((count >= need[start:stop, None])
                             & (close >= need_close[start:stop, None])
                             & (n_valid[start:stop, None] > 0))
    np.fill_diagonal(found, False)
    both = found | found.T
    ii, jj = np.nonzero(np.triu(both, k=1))
    return list(zip(ii.tolist(), jj.tolist(), strict=True))


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, a: int) -> int:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def duplicate_groups(blobs: Sequence[str], hashes: Sequence[Sequence[int]],
                     **near: Any) -> list[str]:
    """The duplicate group of every clip: clips with the same blob, or whose hashes match
    (:func:`near_duplicate_pairs`, keyword arguments passed on), chained across sources. A
    group is named ``d-`` and the first 12 digits of its smallest blob id, so it is stable
    while its members are."""
    if len(blobs) != len(hashes):
        raise ValueError("one hash list per blob")
    uf = _UnionFind(len(blobs))
    first: dict[str, int] = {}
    for i, b in enumerate(blobs):
        uf.union(first.setdefault(b, i), i)
    for i, j in near_duplicate_pairs(hashes, **near):
        uf.union(i, j)
    smallest: dict[int, str] = {}
    for i, b in enumerate(blobs):
        root = uf.find(i)
        smallest[root] = min(smallest.get(root, b), b)
    return [f"d-{smallest[uf.find(i)][:12]}" for i in range(len(blobs))]


def sources_with_copies_of(rows: Sequence[CorpusRow], row_hashes: Sequence[Sequence[int]],
                           other_hashes: Sequence[Sequence[int]], **near: Any) -> set[str]:
    """The sources of ``rows`` holding a copy (:func:`near_duplicate_pairs`) of any of the
    other clips (e.g. clips earlier design work looked at)."""
    n = len(rows)
    pairs = near_duplicate_pairs([*row_hashes, *other_hashes], **near)
    return {rows[min(i, j)].source for i, j in pairs if (i < n) != (j < n)}


def groups_across_sources(rows: Iterable[CorpusRow]) -> dict[str, list[str]]:
    """The duplicate groups that hold clips of more than one source: group -> sources."""
    by_group: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        by_group[r.dup_group].add(r.source)
    return {g: sorted(s) for g, s in sorted(by_group.items()) if len(s) > 1}


def linked_sources(rows: Iterable[CorpusRow]) -> list[list[str]]:
    """Sources joined through shared duplicate groups: each inner list is one connected set
    (sorted), every source in exactly one (most alone)."""
    rows = list(rows)
    sources = sorted({r.source for r in rows})
    index = {s: i for i, s in enumerate(sources)}
    uf = _UnionFind(len(sources))
    first: dict[str, int] = {}
    for r in rows:
        uf.union(first.setdefault(r.dup_group, index[r.source]), index[r.source])
    parts: dict[int, list[str]] = defaultdict(list)
    for s in sources:
        parts[uf.find(index[s])].append(s)
    return sorted(parts.values())


# ------------------------------------------------------------------------------ clips
@dataclass(frozen=True)
class CorpusClip(Clip):
    """A :class:`~veriframe.detect.lab.dataset.Clip` of the corpus: ``group`` is the source
    repository; ``dup_group`` (copies of the same footage, across sources), the blob id and the
    manifest's generator family come with it."""

    dup_group: str = ""
    blob: str = ""
    manifest_family: str = ""

    @property
    def family(self) -> str:
        """The manifest's generator family (``"real"`` for real clips)."""
        if self.label == 0:
            return "real"
        return self.manifest_family or super().family


def to_clips(manifest: str | os.PathLike[str] | Sequence[CorpusRow],
             cache_dir: str | os.PathLike[str], *, missing: str = "error",
             ) -> list[CorpusClip]:
    """The manifest's clips as the lab's :class:`Clip` objects (:class:`CorpusClip`), their
    files in ``cache_dir``.

    ``missing="error"`` raises ``detector.bad-dataset`` when any file is absent (rebuild the
    cache with ``benchmarks/corpus.py fetch``); ``"skip"`` leaves those clips out.
    """
    if missing not in ("error", "skip"):
        raise ValueError("missing is 'error' or 'skip'")
    rows = load_manifest(manifest) if isinstance(manifest, (str, os.PathLike)) else manifest
    cache = Path(cache_dir)
    clips: list[CorpusClip] = []
    absent: list[str] = []
    for r in rows:
        path = cache / r.cache_name
        if not path.is_file():
            absent.append(r.cache_name)
            continue
        clips.append(CorpusClip(
            path=path, label=1 if r.label == "synthetic" else 0, group=r.source,
            generator=r.generator or r.family, is_gif=r.ext == ".gif", dup_group=r.dup_group,
            blob=r.blob, manifest_family=r.family))
    if absent and missing == "error":
        raise DetectorError("detector.bad-dataset",
                            f"{len(absent)} clip(s) of the manifest are not in {cache} "
                            f"(e.g. {absent[0]})",
                            "rebuild the cache: python benchmarks/corpus.py fetch")
    return clips


def fold_groups(clips: Sequence[CorpusClip]) -> list[str]:
    """A split key per clip that never separates copies of one footage: sources joined through
    shared duplicate groups form one key (their names joined with `` + ``); a source that
    shares nothing is its own key. Use it instead of ``group`` for leave-one-source-out."""
    links = Links()
    find = links.find
    for c in clips:
        find(f"src:{c.group}")
        links.join(f"dup:{c.dup_group or c.blob or c.path.name}", f"src:{c.group}")
    members: dict[str, set[str]] = defaultdict(set)
    for c in clips:
        members[find(f"src:{c.group}")].add(c.group)
    return [" + ".join(sorted(members[find(f"src:{c.group}")])) for c in clips]


# ------------------------------------------------------------------------------ split
@dataclass(frozen=True)
class Split:
    """The locked split of sources into a design set and a final set."""

    seed: int
    fraction: float
    final_sources: tuple[str, ...]
    design_sources: tuple[str, ...]
    created: str = ""
    final_looks: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    strata: dict[str, dict[str, int]] = field(default_factory=dict)
    linked: tuple[tuple[str, ...], ...] = ()
    moved_to_design: tuple[str, ...] = ()
    manifest_sha256: str = ""
    max_unit: int = MAX_DRAWN_UNIT
    seen_before: tuple[str, ...] = ()

    def side(self, source: str) -> str:
        """``"final"`` or ``"design"`` for a source (``KeyError`` when it is in neither)."""
        if source in self.final_sources:
            return "final"
        if source in self.design_sources:
            return "design"
        raise KeyError(source)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``split.json``."""
        return {
            "seed": self.seed,
            "created": self.created,
            "fraction": self.fraction,
            "max_unit": self.max_unit,
            "method": ("sources joined by shared duplicate groups form one unit; units of "
                       f"more than {self.max_unit} sources stay on the design side "
                       "(moved_to_design), and so do units holding a source, or a copy of a "
                       "clip, that earlier detector development already used (seen_before); "
                       "the others are ordered by stratum (majority class, "
                       "then generator family of the unit's largest source) and, inside a "
                       "stratum, at random with the seed; every unit at which the running "
                       "count k*rate (from a random offset) passes a whole number goes to the "
                       "final set, the rate making it `fraction` of all sources (systematic "
                       "sampling: each stratum gets its share to within one unit)"),
            "manifest_sha256": self.manifest_sha256,
            "final_looks": self.final_looks,
            "counts": self.counts,
            "strata": self.strata,
            "linked_sources": [list(u) for u in self.linked],
            "moved_to_design": list(self.moved_to_design),
            "seen_before": list(self.seen_before),
            "final_sources": list(self.final_sources),
            "design_sources": list(self.design_sources),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Split:
        """Read ``split.json``'s document."""
        return cls(seed=int(doc["seed"]), fraction=float(doc["fraction"]),
                   final_sources=tuple(doc["final_sources"]),
                   design_sources=tuple(doc["design_sources"]), created=str(doc["created"]),
                   final_looks=int(doc["final_looks"]), counts=dict(doc.get("counts", {})),
                   strata=dict(doc.get("strata", {})),
                   linked=tuple(tuple(u) for u in doc.get("linked_sources", [])),
                   moved_to_design=tuple(doc.get("moved_to_design", [])),
                   manifest_sha256=str(doc.get("manifest_sha256", "")),
                   max_unit=int(doc.get("max_unit", MAX_DRAWN_UNIT)),
                   seen_before=tuple(doc.get("seen_before", [])))


def source_strata(rows: Iterable[CorpusRow]) -> dict[str, tuple[str, str]]:
    """Each source's stratum: its majority label (ties: synthetic) and, for a synthetic
    source, the family most of its synthetic clips belong to (ties: the first by name);
    ``camera`` for a real one."""
    labels: dict[str, Counter[str]] = defaultdict(Counter)
    families: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        labels[r.source][r.label] += 1
        if r.label == "synthetic":
            families[r.source][r.family] += 1
    out: dict[str, tuple[str, str]] = {}
    for s, counts in labels.items():
        if counts["synthetic"] >= counts["real"]:
            fam = sorted(families[s].items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            out[s] = ("synthetic", fam)
        else:
            out[s] = ("real", REAL_FAMILY)
    return out


def _side_counts(rows: Sequence[CorpusRow], sources: set[str]) -> dict[str, int]:
    mine = [r for r in rows if r.source in sources]
    return {"sources": len(sources), "clips": len(mine),
            "real": sum(r.label == "real" for r in mine),
            "synthetic": sum(r.label == "synthetic" for r in mine),
            "groups": len({r.dup_group for r in mine})}


def lock_final_set(rows: Sequence[CorpusRow], seed: int, fraction: float = 1 / 3, *,
                   created: str | None = None, manifest_sha256: str = "",
                   max_unit: int = MAX_DRAWN_UNIT, seen: Iterable[str] = ()) -> Split:
    """Draw about ``fraction`` of the sources as the final set, reproducibly from ``seed``.

    Sources joined by a shared duplicate group (:func:`linked_sources`) are one unit, so a group
    never spans both sides. A unit of more than ``max_unit`` sources (footage reposted widely,
    such as the DAVIS clips every video editor ships) would swing the final set by itself: it
    stays on the design side, listed in ``moved_to_design``. So does every unit holding one of
    the ``seen`` sources (compared without case: sources earlier design work already looked
    at, which would make final numbers optimistic), listed in ``seen_before``. The other units
    are ordered by
    stratum (class and generator family of their largest source, :func:`source_strata`) and,
    inside a stratum, at random; systematic sampling from a random offset then takes every
    unit at which the running count passes a whole number, at the rate that makes the final
    set ``fraction`` of all sources. Each stratum gets its share to within one unit.
    """
    if not 0 < fraction < 1:
        raise ValueError("fraction must be between 0 and 1")
    rows = list(rows)
    if not rows:
        raise DetectorError("detector.bad-dataset", "an empty manifest cannot be split",
                            "merge the gatherers' parts first")
    strata = source_strata(rows)
    sizes = Counter(r.source for r in rows)
    units = [tuple(u) for u in linked_sources(rows)]
    kept = {s for u in units if len(u) > max_unit for s in u}
    looked = {x.lower() for x in seen}
    seen_units = {s for u in units if any(x.lower() in looked for x in u) for s in u}
    drawn = [u for u in units if len(u) <= max_unit and not set(u) & seen_units]
    rng = random.Random(seed)

    def unit_stratum(unit: Sequence[str]) -> tuple[str, str]:
        lead = sorted(unit, key=lambda s: (-sizes[s], s))[0]
        return strata[lead]

    by_stratum: dict[tuple[str, str], list[tuple[str, ...]]] = defaultdict(list)
    for u in drawn:
        by_stratum[unit_stratum(u)].append(u)
    ordered: list[tuple[str, ...]] = []
    for key in sorted(by_stratum):
        group = sorted(by_stratum[key])
        rng.shuffle(group)
        ordered.extend(group)
    offset = rng.random()
    n_drawn = sum(len(u) for u in drawn)
    rate = min(1.0, fraction * len(strata) / n_drawn) if n_drawn else 0.0
    final: set[str] = set()
    for k, unit in enumerate(ordered):
        if math.floor((k + 1) * rate + offset) > math.floor(k * rate + offset):
            final.update(unit)
    # The units make this redundant, but it is cheap: no duplicate group on both sides.
    for sources in groups_across_sources(rows).values():
        if len({s in final for s in sources}) > 1:
            kept.update(s for s in sources if s in final)
    final -= kept | seen_units
    design = set(strata) - final
    strata_counts: dict[str, dict[str, int]] = {}
    for key in sorted(set(strata.values())):
        members = [s for s, k in strata.items() if k == key]
        strata_counts[f"{key[0]} / {key[1]}"] = {
            "sources": len(members),
            "drawn_from": sum(s not in kept and s not in seen_units for s in members),
            "final": sum(s in final for s in members)}
    return Split(
        seed=seed, fraction=fraction, final_sources=tuple(sorted(final)),
        design_sources=tuple(sorted(design)),
        created=created or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        final_looks=0,
        counts={"final": _side_counts(rows, final), "design": _side_counts(rows, design)},
        strata=strata_counts, linked=tuple(u for u in units if len(u) > 1),
        moved_to_design=tuple(sorted(kept)), manifest_sha256=manifest_sha256,
        max_unit=max_unit, seen_before=tuple(sorted(seen_units)),
    )


def split_problems(split: Split, rows: Sequence[CorpusRow]) -> list[str]:
    """What is wrong between a split and the manifest (empty when they agree): every source on
    exactly one side, every side's source in the manifest, no duplicate group on both sides."""
    problems: list[str] = []
    final, design = set(split.final_sources), set(split.design_sources)
    for s in sorted(final & design):
        problems.append(f"{s} is on both sides")
    known = {r.source for r in rows}
    for s in sorted((final | design) - known):
        problems.append(f"{s} is in the split but not in the manifest")
    for s in sorted(known - final - design):
        problems.append(f"{s} is in the manifest but on neither side")
    for group, sources in groups_across_sources(rows).items():
        if {s in final for s in sources} == {True, False}:
            problems.append(f"duplicate group {group} spans both sides: {', '.join(sources)}")
    return problems


def write_split(path: str | os.PathLike[str], split: Split) -> None:
    """Write ``split.json`` atomically."""
    from veriframe._atomic import write_bytes_atomic

    write_bytes_atomic(path, (json.dumps(split.to_dict(), indent=1) + "\n").encode())


def load_split(path: str | os.PathLike[str]) -> Split:
    """Read ``split.json``."""
    return Split.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def record_final_look(path: str | os.PathLike[str]) -> int:
    """Count one more scoring of the final set in ``split.json``; returns the new count. Call
    it whenever final-set numbers are computed, so the card can say how often they were."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    doc["final_looks"] = int(doc.get("final_looks", 0)) + 1
    from veriframe._atomic import write_bytes_atomic

    write_bytes_atomic(path, (json.dumps(doc, indent=1) + "\n").encode())
    return int(doc["final_looks"])


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of a file (the manifest's digest recorded with the split)."""
    from veriframe._hashing import sha256_file

    return sha256_file(path)


__all__ = [
    "CONFIDENCES",
    "HASH_FRAMES",
    "HASH_RADIUS",
    "LABELS",
    "MANIFEST_COLUMNS",
    "PART_COLUMNS",
    "CorpusClip",
    "CorpusRow",
    "HashCache",
    "Split",
    "cached_path",
    "canonical_repos",
    "clip_hashes",
    "duplicate_groups",
    "file_sha256",
    "fold_groups",
    "frame_hash",
    "git_blob_id",
    "git_blob_id_of",
    "groups_across_sources",
    "holdout_violations",
    "linked_sources",
    "load_holdout",
    "load_manifest",
    "load_split",
    "lock_final_set",
    "near_duplicate_pairs",
    "parse_row",
    "read_rows",
    "record_final_look",
    "row_problems",
    "sort_rows",
    "source_strata",
    "sources_with_copies_of",
    "split_problems",
    "to_clips",
    "write_manifest",
    "write_split",
]
