"""JSON output: the ``veriframe.verify/1.2`` document and ``veriframe.scan/1`` rows.

JSON is always valid whatever the file contained: control characters in strings are escaped
by the encoder, NaN becomes ``null`` (see :func:`veriframe.results.to_jsonable`) and
``allow_nan=False`` guarantees no bare ``NaN`` reaches the output. The schemas are documented
in docs/json-schema.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from veriframe.results import SCHEMA_VERIFY, VerifyReport, to_jsonable

SCHEMA_SCAN = "veriframe.scan/1"
REQUIRED_KEYS = ("schema", "file", "verdict", "credentials", "watermark", "detection",
                 "decision")


def report_document(report: VerifyReport) -> dict[str, Any]:
    """The ``veriframe.verify/1.2`` document for ``report`` (``report.to_dict()``)."""
    doc = report.to_dict()
    missing = [k for k in REQUIRED_KEYS if k not in doc]
    if missing or doc.get("schema") != SCHEMA_VERIFY:
        raise ValueError(f"report does not follow {SCHEMA_VERIFY}: missing {missing}")
    return doc


def render_json(report: VerifyReport, *, indent: int | None = 2) -> str:
    """``report`` as one JSON document (text, no trailing newline)."""
    return json.dumps(report_document(report), indent=indent, ensure_ascii=False,
                      allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps_row(row: Mapping[str, Any]) -> str:
    """One scan row as a single JSON line (no newline inside, none at the end)."""
    clean = {str(k): _finite(to_jsonable(v)) for k, v in row.items()}
    # ensure_ascii keeps U+2028/U+2029 escaped too: one physical line per row everywhere.
    return json.dumps(clean, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
