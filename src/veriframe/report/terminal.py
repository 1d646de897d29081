"""The human report of one verification, for a terminal (rich).

Every string that comes from the file (titles, signer names, metadata, action parameters,
file names) goes through :func:`~veriframe._text.clean_text` and is added as a rich
``Text`` (never as markup), so a hostile file can neither move the cursor nor inject styles.
Assertion contents are shown only when the credentials are intact (valid or trusted).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from rich.containers import Renderables
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from veriframe._text import clean_text
from veriframe.errors import ErrorInfo
from veriframe.report.explain import (
    CREDENTIAL_STATE_WORDS,
    NODE_STATE_WORDS,
    RECOVERED_STATE_WORDS,
    REENCODED_NOTE,
    RESOLVER_STATE_WORDS,
    WATERMARK_STATE_WORDS,
    banner,
    explain_code,
    failure_rows,
    identity_line,
    time_lines,
    where_it_failed,
)
from veriframe.report.words import (
    compared_words,
    coverage,
    describe_difference,
    describe_overlay,
)
from veriframe.results import (
    CredentialCheck,
    CredentialState,
    DecisionState,
    DetectionCheck,
    DetectionState,
    ProvenanceNode,
    RecoveryState,
    VerifyReport,
    WatermarkCheck,
    WatermarkState,
)

_TONE_STYLE = {
    "good": "bold green",
    "caution": "bold yellow",
    "bad": "bold red",
    "neutral": "bold cyan",
    "error": "bold magenta",
}
_INTACT = (CredentialState.TRUSTED, CredentialState.VALID)


class Printer(Protocol):
    """What the report is printed on: a ``rich.console.Console`` (the CLI makes one)."""

    def print(self, *objects: Any, **kwargs: Any) -> None: ...


def _error_text(err: ErrorInfo) -> str:
    return f"{err.code}: {err.message}"


def _t(value: object, *, max_len: int = 300) -> Text:
    """Attacker-controlled ``value`` as safe, unstyled rich text."""
    return Text(clean_text(value, max_len=max_len))


def _params(params: Any) -> str:
    """Action parameters as ``key=value`` pairs (nested values as compact JSON)."""
    if not isinstance(params, Mapping):
        return "" if params is None else str(params)
    parts = []
    for key, value in params.items():
        shown = value if isinstance(value, (str, int, float)) else json.dumps(
            value, ensure_ascii=False, sort_keys=True, default=str)
        parts.append(f"{key}={shown}")
    return ", ".join(parts)


def _agent(action: Mapping[str, Any]) -> str:
    agent = action.get("softwareAgent")
    if isinstance(agent, Mapping):
        name = agent.get("name", "")
        version = agent.get("version")
        return f"{name} {version}" if version else str(name)
    return "" if agent is None else str(agent)


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    return grid


def _row(grid: Table, key: str, value: object | None, *, max_len: int = 300) -> None:
    if value is None or value == "":
        return
    grid.add_row(key, _t(value, max_len=max_len))


_NODE_STYLE = {
    CredentialState.TRUSTED: "bold green",
    CredentialState.VALID: "green",
    CredentialState.INVALID: "bold red",
    CredentialState.ABSENT: "dim",
}
_MAX_TREE_NODES = 200


def _kb(size: int) -> str:
    return f"{size / 1024:.0f} KB" if size >= 1024 else f"{size} bytes"


def _node_label(node: ProvenanceNode, *, root: bool) -> Text:
    """What one manifest of the chain says, as safe rich text (several lines)."""
    text = Text()
    text.append(clean_text(node.title or "(untitled)", max_len=200), style="bold")
    if node.relationship:
        text.append(f"  ({clean_text(node.relationship, max_len=40)})")
    elif root:
        text.append("  (this file)")
    text.append("  ")
    text.append(f"[{NODE_STATE_WORDS.get(node.state, str(node.state))}]",
                style=_NODE_STYLE.get(node.state, ""))
    if node.signer is not None:
        s = node.signer
        who = clean_text(s.common_name or s.organization or "unnamed", max_len=200)
        text.append(f"\n  signed by {who}")
        if s.signed_at:
            text.append(f", {clean_text(s.signed_at, max_len=60)}")
        if s.issuer:
            text.append(f"\n  certificate issued by {clean_text(s.issuer, max_len=200)}")
    if node.digital_source_type or node.claim_generator:
        bits = []
        if node.digital_source_type:
            bits.append("source: " + clean_text(node.digital_source_type.rsplit("/", 1)[-1],
                                                max_len=120))
        if node.claim_generator:
            bits.append("made with " + clean_text(node.claim_generator, max_len=200))
        text.append("\n  " + "; ".join(bits))
    for identity in node.identities[:4]:
        text.append("\n  identity: " + identity_line(identity))
    if node.manifest_label:
        text.append("\n  manifest " + clean_text(node.manifest_label, max_len=200), style="dim")
    for issue in node.failures[:8]:
        text.append(f"\n  x {clean_text(issue.code, max_len=120)}: "
                    f"{clean_text(explain_code(issue.code, issue.explanation))}", style="red")
    if node.recorded_failures:
        codes = ", ".join(clean_text(i.code, max_len=80) for i in node.recorded_failures[:4])
        text.append(f"\n  recorded when it was added: {codes} (known then; not counted "
                    "against this file)", style="yellow")
    if node.thumbnail is not None:
        kind = node.thumbnail.format.split("/")[-1].upper()
        text.append(f"\n  thumbnail: {kind}, {_kb(node.thumbnail.size_bytes)} (shown in the "
                    "HTML report)", style="dim")
    if node.omitted:
        text.append(f"\n  {node.omitted} more ingredient(s) not shown (listed by a manifest "
                    "that fails, a cycle, or past the size limit)", style="dim")
    return text


def chain_tree(chain: ProvenanceNode) -> Tree:
    """The provenance chain as a rich tree: this file at the root, ingredients below."""
    tree = Tree(_node_label(chain, root=True), guide_style="dim")
    budget = [_MAX_TREE_NODES]

    def add(parent: Tree, node: ProvenanceNode) -> None:
        for child in node.ingredients:
            if budget[0] <= 0:
                return
            budget[0] -= 1
            add(parent.add(_node_label(child, root=False)), child)

    add(tree, chain)
    return tree


def credential_lines(cred: CredentialCheck, grid: Table) -> list[Any]:
    """Fill ``grid`` with the credentials; return what follows it (tables, the chain tree)."""
    extra: list[Any] = []
    _row(grid, "State", CREDENTIAL_STATE_WORDS.get(cred.state, cred.state))
    if cred.state in _INTACT:
        signer = cred.signer
        if signer is not None:
            who = signer.common_name or signer.organization or "unnamed"
            if signer.organization and signer.organization != who:
                who = f"{who} ({signer.organization})"
            trust = "trusted" if cred.state is CredentialState.TRUSTED else "NOT verified"
            _row(grid, "Signer", f"{clean_text(who)} [{trust}]")
            _row(grid, "Issuer", signer.issuer)
            _row(grid, "Signed at", signer.signed_at)
            _row(grid, "Algorithm", signer.algorithm)
        for identity in cred.identities[:8]:
            _row(grid, "Identity", identity_line(identity), max_len=700)
        if cred.time is not None:
            for key, value in time_lines(cred.time):
                _row(grid, key, value, max_len=600)
        _row(grid, "Title", cred.title)
        _row(grid, "Generator", cred.claim_generator)
        _row(grid, "Source type", cred.digital_source_type)
        _row(grid, "Manifest", cred.manifest_label)
        if cred.actions:
            table = Table(title="Actions", title_justify="left", show_edge=False, expand=False)
            for col in ("action", "software agent", "source type", "parameters"):
                table.add_column(col, overflow="fold")
            for action in cred.actions[:50]:
                dst = str(action.get("digitalSourceType") or "").rsplit("/", 1)[-1]
                table.add_row(_t(action.get("action", "?")), _t(_agent(action)), _t(dst),
                              _t(_params(action.get("parameters")), max_len=600))
            extra.append(table)
        if cred.ingredients and cred.chain is None:
            table = Table(title="Ingredients", title_justify="left", show_edge=False)
            for col in ("title", "format", "relationship", "validation"):
                table.add_column(col, overflow="fold")
            for ing in cred.ingredients[:50]:
                status = ing.get("validation_state") or ing.get("validation_status") or ""
                if isinstance(status, list):
                    status = ", ".join(str(s.get("code", s)) if isinstance(s, Mapping) else
                                       str(s) for s in status)
                table.add_row(_t(ing.get("title", "")), _t(ing.get("format", "")),
                              _t(ing.get("relationship", "")), _t(status))
            extra.append(table)
    elif cred.state is CredentialState.INVALID:
        where = where_it_failed(cred)
        if where:
            grid.add_row("Where", _t(where, max_len=900))
        grid.add_row("Note", Text("The credentials failed validation, so what they claim "
                                  "(signer, generator, actions) is not shown as fact."))
        if cred.time is not None and cred.time.inside_validity is False:
            for key, value in time_lines(cred.time):
                _row(grid, key, value, max_len=600)
    elif cred.state is CredentialState.ABSENT:
        grid.add_row("Note", Text("No credentials is common (cameras, editors and platforms "
                                  "strip or never write them); it is not evidence of fakery."))
    if cred.stricter_than_reference:
        _row(grid, "Stricter", f"veriframe says {cred.state.value} where the C2PA reference "
                               f"validator says {cred.reference_state}: "
                               f"{clean_text(cred.stricter_than_reference)}", max_len=900)
    if cred.error:
        _row(grid, "Error", _error_text(cred.error))
    rows = failure_rows(cred)
    if rows:
        table = Table(title="Failed checks", title_justify="left", show_edge=False)
        table.add_column("where", overflow="fold")
        table.add_column("code", style="red", no_wrap=True)
        table.add_column("meaning", overflow="fold")
        for where, issue in rows[:50]:
            table.add_row(_t(where, max_len=300), _t(issue.code, max_len=120),
                          _t(explain_code(issue.code, issue.explanation)))
        extra.append(table)
    if cred.chain is not None and cred.chain.ingredients:
        extra.append(Text("Provenance chain (this file first, then what it was made from):",
                          style="bold"))
        extra.append(chain_tree(cred.chain))
    return extra


def watermark_lines(wm: WatermarkCheck, grid: Table) -> None:
    """Fill ``grid`` with the watermark check and any recovered manifest."""
    _row(grid, "State", WATERMARK_STATE_WORDS.get(wm.state, wm.state))
    if wm.state is WatermarkState.PRESENT:
        _row(grid, "Payload id", wm.payload_id)
        if wm.p_value is not None:
            _row(grid, "p-value", f"{wm.p_value:.2e} (chance of a false match on unmarked "
                                  "video)")
        if wm.bit_accuracy is not None:
            _row(grid, "Bit agreement", f"{wm.bit_accuracy:.1%} over {wm.frames_used} frames")
    for mark in wm.known_generator_marks:
        _row(grid, "Known mark", f"{clean_text(mark.name)} ({clean_text(mark.method)}): "
                                 f"{mark.matching_bits}/{mark.total_bits} bits, "
                                 f"p = {mark.p_value:.1e}")
    for attempt in wm.resolvers:
        words = RESOLVER_STATE_WORDS.get(attempt.state.value, attempt.state.value)
        _row(grid, "Resolver", f"{clean_text(attempt.url, max_len=200)}: {words}"
             + (f" ({clean_text(attempt.match_kind)})" if attempt.match_kind else ""))
    rec = wm.recovered
    if rec is not None:
        _row(grid, "Recovered", RECOVERED_STATE_WORDS.get(rec.state, rec.state)
             + (f" (via {clean_text(rec.resolver or 'a resolver', max_len=200)})"
                if rec.source == "resolver" else ""))
        if rec.detail:
            _row(grid, "Detail", rec.detail)
        if rec.comparison == "segments":
            _row(grid, "Compared", coverage(rec))
        elif rec.comparison is not None:
            _row(grid, "Compared", compared_words(rec))
        for diff in rec.differences[:20]:
            _row(grid, "  changed", f"{describe_difference(diff)} (score {diff.score:.1f})")
        if len(rec.differences) > 20:
            _row(grid, "  changed", f"... and {len(rec.differences) - 20} more (see --json)")
        for overlay in rec.overlays:
            _row(grid, "  overlay", describe_overlay(overlay))
        if (rec.credentials is not None and rec.state is not RecoveryState.INVALID
                and rec.comparison != "hard-binding"):
            _row(grid, "  hard binding", REENCODED_NOTE)
        rcred = rec.credentials
        if rec.state is RecoveryState.RECOVERED and rcred is not None and rcred.state in _INTACT:
            if rcred.signer is not None:
                who = rcred.signer.common_name or rcred.signer.organization or "unnamed"
                trust = "trusted" if rcred.state is CredentialState.TRUSTED else "NOT verified"
                _row(grid, "  signer", f"{clean_text(who)} [{trust}]")
                _row(grid, "  signed at", rcred.signer.signed_at)
            _row(grid, "  generator", rcred.claim_generator)
            _row(grid, "  source type", rcred.digital_source_type)
            for action in rcred.actions[:20]:
                _row(grid, "  action", f"{clean_text(action.get('action', '?'))} "
                                       f"{clean_text(_agent(action))} "
                                       f"{clean_text(_params(action.get('parameters')))}")
    if wm.error:
        _row(grid, "Error", _error_text(wm.error))


def detection_lines(det: DetectionCheck, grid: Table) -> list[Table]:
    """Fill ``grid`` with the detector's estimate; return its signal table."""
    if det.state is DetectionState.NOT_CHECKED:
        _row(grid, "State", "not checked")
        return []
    if det.state is DetectionState.ERROR:
        _row(grid, "State", "error: " + (_error_text(det.error) if det.error else ": "))
        return []
    if det.p_synthetic is not None:
        _row(grid, "p_synthetic", f"{det.p_synthetic:.2f}"
                                  + (f" ({det.label})" if det.label else ""))
    if det.inconclusive:
        _row(grid, "Inconclusive", f"{det.inconclusive} (the score is not used)")
    _row(grid, "Model", det.model)
    if not det.used_metadata:
        _row(grid, "Metadata", "not used (pixels only)")
    grid.add_row("Note", Text("A detector score is an estimate, not proof."))
    if not det.signals:
        return []
    table = Table(title="Signals", title_justify="left", show_edge=False)
    for col in ("signal", "kind", "value", "p_synthetic", "weight", "detail"):
        table.add_column(col, overflow="fold")
    for s in det.signals[:40]:
        value = f"{s.value:.3g}" if isinstance(s.value, float) else s.value
        table.add_row(_t(s.name, max_len=80), _t(s.kind, max_len=20), _t(value, max_len=80),
                      Text("-" if s.p_synthetic is None else f"{s.p_synthetic:.2f}"),
                      Text(f"{s.weight:.2f}"), _t(s.detail, max_len=200))
    return [table]


