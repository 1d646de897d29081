"""Moderate videos on a Ray cluster (or a local Ray) and write Parquet.

    pip install 'veriframe[scale]'
    python examples/ray_scan.py /mnt/videos /mnt/out/scan --actors 8
    RAY_ADDRESS=ray://head:10001 python examples/ray_scan.py /mnt/videos /mnt/out/scan

Every node must see the videos at the same paths and have veriframe installed; see the
docstring of veriframe.moderation.ray. For millions of files, write the paths to a Parquet file
with a ``path`` column and pass that file instead of a folder.
"""

from __future__ import annotations

import argparse

from veriframe.moderation import find_videos
from veriframe.moderation.ray import scan_paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="folder of videos, or a .parquet file of paths")
    ap.add_argument("out", help="output folder for Parquet files")
    ap.add_argument("--policy", default="platform")
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument("--detector", default="default", help="detector name, or 'none'")
    args = ap.parse_args()

    source = args.source if args.source.endswith(".parquet") else list(find_videos(args.source))
    summary = scan_paths(source, out=args.out, policy=args.policy, concurrency=args.actors,
                         detector=None if args.detector == "none" else args.detector)
    print(f"{summary.rows} rows written to {summary.out}")
    for label, n in summary.labels.most_common():
        print(f"{n:6d}  {label}")
    if summary.errors:
        print("errors:", dict(summary.errors))


if __name__ == "__main__":
    main()
