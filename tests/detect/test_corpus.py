"""The corpus library: blob ids, part files, perceptual-hash duplicate groups, the locked split,
and the lab's clips built from a manifest."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from veriframe.detect.lab import corpus as cp
from veriframe.detect.lab.dataset import Clip
from veriframe.errors import DetectorError


def _blob(n: int) -> str:
    return hashlib.sha1(str(n).encode()).hexdigest()


def _row(repo: str, n: int, *, label: str = "synthetic", family: str = "Wan",
         dup: str = "") -> cp.CorpusRow:
    return cp.CorpusRow(
        repo=repo, commit="a" * 40, path=f"clips/{n}.mp4", blob=_blob(n), bytes=1000,
        label=label, confidence="high", family=family if label == "synthetic" else "camera",
        generator="", category="t2v", evidence="README says so", licence="MIT", width=640,
        height=480, fps=24.0, frames=49, codec="h264", dup_group=dup or f"d-{_blob(n)[:12]}")


# ------------------------------------------------------------------------------ blob ids
def test_git_blob_id_matches_git(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "hello").write_bytes(b"hello\n")
    assert cp.git_blob_id(tmp_path / "empty") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    assert cp.git_blob_id(tmp_path / "hello") == "ce013625030ba8dba906f756967f9e9ca394464a"
    assert cp.git_blob_id_of(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"
    data = np.random.default_rng(0).bytes(3 << 20)  # over one read chunk
    (tmp_path / "big").write_bytes(data)
    if shutil.which("git"):
        out = subprocess.run(["git", "hash-object", str(tmp_path / "big")], check=True,
                             capture_output=True, text=True).stdout.strip()
        assert cp.git_blob_id(tmp_path / "big") == out
    assert cp.git_blob_id(tmp_path / "big") == cp.git_blob_id_of(data)


# ------------------------------------------------------------------------------ rows
def test_row_problems_name_what_is_missing() -> None:
    good = _row("owner/name", 1).to_row()
    assert cp.row_problems(good) == []
    bad = {**good, "commit": "main", "blob": "A" * 40, "label": "fake", "evidence": " ",
           "repo": "name-only", "path": "../x.mp4"}
    text = " | ".join(cp.row_problems(bad))
    for word in ("commit", "blob", "label", "evidence", "repo", "path"):
        assert word in text
    assert cp.row_problems({**good, "path": "notes.txt"})
    assert cp.row_problems({**good, "label": "real", "family": "Wan"})


def test_read_rows_recovers_commas_in_paths_and_reports_the_rest(tmp_path: Path) -> None:
    row = _row("owner/name", 1).to_row()
    line = ",".join(row[c] for c in cp.PART_COLUMNS)
    comma = line.replace("clips/1.mp4", "a, b/clip, 2.mp4")
    broken = line.replace("README says so", "says, so")  # ambiguous: a comma in a text field
    part = tmp_path / "part.csv"
    part.write_text(",".join(cp.PART_COLUMNS) + "\n" + "\n".join([line, comma, broken]) + "\n")
    rows, problems = cp.read_rows(part)
    assert [r.path for r in rows] == ["clips/1.mp4", "a, b/clip, 2.mp4"]
    assert len(problems) == 1 and "part.csv:4" in problems[0]


def test_manifest_round_trip_and_validation(tmp_path: Path) -> None:
    rows = [_row("b/two", 2), replace(_row("a/one", 1), path="x,y.mp4")]
    path = tmp_path / "clips.csv"
    cp.write_manifest(path, rows)
    back = cp.load_manifest(path)
    assert [r.repo for r in back] == ["a/one", "b/two"]  # sorted
    assert back[0].path == "x,y.mp4"
    assert back == cp.sort_rows(rows)
    cp.write_manifest(path, [*rows, replace(rows[0], path="again.mp4")])
    with pytest.raises(DetectorError, match="listed twice"):
        cp.load_manifest(path)


def test_holdout_list_and_canonical_spelling(tmp_path: Path) -> None:
    hold = tmp_path / "HOLDOUT.txt"
    hold.write_text("# comment\nOwner/Held\n\n  other/x  # why\n")
    assert cp.load_holdout(hold) == {"owner/held", "other/x"}
    rows = cp.canonical_repos([_row("Owner/Free", 1), _row("owner/free", 2),
                               _row("owner/HELD", 3)])
    assert {r.repo for r in rows} == {"Owner/Free", "owner/HELD"}
    assert [r.blob for r in cp.holdout_violations(rows, cp.load_holdout(hold))] == [_blob(3)]


# ------------------------------------------------------------------------------ hashing
def _frames(seed: int, n: int = 24, h: int = 144, w: int = 192) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (6, 8, 3))
    base = np.kron(coarse, np.ones((h // 6, w // 8, 1)))
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for i in range(n):
        wave = 40 * np.sin((xx + 3 * i) / (9 + seed % 5)) * np.cos(yy / 17)
        out.append(np.clip(np.roll(base, 2 * i, axis=1) + wave[..., None], 0, 255))
    return np.array(out, dtype=np.uint8)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from veriframe.media import transcode, write_video

    d = tmp_path_factory.mktemp("corpus")
    a = d / "a.mp4"
    write_video(a, _frames(1), fps=12, crf=18, preset="veryfast")
    re1 = d / "a_crf34.mp4"
    transcode(a, re1, crf=34, preset="veryfast")
    re2 = d / "a_small.mp4"
    transcode(a, re2, crf=26, scale=(128, 96), preset="veryfast")
    b = d / "b.mp4"
    write_video(b, _frames(2), fps=12, crf=18, preset="veryfast")
    flat = d / "flat.mp4"
    write_video(flat, np.full((12, 144, 192, 3), 90, np.uint8), fps=12, preset="veryfast")
    return {"a": a, "re1": re1, "re2": re2, "b": b, "flat": flat}


def test_frame_hash_ignores_flat_frames() -> None:
    assert cp.frame_hash(np.full((120, 160), 16, np.uint8)) is None
    assert cp.frame_hash(np.zeros((8, 8), np.uint8)) is None
    h = cp.frame_hash(_frames(3)[0, ..., 0])
    assert h is not None and 0 <= h < 1 << 64


def test_reencodes_of_one_clip_group_together_and_other_clips_do_not(
        clips: dict[str, Path]) -> None:
    names = ["a", "re1", "re2", "b", "flat"]
    hashes = [cp.clip_hashes(clips[n]) for n in names]
    assert len(hashes[0]) == cp.HASH_FRAMES
    assert hashes[4] == ()  # a flat clip has nothing to compare
    blobs = [_blob(i + 1) for i in range(len(names))]
    groups = cp.duplicate_groups(blobs, hashes)
    assert groups[0] == groups[1] == groups[2]
    assert groups[3] != groups[0]
    assert groups[4] not in groups[:4]
    assert groups[0] == f"d-{blobs[0][:12]}"  # named after the smallest blob


def test_exact_blobs_group_even_without_hashes() -> None:
    groups = cp.duplicate_groups([_blob(5), _blob(6), _blob(5)], [(), (), ()])
    assert groups[0] == groups[2] != groups[1]


def test_a_trimmed_copy_is_found_in_the_longer_clip() -> None:
    rng = np.random.default_rng(0)
    long = [int(x) for x in rng.integers(0, 1 << 62, 8)]
    short = long[2:5]  # three frames of the long clip, nothing else
    other = [int(x) for x in rng.integers(0, 1 << 62, 8)]
    assert cp.near_duplicate_pairs([long, short, other]) == [(0, 1)]


def test_hash_cache_keeps_hashes_by_blob(tmp_path: Path, clips: dict[str, Path]) -> None:
    cache = cp.HashCache(tmp_path / "h.json")
    first = cache.get("b1", clips["a"])
    cache.save()
    again = cp.HashCache(tmp_path / "h.json")
    assert again.get("b1", Path("/nonexistent")) == first  # served from the file


# ------------------------------------------------------------------------------ split
def _corpus() -> list[cp.CorpusRow]:
    rows: list[cp.CorpusRow] = []
    n = 0
    families = ["Wan"] * 12 + ["Kling"] * 9 + ["Sora"] * 6 + ["unknown (x/y)"] * 3
    for i, fam in enumerate(families):
        for _ in range(3):
            n += 1
            rows.append(_row(f"syn/{i:02d}", n, family=fam))
    for i in range(30):
        for _ in range(2 + i % 3):
            n += 1
            rows.append(_row(f"real/{i:02d}", n, label="real"))
    # One footage reposted in three sources (two real, one synthetic), and a mixed source.
    shared = "d-shared000000"
    for repo in ("real/03", "real/17", "syn/05"):
        n += 1
        rows.append(_row(repo, n, label="real", dup=shared))
    n += 1
    rows.append(_row("syn/20", n, label="real"))
    return rows


def test_split_is_deterministic_for_a_seed() -> None:
    rows = _corpus()
    a = cp.lock_final_set(rows, 1234, created="t")
    b = cp.lock_final_set(list(reversed(rows)), 1234, created="t")
    assert a.to_dict() == b.to_dict()
    others = {cp.lock_final_set(rows, s, created="t").final_sources for s in range(5)}
    assert len(others) > 1


def test_split_is_stratified_by_class_and_family() -> None:
    rows = _corpus()
    strata = cp.source_strata(rows)
    for seed in range(20):
        split = cp.lock_final_set(rows, seed)
        assert cp.split_problems(split, rows) == []
        final = set(split.final_sources)
        n_sources = len(strata)
        assert abs(len(final) - n_sources / 3) <= 3  # units of 3 linked sources move together
        for key in set(strata.values()):
            members = [s for s, k in strata.items() if k == key]
            share = sum(s in final for s in members)
            assert abs(share - len(members) / 3) <= 3, (seed, key, share, len(members))
        assert set(split.final_sources) | set(split.design_sources) == set(strata)
        assert split.final_looks == 0 and split.seed == seed


def test_split_keeps_duplicate_groups_whole() -> None:
    rows = _corpus()
    linked = {"real/03", "real/17", "syn/05"}
    sides = set()
    for seed in range(30):
        split = cp.lock_final_set(rows, seed)
        assert linked in [set(u) for u in split.linked]
        on_final = {s in split.final_sources for s in linked}
        assert len(on_final) == 1
        sides |= on_final
    assert sides == {True, False}  # the linked unit is drawn like any other


def test_split_problems_catch_a_broken_split() -> None:
    rows = _corpus()
    split = cp.lock_final_set(rows, 7)
    final = list(split.final_sources)
    design = list(split.design_sources)
    broken = replace(split, final_sources=(*final, design[0]), design_sources=tuple(design))
    assert any("both sides" in p for p in cp.split_problems(broken, rows))
    spanning = (set(final) | {"real/03"}) - {"real/17", "syn/05"}
    everyone = set(final) | set(design)
    broken = replace(split, final_sources=tuple(sorted(spanning)),
                     design_sources=tuple(sorted(everyone - spanning)))
    assert any("spans both sides" in p for p in cp.split_problems(broken, rows))
    assert any("neither side" in p
               for p in cp.split_problems(replace(split, final_sources=()), rows))


def test_split_file_round_trip_and_final_looks(tmp_path: Path) -> None:
    rows = _corpus()
    split = cp.lock_final_set(rows, 99, manifest_sha256="0" * 64)
    path = tmp_path / "split.json"
    cp.write_split(path, split)
    doc = json.loads(path.read_text())
    assert doc["final_looks"] == 0 and doc["seed"] == 99
    assert doc["counts"]["final"]["clips"] + doc["counts"]["design"]["clips"] == len(rows)
    assert cp.load_split(path) == split
    assert cp.record_final_look(path) == 1
    assert cp.load_split(path).final_looks == 1


# ------------------------------------------------------------------------------ clips
def test_to_clips_gives_the_labs_clips(tmp_path: Path) -> None:
    rows = [_row("a/one", 1, family="Kling", dup="d-x"), _row("b/two", 2, label="real",
                                                               dup="d-x"),
            _row("c/three", 3, label="real")]
    for r in rows[:2]:
        (tmp_path / r.cache_name).write_bytes(b"x")
    with pytest.raises(DetectorError, match="not in"):
        cp.to_clips(rows, tmp_path)
    clips = cp.to_clips(rows, tmp_path, missing="skip")
    assert all(isinstance(c, Clip) for c in clips)
    assert [(c.group, c.label, c.family, c.dup_group) for c in clips] == [
        ("a/one", 1, "Kling", "d-x"), ("b/two", 0, "real", "d-x")]
    assert clips[0].path == tmp_path / f"{_blob(1)}.mp4"
    (tmp_path / rows[2].cache_name).write_bytes(b"x")
    keys = cp.fold_groups(cp.to_clips(rows, tmp_path))
    assert keys == ["a/one + b/two", "a/one + b/two", "c/three"]
    assert Counter(keys)["c/three"] == 1


def test_a_widely_shared_footage_keeps_its_sources_on_the_design_side() -> None:
    rows = _corpus()
    wide = [f"real/{i:02d}" for i in range(0, 14, 2)]  # seven sources, one footage
    n = 10_000
    for repo in wide:
        n += 1
        rows.append(_row(repo, n, label="real", dup="d-wide00000000"))
    for seed in range(10):
        split = cp.lock_final_set(rows, seed)
        assert set(wide) <= set(split.design_sources)
        assert set(wide) <= set(split.moved_to_design)
        assert abs(len(split.final_sources) - len(cp.source_strata(rows)) / 3) <= 3
        assert cp.split_problems(split, rows) == []


# ------------------------------------------------------------------------------ the script
def test_corpus_script_merge_split_stats_and_fetch(tmp_path: Path, clips: dict[str, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import httpx
    from benchmarks import corpus as script

    cache = tmp_path / "cache"
    cache.mkdir()
    blobs = {}
    for name in ("a", "re1", "b"):
        blobs[name] = cp.git_blob_id(clips[name])
        shutil.copy(clips[name], cache / f"{blobs[name]}.mp4")

    def line(repo: str, name: str, label: str = "real") -> str:
        r = replace(_row(repo, 1, label=label), path=f"v/{name}.mp4", blob=blobs[name],
                    bytes=clips[name].stat().st_size)
        return ",".join(r.to_row()[c] for c in cp.PART_COLUMNS)

    part = tmp_path / "part.csv"
    part.write_text("\n".join([
        ",".join(cp.PART_COLUMNS), line("x/one", "a"), line("y/two", "re1"),
        line("y/two", "b", "synthetic"), line("z/three", "a"), line("Held/Out", "b"),
    ]) + "\n")
    hold = tmp_path / "HOLDOUT.txt"
    hold.write_text("held/out\n")
    out = tmp_path / "clips.csv"
    assert script.main(["merge", str(part), "--cache", str(cache), "--out", str(out),
                        "--holdout", str(hold), "--hash-cache", str(tmp_path / "h.json")]) == 0
    text = capsys.readouterr().out
    assert "exact duplicate blob (first kept): 1" in text
    assert "holdout repository: 1" in text
    rows = cp.load_manifest(out)
    assert [(r.repo, r.path) for r in rows] == [("x/one", "v/a.mp4"), ("y/two", "v/b.mp4"),
                                                ("y/two", "v/re1.mp4")]
    assert rows[0].dup_group == rows[2].dup_group != rows[1].dup_group

    split = tmp_path / "split.json"
    seen = tmp_path / "seen" / "INDEX.csv"
    seen.parent.mkdir()
    shutil.copy(clips["b"], seen.parent / "old.mp4")
    seen.write_text("file,label,source_repo\nold.mp4,real,old/repo\n")
    args = ["--manifest", str(out), "--cache", str(cache), "--seen", str(seen),
            "--hash-cache", str(tmp_path / "h.json")]
    assert script.main(["split", *args, "--out", str(split), "--seed", "5"]) == 0
    assert script.main(["split", *args, "--out", str(split)]) == 2
    locked = cp.load_split(split)
    assert locked.manifest_sha256 == cp.file_sha256(out)
    # y/two holds a copy of a clip seen before, and x/one shares footage with y/two.
    assert locked.seen_before == ("x/one", "y/two") and locked.final_sources == ()
    assert script.main(["stats", "--manifest", str(out), "--split", str(split)]) == 0

    served = {rows[0].url: clips["a"].read_bytes(), rows[1].url: b"not the clip"}

    def handler(request: httpx.Request) -> httpx.Response:
        body = served.get(str(request.url))
        return httpx.Response(200, content=body) if body else httpx.Response(404)

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        assert script._fetch_one(client, rows[0], fresh) is None
        assert cp.git_blob_id(fresh / rows[0].cache_name) == rows[0].blob
        assert script._fetch_one(client, rows[0], fresh) is None  # present: not fetched again
        assert "blob mismatch" in (script._fetch_one(client, rows[1], fresh) or "")
        assert script._fetch_one(client, rows[2], fresh) == "HTTP 404"
    assert sorted(p.name for p in fresh.iterdir()) == [rows[0].cache_name]


def test_sources_seen_before_and_their_linked_sources_stay_in_design() -> None:
    rows = _corpus()
    for seed in range(10):
        split = cp.lock_final_set(rows, seed, seen={"REAL/17", "syn/00"})
        assert {"real/03", "real/17", "syn/05", "syn/00"} <= set(split.design_sources)
        assert set(split.seen_before) == {"real/03", "real/17", "syn/05", "syn/00"}
        assert abs(len(split.final_sources) - len(cp.source_strata(rows)) / 3) <= 3
    rows2 = [_row("a/one", 1), _row("b/two", 2)]
    h = [tuple(int(x) for x in np.random.default_rng(k).integers(0, 1 << 62, 4)) for k in (1, 2)]
    assert cp.sources_with_copies_of(rows2, h, [h[1]]) == {"b/two"}
