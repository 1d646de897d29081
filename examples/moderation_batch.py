"""Moderate a folder of videos with the Python API and write a JSONL file of decisions.

    python examples/moderation_batch.py uploads/ results.jsonl --policy platform --workers 2

The same library call as ``veriframe scan``: each worker process loads the policy, trust
anchors and detector once; rows are written as files finish (``--resume`` continues an
interrupted run). A file that cannot be checked becomes a row with state "error" and the
policy's fail-closed decision (review/block), never an exception that stops the batch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from veriframe._text import clean_text
from veriframe.moderation import ModerationResult, Moderator, scan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--policy", default="platform")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--detector", default="default", help="detector name, or 'none'")
    ap.add_argument("--resume", action="store_true", help="skip files already in OUT")
    args = ap.parse_args()

    moderator = Moderator(args.policy, detector=None if args.detector == "none" else args.detector,
                          timeout_s=120)

    def show(count: int, result: ModerationResult) -> None:
        # file names come from uploaders: never print them raw
        print(f"{count:5d} {result.action or '-':>6}  {result.label or '-':<24} "
              f"{clean_text(result.path)}")

    summary = scan(args.folder, out=args.out, moderator=moderator, workers=args.workers,
                   resume=args.resume, overwrite=not args.resume, progress=show)
    print(f"{summary.files} files, {summary.files_per_s:.2f} files/s; "
          f"actions {dict(summary.actions)}; errors {dict(summary.errors)}")


if __name__ == "__main__":
    main()
