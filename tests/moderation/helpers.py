"""A Moderator whose verification is scripted by file name, to test the worker pool.

It lives in an importable module so pool workers (forkserver/spawn) can rebuild it by
reference. Name patterns: ``crash`` kills the worker process, ``hang`` sleeps far past any
budget, ``boom`` raises an unexpected exception, ``kind-<report kind>`` returns that
hand-built report (see tests/policy/factory.py).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.policy.factory import report
from veriframe.moderation import Moderator
from veriframe.results import VerifyReport


class ScriptedModerator(Moderator):
    """Moderator with a scripted ``verify`` (the pool, budgets and policy are the real ones)."""

    def verify(self, path: str | os.PathLike[str]) -> VerifyReport:
        name = Path(path).name
        if "crash" in name:
            os._exit(7)
        if "hang" in name:
            time.sleep(600)
        if "boom" in name:
            raise RuntimeError("scripted failure")
        kind = name.split("kind-", 1)[1].split(".", 1)[0] if "kind-" in name else "absent"
        return report(kind)
