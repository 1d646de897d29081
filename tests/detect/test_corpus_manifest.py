"""The committed detector corpus (``detectors/corpus``): every clip pinned and labelled with
evidence, no holdout repository, the locked split consistent with the manifest and no duplicate
group on both of its sides. Runs without the clips themselves (nothing here reads ../shared,
except the check that the committed holdout list is still the shared one)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from benchmarks.corpus import HOLDOUT, MANIFEST, SHARED_HOLDOUT, SPLIT

from veriframe.detect.lab import corpus as cp

# What issue 26 asks of the corpus.
MIN_SOURCES = 150
MIN_CLIPS = 1500

HEX40 = re.compile(r"^[0-9a-f]{40}$")
REPO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$")


@pytest.fixture(scope="module")
def rows() -> list[cp.CorpusRow]:
    return cp.load_manifest(MANIFEST)  # validates every row, or raises


@pytest.fixture(scope="module")
def split() -> cp.Split:
    return cp.load_split(SPLIT)


def test_every_row_is_pinned_and_labelled_with_evidence(rows: list[cp.CorpusRow]) -> None:
    assert rows
    for r in rows:
        where = f"{r.repo}/{r.path}"
        assert REPO_NAME.match(r.repo), where
        assert HEX40.match(r.commit), where
        assert HEX40.match(r.blob), where
        assert r.path and not r.path.startswith("/"), where
        assert r.label in ("real", "synthetic"), where
        assert r.evidence.strip(), where
        assert r.family.strip(), where
        assert r.dup_group.startswith("d-"), where
    assert len({r.blob for r in rows}) == len(rows)
    assert len({(r.repo, r.commit, r.path) for r in rows}) == len(rows)


def test_manifest_is_in_canonical_order_with_one_spelling_per_repository(
        rows: list[cp.CorpusRow]) -> None:
    assert rows == cp.sort_rows(rows)
    spellings: dict[str, set[str]] = {}
    for r in rows:
        spellings.setdefault(r.repo.lower(), set()).add(r.repo)
    assert all(len(s) == 1 for s in spellings.values())


def test_no_holdout_repository(rows: list[cp.CorpusRow]) -> None:
    holdout = cp.load_holdout(HOLDOUT)
    assert len(holdout) >= 10  # the list itself must not go missing
    assert [f"{r.repo}/{r.path}" for r in cp.holdout_violations(rows, holdout)] == []


def test_committed_holdout_list_is_the_shared_one() -> None:
    if not SHARED_HOLDOUT.is_file():
        pytest.skip(f"{SHARED_HOLDOUT} is absent (a checkout without ../shared): the "
                    "committed copy detectors/corpus/holdout.txt is used on its own")
    assert cp.load_holdout(HOLDOUT) == cp.load_holdout(SHARED_HOLDOUT)


def test_every_source_is_on_exactly_one_side(rows: list[cp.CorpusRow], split: cp.Split) -> None:
    final, design = set(split.final_sources), set(split.design_sources)
    sources = {r.repo for r in rows}
    assert not final & design
    assert final | design == sources
    assert final and design


def test_no_duplicate_group_is_split_between_design_and_final(
        rows: list[cp.CorpusRow], split: cp.Split) -> None:
    final = set(split.final_sources)
    sides: dict[str, set[bool]] = {}
    for r in rows:
        sides.setdefault(r.dup_group, set()).add(r.repo in final)
    assert [g for g, s in sides.items() if len(s) > 1] == []
    assert cp.split_problems(split, rows) == []


def test_split_records_its_draw(rows: list[cp.CorpusRow], split: cp.Split) -> None:
    assert 0 <= split.seed < 1 << 32
    assert split.created
    assert split.final_looks >= 0
    assert 0.2 <= len(split.final_sources) / len({r.repo for r in rows}) <= 0.45
    labels = Counter(r.label for r in rows if r.repo in set(split.final_sources))
    assert labels["real"] > 0 and labels["synthetic"] > 0
    assert split.counts["final"]["clips"] + split.counts["design"]["clips"] == len(rows)


def test_corpus_meets_the_issue_26_size_target(rows: list[cp.CorpusRow]) -> None:
    """At least 150 sources and 1,500 clips (fails while the corpus is smaller: intended)."""
    n_sources = len({r.repo for r in rows})
    assert n_sources >= MIN_SOURCES, f"{n_sources} sources, the target is {MIN_SOURCES}"
    assert len(rows) >= MIN_CLIPS, f"{len(rows)} clips, the target is {MIN_CLIPS}"
