"""Public C2PA test files: veriframe's state is the reference's (c2pa-rs) for every one.

Two corpora: the shared one (``../shared/c2pa/INDEX.csv``) and the extended one
(``corpus_extended.csv``: 100 more files from c2pa-rs, c2pa-python and
c2pa-org/public-testfiles, pinned by commit and SHA-256, fetched into a cache outside the
repository by ``python -m tests.credentials.fetch_corpus``; its tests skip, saying so, when
the cache is absent). No trust anchors are configured. Files that must fail give ``error`` or
``invalid`` with a code, never an exception or a hang; each file is read well inside a second.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from tests.credentials import fetch_corpus
from veriframe.credentials.read import read_credentials
from veriframe.credentials.trust import TrustConfig
from veriframe.credentials.validation import counts
from veriframe.results import CredentialState

SHARED_C2PA = Path(__file__).resolve().parents[2] / ".." / "shared" / "c2pa"


def _rows() -> list[dict[str, str]]:
    index = SHARED_C2PA / "INDEX.csv"
    if not index.is_file():
        return []
    with open(index, newline="") as fh:
        return list(csv.DictReader(fh))


ROWS = _rows()


@pytest.mark.skipif(not ROWS, reason="../shared/c2pa/INDEX.csv not found")
@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_conformance_row(row: dict[str, str]) -> None:
    path = SHARED_C2PA / row["file"]
    t0 = time.perf_counter()
    check = read_credentials(path, trust=TrustConfig.none(), timeout_s=20)
    elapsed = time.perf_counter() - t0
    assert elapsed < 5.0, f"{row['file']} took {elapsed:.2f} s"
    expected = CredentialState(row["expected_state"])
    assert check.state is expected, (check.state, check.failures, check.error)
    if expected in (CredentialState.VALID, CredentialState.INVALID):
        assert check.reference_state == expected.value  # c2pa-rs agrees, and so do we
        assert check.stricter_than_reference is None
    if expected is CredentialState.INVALID:
        codes = [f.code for f in check.failures]
        assert codes and "signingCredential.untrusted" not in codes
        # The first code c2pa-rs reported (besides "untrusted") is among ours.
        listed = [c for c in row["failure_codes"].split() if "untrusted" not in c]
        assert listed[0] in codes, (listed, codes)
        assert check.manifest is None and check.signer is None
    elif expected is CredentialState.ERROR:
        assert check.error and check.error.code.startswith("credentials.")
        assert check.error.message and check.error.hint
    elif expected in (CredentialState.VALID, CredentialState.TRUSTED):
        assert check.failures == () and check.manifest is not None and check.signer is not None
    assert check.to_dict()["state"] == expected.value


@pytest.mark.skipif(not ROWS, reason="../shared/c2pa/INDEX.csv not found")
def test_conformance_error_codes_are_specific() -> None:
    codes = {}
    for row in ROWS:
        if row["expected_state"] == "error":
            check = read_credentials(SHARED_C2PA / row["file"], trust=TrustConfig.none())
            codes[row["file"]] = check.error.code if check.error else None
    expected = {
        "nested_moov_1000.mp4": "credentials.unreadable",
        "sample3.invalid.wav": "credentials.unreadable",
        "no_alg.jpg": "credentials.unsupported-algorithm",
        "prerelease.jpg": "credentials.unsupported-version",
        "cloud.jpg": "credentials.remote-manifest",
    }
    assert {k: v for k, v in codes.items() if k in expected} == expected


EXTENDED = fetch_corpus.rows()
CACHE = fetch_corpus.cache_dir()
_NO_CACHE = (f"the extended C2PA corpus is not in {CACHE}: run `python -m "
             "tests.credentials.fetch_corpus` where GitHub can be reached (or set "
             "VERIFRAME_C2PA_CORPUS)")


@pytest.mark.skipif(not CACHE.is_dir(), reason=_NO_CACHE)
@pytest.mark.parametrize("row", EXTENDED, ids=[r.name for r in EXTENDED])
def test_extended_conformance(row: fetch_corpus.Row) -> None:
    path = CACHE / row.name
    if not path.is_file():
        pytest.skip(f"{row.name} is missing from the cache: {_NO_CACHE}")
    assert fetch_corpus.sha256(path.read_bytes()) == row.sha256, (
        f"{path} is not the pinned file: delete it and fetch again")
    t0 = time.perf_counter()
    check = read_credentials(path, trust=TrustConfig.none(), timeout_s=20)
    assert time.perf_counter() - t0 < 5.0
    # the pinned expectation is still what the installed c2pa-rs says...
    live, _codes = fetch_corpus.reference_state(path)
    assert live == row.expected_state, f"c2pa-rs now says {live}: re-pin with --reference"
    # ...and veriframe says the same
    assert check.state.value == row.expected_state, (check.state, check.failures, check.error)
    if row.expected_state in ("valid", "trusted", "invalid"):
        assert check.reference_state == row.expected_state
        assert check.stricter_than_reference is None
    if row.expected_state == "invalid":
        assert check.failures and all(counts(f.code) for f in check.failures)
        assert check.manifest is None and check.signer is None
        failing_ingredients = [c for c in row.reference_codes.split()
                               if c.startswith("ingredient:") and counts(c.split(":", 1)[1])]
        if failing_ingredients:  # named, with the codes c2pa-rs found in them
            assert check.ingredient_failures
            named = {i.code for f in check.ingredient_failures for i in f.failures}
            assert {c.split(":", 1)[1] for c in failing_ingredients} <= named
            assert all(f.title or f.ingredient_label for f in check.ingredient_failures)
        else:
            assert check.active_manifest_result is not None
            assert check.active_manifest_result.failures
    elif row.expected_state == "valid":
        assert check.failures == () and check.signer is not None and check.chain is not None
    elif row.expected_state == "error":
        assert check.error and check.error.code.startswith("credentials.")
        assert check.error.message and check.error.hint
    assert check.to_dict()["state"] == row.expected_state


def test_extended_corpus_index_is_pinned() -> None:
    """Every row names a commit and a digest, and the files are distinct."""
    assert len(EXTENDED) == 100
    assert len({r.sha256 for r in EXTENDED}) == len(EXTENDED)
    for r in EXTENDED:
        assert len(r.commit) == 40 and len(r.sha256) == 64 and r.size > 0
        assert r.expected_state in ("valid", "invalid", "absent", "error")
        assert r.license
