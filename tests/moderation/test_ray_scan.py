"""Ray Data scan on a local Ray (2 CPUs): Parquet rows, one Moderator per actor, resume."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray = pytest.importorskip("ray", reason="ray not installed (pip install 'veriframe[scale]')")
    pytest.importorskip("pyarrow")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_scan_real_files(local_ray: None, vf_home: Path, tmp_path: Path,
                             small_clip: Path) -> None:
    import pyarrow.parquet as pq

    from veriframe._cli import main
    from veriframe.moderation.ray import done_paths_parquet, scan_paths

    src = tmp_path / "clips"
    src.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        shutil.copy(small_clip, src / name)
    (src / "bad.mp4").write_bytes(b"garbage" * 50)
    out = tmp_path / "out"
    summary = scan_paths(sorted(str(p) for p in src.iterdir()), out=out, policy="platform",
                         detector=None, concurrency=2, batch_size=2)
    assert summary.rows == 4
    assert summary.labels["no-provenance"] == 3 and sum(summary.errors.values()) == 1
    table = pq.read_table(out)
    assert table.num_rows == 4
    assert set(table.column("schema").to_pylist()) == {"veriframe.scan/1"}
    assert table.schema.field("p_synthetic").type == "double"
    bad = next(r for r in table.to_pylist() if r["path"].endswith("bad.mp4"))
    assert bad["state"] == "error" and bad["action"] == "review"

    # a Parquet list of paths as the input, and the CLI's --resume over the folder
    assert len(done_paths_parquet(out)) == 4
    shutil.copy(small_clip, src / "d.mp4")
    assert main(["scan", str(src), "--engine", "ray", "--out", str(out), "--resume",
                 "--detector", "none", "--workers", "2"]) == 0
    table = pq.read_table(out)
    assert table.num_rows == 5 and len(set(table.column("path").to_pylist())) == 5
