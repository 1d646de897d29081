"""Rendering of reports: terminal text, JSON, self-contained HTML.

The front of the package: what the CLI, the services, moderation and users take from it.
Importing it loads none of its modules (the terminal renderer pulls in rich, the HTML one
numpy): each name is imported on first use.

>>> from veriframe.report import render_json, render_html

- terminal (:mod:`.terminal`): ``render_terminal(report, *, console)`` draws on a rich console;
- JSON (:mod:`.json_report`): ``render_json(report)``, ``report_document(report)`` (the versioned
  document), ``dumps_row(row)`` and ``SCHEMA_SCAN`` for scan's JSONL rows;
- HTML (:mod:`.html`): ``render_html(report, *, sample=None)`` and its ``stylesheet()``;
- words (:mod:`.words`): how a content comparison is told (``compared_words``,
  ``describe_difference``, ``describe_overlay``), shared by every format and the decision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from veriframe._lazy import front

if TYPE_CHECKING:
    from veriframe.report.html import render_html, stylesheet
    from veriframe.report.json_report import SCHEMA_SCAN, dumps_row, render_json, report_document
    from veriframe.report.terminal import render_terminal
    from veriframe.report.words import compared_words, describe_difference, describe_overlay

_MODULES = {
    "html": ("render_html", "stylesheet"),
    "json_report": ("SCHEMA_SCAN", "dumps_row", "render_json", "report_document"),
    "terminal": ("render_terminal",),
    "words": ("compared_words", "describe_difference", "describe_overlay"),
}
__getattr__ = front(__name__, _MODULES)


__all__ = [
    "SCHEMA_SCAN",
    "compared_words",
    "describe_difference",
    "describe_overlay",
    "dumps_row",
    "render_html",
    "render_json",
    "render_terminal",
    "report_document",
    "stylesheet",
]