def _section(title: str, parts: Iterable[Any]) -> Panel:
    return Panel(Renderables(list(parts)), title=title, title_align="left", border_style="dim")


def render_terminal(report: VerifyReport, *, console: Printer) -> None:
    """Print the human report of ``report`` on ``console`` (a ``rich.console.Console``)."""
    b = banner(report)
    style = _TONE_STYLE.get(b.tone, "bold")
    head = Text(b.headline.upper(), style=style)
    head.append(f"   verdict: {report.verdict.value}", style="dim")
    console.print(Panel(Renderables([head, Text(b.summary)]), border_style=style.split()[-1]))

    info = _grid()
    f = report.file
    _row(info, "File", f.path, max_len=500)
    if f.size_bytes is not None:
        _row(info, "Size", f"{f.size_bytes:,} bytes")
    media = f.media or {}
    if media:
        dims = f"{media.get('width', '?')}x{media.get('height', '?')}"
        fps = media.get("fps")
        dur = media.get("duration")
        bits = [dims]
        if fps:
            bits.append(f"{float(fps):.3g} fps")
        if dur:
            bits.append(f"{float(dur):.1f} s")
        codecs = "/".join(str(c) for c in (media.get("video_codec"), media.get("audio_codec"))
                          if c)
        if codecs:
            bits.append(codecs)
        _row(info, "Media", ", ".join(bits))
    _row(info, "SHA-256", f.sha256)
    if report.error:
        _row(info, "Error", _error_text(report.error))
        _row(info, "Hint", report.error.hint)
    console.print(info)

    grid = _grid()
    extra = credential_lines(report.credentials, grid)
    console.print(_section("Content Credentials", [grid, *extra]))

    grid = _grid()
    watermark_lines(report.watermark, grid)
    console.print(_section("Watermark", [grid]))

    grid = _grid()
    extra = detection_lines(report.detection, grid)
    console.print(_section("Detector", [grid, *extra]))

    d = report.decision
    grid = _grid()
    if d.state is DecisionState.NOT_CHECKED:
        _row(grid, "Decision", "no policy applied")
    else:
        _row(grid, "Policy", d.policy)
        _row(grid, "Label", d.label)
        _row(grid, "Action", d.action)
        for reason in d.reasons:
            grid.add_row("", _t(reason, max_len=600))
    console.print(_section("Decision", [grid]))
