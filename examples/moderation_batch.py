"""Moderate a folder of videos with the Python API and write a JSONL file of decisions.

    python examples/moderation_batch.py uploads/ results.jsonl --policy platform --workers 2

Each worker process loads the policy, trust anchors and detector once; results arrive in
completion order. A file that cannot be checked becomes a row with state "error" and the
policy's fail-closed decision (review/block), never an exception that stops the batch.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from veriframe.moderation import JsonlWriter, Moderator, find_videos
from veriframe.report.text import clean_text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--policy", default="platform")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--detector", default="default", help="detector name, or 'none'")
    args = ap.parse_args()

    moderator = Moderator(args.policy, detector=None if args.detector == "none" else args.detector,
                          timeout_s=120)
    actions: Counter[str] = Counter()
    with JsonlWriter(args.out, append=False) as out:
        for result in moderator.review_many(find_videos(args.folder), workers=args.workers):
            out.write(result.to_dict())
            actions[result.action or "-"] += 1
            print(f"{result.action or '-':>6}  {result.label or '-':<24} "
                  f"{clean_text(result.path)}")  # file names come from uploaders
    print(dict(actions))


if __name__ == "__main__":
    main()
