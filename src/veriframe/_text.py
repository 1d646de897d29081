"""Make attacker-controlled text safe to show in a terminal.

Manifest titles, signer names, metadata and file names come from whoever made the file.
Before any of it reaches a terminal, control characters (ANSI escape sequences, carriage
returns, bidi overrides) are removed so a file cannot rewrite the screen or hide text.
"""

from __future__ import annotations

import re
import unicodedata

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
# Bidi controls and other invisible formatting characters that can reorder or hide text.
_BIDI = dict.fromkeys(
    map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"), None
)


def clean_text(value: object, *, max_len: int = 2000) -> str:
    """``value`` as a single-line printable string, control sequences stripped, length capped."""
    text = str(value)
    text = _ANSI.sub("", text)
    text = text.translate(_BIDI)
    text = "".join(
        ch if unicodedata.category(ch)[0] != "C" else ("␤" if ch in "\r\n" else "") for ch in text
    )
    if len(text) > max_len:
        text = text[: max_len - 1] + "…"
    return text
