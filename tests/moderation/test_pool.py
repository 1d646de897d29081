"""The review pool: completion order, bounded window, crashes and hangs become error rows."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.moderation.helpers import ScriptedModerator
from veriframe.moderation import ModerationResult


def test_review_maps_failures_to_fail_closed_results() -> None:
    mod = ScriptedModerator("platform", detector=None)
    ok = mod.review("/x/kind-tampered.mp4")
    assert (ok.state, ok.verdict, ok.label, ok.action) == ("ok", "tampered", "tampered", "review")
    bad = mod.review("/x/boom.mp4")
    assert (bad.state, bad.verdict, bad.action) == ("error", "error", "review")
    assert bad.error is not None and bad.error.code == "internal"
    err = mod.review("/x/kind-error.mp4")
    assert (err.state, err.label, err.action) == ("error", "error", "review")
    strict = ScriptedModerator("strict", detector=None).review("/x/boom.mp4")
    assert strict.action == "block"


def test_budget_in_process() -> None:
    mod = ScriptedModerator("platform", detector=None, timeout_s=0.3)
    start = time.perf_counter()
    res = mod.review("/x/hang.mp4")
    assert time.perf_counter() - start < 5
    assert res.state == "error" and res.error is not None
    assert res.error.code == "scan.timeout" and res.action == "review"


def test_row_is_flat_and_json_ready() -> None:
    row = ScriptedModerator("platform", detector=None).review("/x/kind-recovered.mp4").to_dict()
    assert row["schema"] == "veriframe.scan/1"
    assert all(v is None or isinstance(v, (str, int, float)) for v in row.values())
    assert row["recovered_state"] == "recovered" and row["payload_id"] == "00112233aabbccdd"
    assert row["label"] == "ai-generated" and row["action"] == "label"
    from veriframe.moderation import ROW_TYPES

    assert list(row) == list(ROW_TYPES)
    json.dumps(row, allow_nan=False)


def test_review_many_survives_crashes_and_hangs() -> None:
    mod = ScriptedModerator("platform", detector=None, timeout_s=1.0)
    paths = [f"/x/{i:02d}-kind-absent.mp4" for i in range(6)]
    paths[2] = "/x/02-crash.mp4"
    paths[4] = "/x/04-boom.mp4"
    paths.insert(3, "/x/03-hang.mp4")
    results = list(mod.review_many(iter(paths), workers=2, window=3))
    by_path = {r.path: r for r in results}
    assert sorted(by_path) == sorted(paths)  # every file exactly once
    assert len(results) == len(paths)
    crash = by_path["/x/02-crash.mp4"]
    assert crash.state == "error" and crash.error.code == "scan.worker-crashed"
    assert crash.action == "review"
    hang = by_path["/x/03-hang.mp4"]
    assert hang.error.code == "scan.timeout" and hang.action == "review"
    assert by_path["/x/04-boom.mp4"].error.code == "internal"
    good = [r for r in results if "kind-absent" in r.path]
    assert len(good) == 4 and all(r.state == "ok" and r.label == "no-provenance" for r in good)


def test_review_many_window_pulls_lazily() -> None:
    mod = ScriptedModerator("platform", detector=None)
    pulled = 0

    def source():
        nonlocal pulled
        for i in range(10_000_000):
            pulled += 1
            yield f"/x/{i}-kind-high.mp4"

    gen = mod.review_many(source(), workers=1, window=2)
    first = [next(gen) for _ in range(3)]
    gen.close()
    assert all(isinstance(r, ModerationResult) and r.label == "likely-ai" for r in first)
    assert pulled <= 6  # a bounded window, not ten million futures


def test_serial_and_async() -> None:
    mod = ScriptedModerator("newsroom", detector=None)
    rows = list(mod.review_many(["/x/kind-valid.mp4", "/x/kind-high.mp4"], workers=0))
    assert [r.label for r in rows] == ["signed-unknown-signer", "likely-ai"]

    async def both() -> list[ModerationResult]:
        return list(await asyncio.gather(mod.areview("/x/kind-mismatch.mp4"),
                                         mod.areview("/x/boom.mp4")))

    a, b = asyncio.run(both())
    assert a.label == "tampered" and b.state == "error"
    with pytest.raises(Exception, match="workers"):
        list(mod.review_many(["/x/a.mp4"], workers=-1))
