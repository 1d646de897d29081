"""Scale a moderation scan out on Ray Data (extra `scale`: pip install "veriframe[scale]").

The pipeline: a dataset of paths (a Python list, or a Parquet file/folder with a ``path``
column) → ``map_batches`` with a callable class, so each Ray actor builds one
:class:`~veriframe.moderation.Moderator` (policy parsed, detector and trust anchors loaded
once per actor) and reviews a batch of files → flat ``veriframe.scan/1`` rows written as
Parquet. Ray is imported only inside these functions, never by ``import veriframe``.

On one machine::

    veriframe scan clips/ --engine ray --out results/ --workers 4

On a cluster: every node needs veriframe installed (same version) and must see the videos
at the same paths (a shared filesystem such as NFS or a FUSE-mounted bucket), and the trust
anchors / manifest store must be readable from every node (the Moderator's settings: ``--trust``,
``--store`` and the home on a shared path). Start the cluster (``ray start --head`` on one node,
``ray start --address=HEAD:6379`` on the others, or KubeRay / ``ray up``), then either::

    RAY_ADDRESS=ray://HEAD:10001 veriframe scan /mnt/videos --engine ray --out /mnt/out/scan \\
        --workers 64

or from Python, with a Parquet list of paths for millions of files (the driver then never
holds the list in memory)::

    from veriframe.moderation.ray import scan_paths
    scan_paths("s3-mounted/paths.parquet", out="/mnt/out/scan", policy="platform",
               concurrency=64, address="auto")

``concurrency`` is the number of actors (one CPU each by default; ``num_cpus`` changes it).
Results land as Parquet files in ``out``; ``--resume`` skips paths already present there.
The per-file wall-clock budget is enforced where Ray runs the actor method in the worker's
main thread (the default for synchronous actors); a file that crashes an actor is retried by
Ray and, failing again, fails the job with Ray's error.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veriframe.errors import ScanError

if TYPE_CHECKING:
    import pyarrow as pa

    from veriframe.moderation.moderator import Moderator
    from veriframe.policy import Policy


@dataclass(frozen=True)
class RayScanSummary:
    """What one Ray scan wrote."""

    rows: int
    out: str
    files: tuple[str, ...]
    labels: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise ScanError(
            "scale.ray-missing",
            "the ray engine needs Ray Data, which is not installed",
            "pip install 'veriframe[scale]'  (ray[data] and pyarrow)",
        ) from None
    return ray


def row_schema() -> pa.Schema:
    """The Arrow schema of a ``veriframe.scan/1`` row."""
    import pyarrow as pa

    from veriframe.moderation.moderator import ROW_TYPES

    kinds = {str: pa.string(), float: pa.float64(), int: pa.int64()}
    return pa.schema([pa.field(name, kinds[t], nullable=True) for name, t in ROW_TYPES.items()])


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as an Arrow table with the fixed schema (so blocks with all-null columns agree)."""
    import pyarrow as pa

    schema = row_schema()
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    return pa.Table.from_pydict(columns, schema=schema)


class ReviewActor:
    """Ray Data callable class: one Moderator per actor, a batch of paths per call."""

    def __init__(self, config: dict[str, Any]) -> None:
        from veriframe.moderation.moderator import Moderator

        cfg = dict(config)
        cls = cfg.pop("cls", Moderator)
        self.moderator = cls(cfg.pop("policy"), **cfg)
        self.moderator.warm()  # the detector and trust anchors, once per actor

    def __call__(self, batch: pa.Table) -> pa.Table:
        """Review every path of ``batch``; return their rows."""
        paths = batch.column("path").to_pylist()
        return rows_to_table([self.moderator.review(str(p)).to_dict() for p in paths])


def done_paths_parquet(out: str | os.PathLike[str]) -> set[str]:
    """Paths already present in the Parquet files under ``out`` (for ``--resume``)."""
    import pyarrow.parquet as pq

    folder = Path(out)
    done: set[str] = set()
    if not folder.is_dir():
        return done
    for f in sorted(folder.rglob("*.parquet")):
        done.update(str(p) for p in pq.read_table(f, columns=["path"]).column("path").to_pylist())
    return done


def _summarise(out: Path, files: list[Path]) -> RayScanSummary:
    import pyarrow.parquet as pq

    labels: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    rows = 0
    for f in files:
        table = pq.read_table(f, columns=["label", "action", "state", "error_code"])
        rows += table.num_rows
        cols = table.to_pydict()
        for label, action, state, code in zip(cols["label"], cols["action"], cols["state"],
                                              cols["error_code"], strict=True):
            labels[label or "-"] += 1
            actions[action or "-"] += 1
            if state == "error":
                errors[code or "error"] += 1
    return RayScanSummary(rows=rows, out=str(out), files=tuple(str(f) for f in files),
                          labels=labels, actions=actions, errors=errors)


def scan_paths(
    paths: list[str] | str | os.PathLike[str],
    *,
    out: str | os.PathLike[str],
    moderator: Moderator | None = None,
    policy: str | os.PathLike[str] | Policy = "platform",
    trust: str | os.PathLike[str] | None = None,
    detector: str | None = "default",
    timeout_s: float | None = None,
    concurrency: int = 2,
    batch_size: int = 4,
    num_cpus: float = 1.0,
    address: str | None = None,
) -> RayScanSummary:
    """Review ``paths`` on Ray and write ``veriframe.scan/1`` rows as Parquet into ``out``.

    ``paths``: a list of file paths, or a Parquet file/folder with a ``path`` column.
    ``moderator`` (or ``policy``/``trust``/``detector``/``timeout_s``) configures each actor.
    ``address``: a Ray cluster to join (default: the running one, ``RAY_ADDRESS``, or a new
    local Ray). Returns counts read back from the Parquet files this run wrote.
    """
    ray = _import_ray()
    from veriframe.moderation.moderator import Moderator

    mod = moderator or Moderator(policy, trust=trust, detector=detector, timeout_s=timeout_s)
    out_dir = Path(out)
    before = set(out_dir.rglob("*.parquet")) if out_dir.is_dir() else set()
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, ignore_reinit_error=True,
                 log_to_driver=False)
    # Enough blocks for every actor to get work (one block feeds one actor at a time).
    blocks = max(1, concurrency) * 4
    if isinstance(paths, (str, os.PathLike)):
        ds = ray.data.read_parquet(os.fspath(paths), columns=["path"])
        ds = ds.repartition(blocks, shuffle=False)
    else:
        if not paths:
            return RayScanSummary(rows=0, out=str(out_dir), files=())
        ds = ray.data.from_items([{"path": os.path.abspath(p)} for p in paths],
                                 override_num_blocks=min(len(paths), blocks))
    ds = ds.map_batches(
        ReviewActor,
        fn_constructor_kwargs={"config": mod._config()},
        batch_size=batch_size,
        batch_format="pyarrow",
        concurrency=max(1, concurrency),
        num_cpus=num_cpus,
    )
    ds.write_parquet(str(out_dir))
    written = sorted(set(out_dir.rglob("*.parquet")) - before)
    return _summarise(out_dir, written)


__all__ = ["RayScanSummary", "ReviewActor", "done_paths_parquet", "row_schema",
           "rows_to_table", "scan_paths"]
