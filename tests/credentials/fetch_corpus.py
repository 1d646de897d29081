"""Fetch the extended C2PA conformance corpus into a cache outside the repository.

The files are public test files of c2pa-rs (``sdk/tests/fixtures``, ``cli/tests/fixtures``,
the CAWG identity fixtures), c2pa-python (``tests/fixtures``) and c2pa-org/public-testfiles,
each pinned to a commit and a SHA-256 in ``corpus_extended.csv`` beside this script. None is
committed here (the public-testfiles are CC BY-SA 4.0; the SDK fixtures come under their
repositories' MIT OR Apache-2.0 licence): ``tests/credentials/test_conformance.py`` reads them
from the cache and skips, saying so, when they are absent (CI has no internet beyond the
package registries; run this where there is).

    python -m tests.credentials.fetch_corpus              # download from GitHub (pinned)
    python -m tests.credentials.fetch_corpus --git contentauth/c2pa-rs=/path/to/c2pa-rs/.git
    python -m tests.credentials.fetch_corpus --reference  # c2pa-rs's state of each file
    python -m tests.credentials.fetch_corpus --reference --write   # ... into the CSV

The cache is ``$VERIFRAME_C2PA_CORPUS`` or ``.cache/veriframe-c2pa-corpus`` beside the
checkout; files keep their repository paths under ``<owner>/<name>/``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
INDEX = HERE / "corpus_extended.csv"
REPO = HERE.parents[1]
DEFAULT_CACHE = REPO.parent / ".cache" / "veriframe-c2pa-corpus"
COLUMNS = ("source_repo", "commit", "path", "sha256", "size", "license", "expected_state",
           "reference_codes")
RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


@dataclass(frozen=True)
class Row:
    """One pinned file of the corpus."""

    source_repo: str
    commit: str
    path: str
    sha256: str
    size: int
    license: str
    expected_state: str
    reference_codes: str

    @property
    def name(self) -> str:
        """``owner/name/path``: where the file sits in the cache, and the test id."""
        return f"{self.source_repo}/{self.path}"


def cache_dir() -> Path:
    """Where the corpus is cached (``$VERIFRAME_C2PA_CORPUS`` overrides the default)."""
    env = os.environ.get("VERIFRAME_C2PA_CORPUS")
    return Path(env).expanduser() if env else DEFAULT_CACHE


def rows() -> list[Row]:
    """The rows of ``corpus_extended.csv``."""
    with open(INDEX, newline="") as fh:
        return [Row(**{**r, "size": int(r["size"])}) for r in csv.DictReader(fh)]


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _write_atomic(dst: Path, data: bytes) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".part-", dir=dst.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _from_git(git_dir: str, row: Row) -> bytes:
    return subprocess.run(["git", "--git-dir", git_dir, "show", f"{row.commit}:{row.path}"],
                          check=True, capture_output=True).stdout


def _download(row: Row) -> bytes:
    url = RAW.format(repo=row.source_repo, commit=row.commit, path=row.path)
    with urllib.request.urlopen(url, timeout=60) as resp:
        return bytes(resp.read(row.size + 1))


def fetch(cache: Path, git_dirs: dict[str, str]) -> int:
    """Put every row's file into ``cache``; returns the number of failures."""
    failed = 0
    for row in rows():
        dst = cache / row.name
        if dst.is_file() and sha256(dst.read_bytes()) == row.sha256:
            continue
        try:
            data = (_from_git(git_dirs[row.source_repo], row) if row.source_repo in git_dirs
                    else _download(row))
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"FAILED {row.name}: {exc}", file=sys.stderr)
            failed += 1
            continue
        if sha256(data) != row.sha256:
            print(f"FAILED {row.name}: SHA-256 differs from the pinned one", file=sys.stderr)
            failed += 1
            continue
        _write_atomic(dst, data)
        print(f"fetched {row.name}", file=sys.stderr)
    return failed


def reference_state(path: Path) -> tuple[str, str]:
    """What c2pa-rs says of ``path`` under veriframe's settings: (state, codes).

    ``state`` is ``trusted``/``valid``/``invalid`` from ``Reader.get_validation_state()``,
    ``absent`` when it finds no manifest, ``error`` when it cannot read the file; ``codes``
    are its failure codes (ingredient ones prefixed ``ingredient:``) or its error.
    """
    import c2pa

    from veriframe.credentials.trust import TrustConfig

    hint = {".svg": "image/svg+xml"}.get(path.suffix.lower())
    try:
        with open(path, "rb") as fh:
            ctx = TrustConfig.none().context()
            reader = c2pa.Reader(hint, fh, context=ctx) if hint else c2pa.Reader(fh, context=ctx)
            try:
                state = str(reader.get_validation_state()).lower()
                results = reader.get_validation_results() or {}
            finally:
                reader.close()
    except c2pa.C2paError.ManifestNotFound:
        return "absent", ""
    except c2pa.C2paError as exc:
        return "error", str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
    codes = [f["code"] for f in (results.get("activeManifest") or {}).get("failure", [])]
    for delta in results.get("ingredientDeltas") or []:
        codes += [f"ingredient:{f['code']}" for f in
                  (delta.get("validationDeltas") or {}).get("failure", [])]
    return state, " ".join(dict.fromkeys(codes))


def reference(cache: Path, *, write: bool) -> int:
    """Print c2pa-rs's state of every cached file next to the CSV; ``write`` updates it."""
    updated: list[Row] = []
    differ = 0
    for row in rows():
        path = cache / row.name
        if not path.is_file():
            print(f"missing  {row.name}")
            updated.append(row)
            continue
        state, codes = reference_state(path)
        mark = "" if state == row.expected_state else f"   (CSV says {row.expected_state})"
        differ += bool(mark)
        print(f"{state:8s} {row.name} {codes}{mark}")
        updated.append(Row(**{**row.__dict__, "expected_state": state,
                              "reference_codes": codes}))
    if write:
        with open(INDEX, "w", newline="") as fh:
            out = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
            out.writeheader()
            for row in updated:
                out.writerow(row.__dict__)
    return differ


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="cache folder")
    parser.add_argument("--git", action="append", default=[], metavar="OWNER/NAME=GIT_DIR",
                        help="read that repository's files from a local git directory")
    parser.add_argument("--reference", action="store_true",
                        help="print c2pa-rs's state of each cached file")
    parser.add_argument("--write", action="store_true",
                        help="with --reference: write the states into the CSV")
    args = parser.parse_args(argv)
    cache = args.cache or cache_dir()
    if args.reference:
        return 1 if reference(cache, write=args.write) and not args.write else 0
    git_dirs = dict(g.split("=", 1) for g in args.git)
    failed = fetch(cache, git_dirs)
    print(f"{len(rows()) - failed} of {len(rows())} files in {cache}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
