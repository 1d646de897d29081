"""Public C2PA test files (../shared/c2pa/INDEX.csv): the expected state for every row.

No trust anchors are configured, as the index assumes. Files that must fail give ``error``
or ``invalid`` with a code, never an exception or a hang; each file is read well inside a
second.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from veriframe.credentials.read import read_credentials
from veriframe.credentials.trust import TrustConfig
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
