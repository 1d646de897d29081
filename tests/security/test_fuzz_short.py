"""A short mutation-fuzzing run of ``verify`` (the long one is ``benchmarks/fuzz_verify.py``).

A few hundred mutated MP4/MOV/C2PA files through the same harness: no uncaught exception, no
native crash, no hang, no memory blow-up, nothing written beside the input or into the home.
"""

from __future__ import annotations

import os

import pytest
from benchmarks import fuzz_verify as fv

CASES = int(os.environ.get("VERIFRAME_FUZZ_SHORT_CASES", "200"))


@pytest.mark.timeout(240)
def test_short_fuzz_run_finds_nothing() -> None:
    # Small seeds only (the 1 MB public clips take seconds per case; the long run has them).
    cfg = fv.Campaign(cases=CASES, seconds_per_case=30.0, seed=20240607, jobs=2,
                      memory_mb=3072, detector=None, sample_count=8, out=None,
                      minimise=False, verbose=False, max_seed_bytes=300_000)
    summary = fv.run_campaign(cfg)
    assert summary.cases == CASES
    detail = "\n".join(f"case {f.index}: {f.signature()} {f.desc}\n{f.result.get('detail', '')}"
                       for f in summary.failures[:5])
    assert summary.failures == [], detail
    assert summary.home_changes == []
    # The run really exercised verify: several verdicts, and most cases were reports.
    assert sum(summary.verdicts.values()) == CASES
    assert len(summary.verdicts) >= 2, summary.verdicts
    assert "signed.mp4" in summary.seeds, summary.seeds
