"""The detector corpus: merge the gatherers' part files into the manifest, rebuild the clip cache
from it, lock the final set once, and print what the corpus holds.

    python benchmarks/corpus.py merge PART.csv|DIR ... [--cache ../shared/corpus]
    python benchmarks/corpus.py fetch [--cache ../shared/corpus] [--jobs 4]
    python benchmarks/corpus.py split            # once: refuses when split.json exists
    python benchmarks/corpus.py stats

The manifest is ``detectors/corpus/clips.csv`` and the split ``detectors/corpus/split.json``
(see ``detectors/corpus/README.md``). Clips live in the cache as ``<blob><ext>``, never in the
repository. The library side is ``veriframe.detect.lab.corpus``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import csv
import os
import secrets
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from veriframe.detect.lab import corpus as cp
from veriframe.detect.lab.dataset import default_cache_dir
from veriframe.errors import VeriframeError

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "detectors" / "corpus"
MANIFEST = CORPUS / "clips.csv"
SPLIT = CORPUS / "split.json"
HOLDOUT = CORPUS / "holdout.txt"
SHARED_HOLDOUT = REPO.parent / "shared" / "clips" / "HOLDOUT.txt"
DEFAULT_CACHE = REPO.parent / "shared" / "corpus"
# The clips the detector's features and settings were designed on before this corpus existed.
SEEN_INDEX = REPO.parent / "shared" / "clips" / "INDEX.csv"


def _say(text: str = "") -> None:
    print(text, flush=True)


# ------------------------------------------------------------------------------ merge
def _part_files(items: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for item in items:
        p = Path(item)
        files += sorted(p.glob("*.csv")) if p.is_dir() else [p]
    return files


def _holdout(paths: Sequence[Path]) -> frozenset[str]:
    names: set[str] = set()
    for p in paths:
        if p.is_file():
            names |= cp.load_holdout(p)
    return frozenset(names)


def cmd_merge(args: argparse.Namespace) -> int:
    cache = Path(args.cache)
    notes: dict[str, list[str]] = defaultdict(list)
    rows: list[cp.CorpusRow] = []
    for part in _part_files(args.parts):
        found, problems = cp.read_rows(part)
        rows += found
        notes["invalid row"] += problems
        _say(f"{part.name}: {len(found)} valid row(s), {len(problems)} invalid")
    rows = cp.canonical_repos(rows)
    holdout = _holdout([Path(p) for p in args.holdout])
    if not holdout:
        _say("error: no holdout list found (tried " + ", ".join(args.holdout) + ")")
        return 1
    banned = {id(r) for r in cp.holdout_violations(rows, holdout)}
    notes["holdout repository"] += [f"{r.repo}/{r.path}" for r in rows if id(r) in banned]
    rows = [r for r in rows if id(r) not in banned]

    kept: list[cp.CorpusRow] = []
    first: dict[str, cp.CorpusRow] = {}
    for r in rows:
        if r.blob in first:
            other = first[r.blob]
            notes["exact duplicate blob (first kept)"].append(
                f"{r.repo}/{r.path} = {other.repo}/{other.path}")
            continue
        path = cp.cached_path(r, cache)
        if not path.is_file():
            notes["not in the cache"].append(f"{r.repo}/{r.path} ({r.cache_name})")
            continue
        if path.stat().st_size != r.bytes or cp.git_blob_id(path) != r.blob:
            notes["cached file does not match its blob"].append(f"{r.repo}/{r.path}")
            continue
        first[r.blob] = r
        kept.append(r)

    hash_cache = cp.HashCache(args.hash_cache)
    hashed: list[cp.CorpusRow] = []
    hashes: list[tuple[int, ...]] = []
    for i, r in enumerate(kept):
        if i % 100 == 0:
            _say(f"hashing frames: {i}/{len(kept)}")
            hash_cache.save()  # a long run that stops keeps what it hashed
        try:
            hashes.append(hash_cache.get(r.blob, cp.cached_path(r, cache)))
        except VeriframeError as exc:
            notes["does not decode"].append(f"{r.repo}/{r.path}: {exc.code}")
            continue
        hashed.append(r)
    hash_cache.save()
    groups = cp.duplicate_groups([r.blob for r in hashed], hashes)
    from dataclasses import replace

    final = cp.sort_rows(replace(r, dup_group=g) for r, g in zip(hashed, groups, strict=True))
    cp.write_manifest(args.out, final)

    _say()
    for reason, items in notes.items():
        if not items:
            continue
        _say(f"dropped, {reason}: {len(items)}")
        for item in items[: args.show]:
            _say(f"  {item}")
        if len(items) > args.show:
            _say(f"  ... {len(items) - args.show} more")
    across = cp.groups_across_sources(final)
    by_group = Counter(r.dup_group for r in final)
    _say(f"duplicate groups: {len(by_group)} for {len(final)} clips; "
         f"{sum(n > 1 for n in by_group.values())} hold several clips, "
         f"{len(across)} span several sources")
    for g, sources in across.items():
        _say(f"  {g} ({by_group[g]} clips): {', '.join(sources)}")
    _say(f"wrote {args.out}: {len(final)} clips from {len({r.repo for r in final})} sources")
    return 0


# ------------------------------------------------------------------------------ fetch
def _fetch_one(client: object, row: cp.CorpusRow, cache: Path) -> str | None:
    """None when the clip is in the cache and correct afterwards, else why not."""
    import httpx

    assert isinstance(client, httpx.Client)
    dst = cp.cached_path(row, cache)
    if dst.is_file() and dst.stat().st_size == row.bytes and cp.git_blob_id(dst) == row.blob:
        return None
    try:
        resp = client.get(row.url)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if resp.status_code != 200:
        return f"HTTP {resp.status_code}"
    data = resp.content
    if data.startswith(b"version https://git-lfs"):
        return "a Git LFS pointer, not the clip"
    if cp.git_blob_id_of(data) != row.blob:
        return f"blob mismatch ({len(data)} bytes)"
    fd, tmp = tempfile.mkstemp(prefix=f".{row.blob}.", suffix=".part", dir=cache)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return None


def cmd_fetch(args: argparse.Namespace) -> int:
    import httpx

    rows = cp.load_manifest(args.manifest)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    present = sum(cp.cached_path(r, cache).is_file() for r in rows)
    _say(f"{len(rows)} clips in the manifest, {present} file(s) already in {cache}")
    failures: dict[str, str] = {}
    done = 0
    with httpx.Client(timeout=args.timeout, follow_redirects=True,
                      headers={"User-Agent": "veriframe-corpus-fetch"}) as client, \
            concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(_fetch_one, client, r, cache): r for r in rows}
        for fut in concurrent.futures.as_completed(futures):
            r = futures[fut]
            try:
                why = fut.result()
            except OSError as exc:
                why = f"cannot write: {exc}"
            if why:
                failures[f"{r.repo}/{r.path}"] = why
            done += 1
            if done % 100 == 0:
                _say(f"  {done}/{len(rows)}")
    _say(f"{len(rows) - len(failures)} of {len(rows)} clips in the cache and verified; "
         f"{len(failures)} failed")
    reasons = Counter(why.split(":")[0] for why in failures.values())
    for why, n in reasons.most_common():
        _say(f"  {n} x {why}")
    for where, why in sorted(failures.items())[: args.show]:
        _say(f"  {where}: {why}")
    return 1 if failures else 0


# ------------------------------------------------------------------------------ split
def _seen(args: argparse.Namespace, rows: list[cp.CorpusRow]) -> set[str]:
    """Sources earlier detector development looked at: those of the given clip indexes, and
    the corpus sources holding a copy of one of their clips."""
    hash_cache = cp.HashCache(args.hash_cache)
    seen: set[str] = set()
    seen_hashes: list[tuple[int, ...]] = []
    for index in map(Path, args.seen or [SEEN_INDEX]):
        if not index.is_file():
            _say(f"  (no {index}: its sources are not excluded from the final set)")
            continue
        with index.open(newline="", encoding="utf-8") as fh:
            entries = list(csv.DictReader(fh))
        for e in entries:
            seen.add(e["source_repo"])
            clip = index.parent / e["file"]
            try:
                seen_hashes.append(hash_cache.get(cp.git_blob_id(clip), clip))
            except (OSError, VeriframeError) as exc:
                _say(f"  cannot hash {clip}: {exc}")
        _say(f"  {index}: {len(entries)} clips from "
             f"{len({e['source_repo'] for e in entries})} sources seen before")
    if seen_hashes:
        row_hashes = [hash_cache.get(r.blob, cp.cached_path(r, args.cache)) for r in rows]
        copies = cp.sources_with_copies_of(rows, row_hashes, seen_hashes)
        extra = sorted(copies - {s for s in copies if s.lower() in {x.lower() for x in seen}})
        _say(f"  {len(extra)} more source(s) hold copies of those clips: {', '.join(extra)}")
        seen |= copies
    hash_cache.save()
    return seen


def cmd_split(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists():
        _say(f"error: {out} exists: the final set is drawn once and never again "
             "(delete it only if it was a trial that was never used)")
        return 2
    rows = cp.load_manifest(args.manifest)
    seen = _seen(args, rows)
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    split = cp.lock_final_set(rows, seed, args.fraction, seen=seen,
                              manifest_sha256=cp.file_sha256(args.manifest))
    problems = cp.split_problems(split, rows)
    if problems:
        _say("error: the split disagrees with the manifest: " + "; ".join(problems[:5]))
        return 1
    cp.write_split(out, split)
    _say(f"seed {seed}: wrote {out}")
    for side in ("design", "final"):
        c = split.counts[side]
        _say(f"  {side:6} {c['sources']:4} sources {c['clips']:5} clips "
             f"({c['real']} real, {c['synthetic']} synthetic)")
    if split.linked:
        _say(f"  {len(split.linked)} set(s) of sources joined by shared duplicates, drawn whole")
    if split.moved_to_design:
        _say(f"  kept on the design side, {len(split.moved_to_design)} sources joined by "
             f"footage shared by more than {split.max_unit}: "
             + ", ".join(split.moved_to_design))
    if split.seen_before:
        _say(f"  kept on the design side, {len(split.seen_before)} sources that earlier "
             "development looked at (or linked to one): " + ", ".join(split.seen_before))
    return 0


# ------------------------------------------------------------------------------ stats
def _table(title: str, counts: dict[str, tuple[set[str], Counter[str]]]) -> None:
    _say(title)
    _say(f"  {'':44} {'sources':>7} {'clips':>6} {'real':>5} {'synth':>5}")
    for key in sorted(counts, key=lambda k: (-len(counts[k][0]), k)):
        srcs, c = counts[key]
        _say(f"  {key[:44]:44} {len(srcs):7} {sum(c.values()):6} {c['real']:5} "
             f"{c['synthetic']:5}")


def cmd_stats(args: argparse.Namespace) -> int:
    rows = cp.load_manifest(args.manifest)
    split = cp.load_split(args.split) if Path(args.split).is_file() else None
    by: dict[str, dict[str, tuple[set[str], Counter[str]]]] = defaultdict(dict)
    for r in rows:
        keys = {"label": r.label, "family": r.family, "category": r.category or "(none)",
                "confidence": r.confidence}
        if split is not None:
            keys["side"] = split.side(r.repo)
        for table, key in keys.items():
            srcs, c = by[table].setdefault(key, (set(), Counter()))
            srcs.add(r.repo)
            c[r.label] += 1
    n_src = len({r.repo for r in rows})
    _say(f"{len(rows)} clips from {n_src} sources "
         f"({sum(r.label == 'real' for r in rows)} real, "
         f"{sum(r.label == 'synthetic' for r in rows)} synthetic)")
    strata = cp.source_strata(rows)
    _say(f"sources by majority class: {Counter(s[0] for s in strata.values()).most_common()}")
    mixed = {r.repo for r in rows if r.label == 'real'} & {r.repo for r in rows
                                                          if r.label == 'synthetic'}
    _say(f"sources holding both classes: {len(mixed)}")
    per_source = Counter(r.repo for r in rows)
    sizes = sorted(per_source.values())
    _say(f"clips per source: min {sizes[0]}, median {sizes[len(sizes) // 2]}, max {sizes[-1]}")
    groups = Counter(r.dup_group for r in rows)
    _say(f"duplicate groups: {len(groups)}; {sum(n > 1 for n in groups.values())} with several "
         f"clips; {len(cp.groups_across_sources(rows))} across sources")
    for table in ("label", "side", "family", "category", "confidence"):
        if table in by:
            _say()
            _table(f"by {table}", by[table])
    if split is not None:
        _say()
        _say(f"split: seed {split.seed}, created {split.created}, final looked at "
             f"{split.final_looks} time(s)")
        problems = cp.split_problems(split, rows)
        if problems:
            _say("split problems: " + "; ".join(problems[:10]))
            return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    m = sub.add_parser("merge", help="gatherers' part files -> the manifest")
    m.add_argument("parts", nargs="+", help="part CSV files or folders holding them")
    m.add_argument("--cache", default=str(DEFAULT_CACHE))
    m.add_argument("--out", default=str(MANIFEST))
    m.add_argument("--holdout", action="append",
                   default=[str(HOLDOUT), str(SHARED_HOLDOUT)],
                   help="holdout list(s); every one that exists is used")
    m.add_argument("--hash-cache", default=str(default_cache_dir() / "corpus-phash.json"))
    m.add_argument("--show", type=int, default=20, help="examples listed per drop reason")
    m.set_defaults(func=cmd_merge)

    f = sub.add_parser("fetch", help="rebuild the clip cache from the manifest (network)")
    f.add_argument("--manifest", default=str(MANIFEST))
    f.add_argument("--cache", default=str(DEFAULT_CACHE))
    f.add_argument("--jobs", type=int, default=4)
    f.add_argument("--timeout", type=float, default=60.0)
    f.add_argument("--show", type=int, default=20)
    f.set_defaults(func=cmd_fetch)

    s = sub.add_parser("split", help="lock the final set (once)")
    s.add_argument("--manifest", default=str(MANIFEST))
    s.add_argument("--out", default=str(SPLIT))
    s.add_argument("--seed", type=int, default=None,
                   help="default: a fresh secrets.randbits(32), recorded in the split")
    s.add_argument("--fraction", type=float, default=1 / 3)
    s.add_argument("--seen", action="append", default=None,
                   help="INDEX.csv of clips earlier detector work looked at (default: "
                        "../shared/clips/INDEX.csv): their sources, and sources holding copies "
                        "of their clips, stay on the design side")
    s.add_argument("--cache", default=str(DEFAULT_CACHE))
    s.add_argument("--hash-cache", default=str(default_cache_dir() / "corpus-phash.json"))
    s.set_defaults(func=cmd_split)

    t = sub.add_parser("stats", help="what the corpus holds")
    t.add_argument("--manifest", default=str(MANIFEST))
    t.add_argument("--split", default=str(SPLIT))
    t.set_defaults(func=cmd_stats)

    args = ap.parse_args(argv)
    try:
        return int(args.func(args))
    except VeriframeError as exc:
        _say(f"error[{exc.code}]: {exc.message}")
        if exc.hint:
            _say(f"  hint: {exc.hint}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
