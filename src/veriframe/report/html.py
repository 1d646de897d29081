"""A self-contained HTML report a journalist can attach to a story.

One file, no network: a strict Content-Security-Policy (no scripts, no remote anything),
thumbnails inlined as ``data:`` PNGs (encoded here with zlib + struct, no imaging library),
the per-frame score plot as inline SVG. Every string from the file is passed through
:func:`~veriframe._text.clean_text` and then HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import json
import struct
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from veriframe._text import clean_text
from veriframe.report.explain import (
    CREDENTIAL_STATE_WORDS,
    NODE_STATE_WORDS,
    PROVES,
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
    ContentDifference,
    CredentialCheck,
    CredentialState,
    DecisionState,
    DetectionState,
    FrameScore,
    ProvenanceNode,
    RecoveredCredentials,
    RecoveryState,
    Thumbnail,
    VerifyReport,
    WatermarkState,
)

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
       "form-action 'none'")
MAX_THUMBS = 8
MAX_CHAIN_NODES = 200
# The only image types a manifest thumbnail may be inlined as (checked by magic bytes in
# veriframe.credentials.chain; checked again here, so a hand-built report cannot smuggle
# another type into a data: URI).
_THUMB_MAGIC = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",),
                "image/gif": (b"GIF87a", b"GIF89a"), "image/webp": (b"RIFF",)}
THUMB_WIDTH = 240
_INTACT = (CredentialState.TRUSTED, CredentialState.VALID)


class FrameSampleLike(Protocol):
    """What the report needs from :class:`veriframe.media.FrameSample`."""

    @property
    def rgb(self) -> np.ndarray | None: ...

    @property
    def timestamps(self) -> Sequence[float]: ...

    @property
    def indices(self) -> Sequence[int]: ...


def esc(value: object, *, max_len: int = 2000) -> str:
    """Attacker-controlled ``value``: control characters stripped, then HTML-escaped."""
    return html.escape(clean_text(value, max_len=max_len), quote=True)


# --- images -------------------------------------------------------------------------------


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode an (H, W, 3) uint8 array as a PNG (8-bit RGB, no filtering)."""
    arr = np.ascontiguousarray(rgb, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) array, got {arr.shape}")
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def thumbnail(rgb: np.ndarray, *, width: int = THUMB_WIDTH) -> np.ndarray:
    """Shrink a frame to at most ``width`` pixels wide by block averaging."""
    h, w = rgb.shape[:2]
    factor = max(1, -(-w // width))
    if factor == 1:
        return rgb
    h2, w2 = h // factor, w // factor
    if h2 == 0 or w2 == 0:
        return rgb[:1, :1]
    block = rgb[: h2 * factor, : w2 * factor].astype(np.float32)
    small = block.reshape(h2, factor, w2, factor, 3).mean(axis=(1, 3))
    return np.clip(small + 0.5, 0, 255).astype(np.uint8)


def data_uri_png(rgb: np.ndarray) -> str:
    """A ``data:image/png;base64,...`` URI for an RGB frame."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(rgb)).decode("ascii")


def _thumbs(sample: FrameSampleLike | None) -> str:
    if sample is None or sample.rgb is None:
        return "<p class=muted>No frames were sampled for this report.</p>"
    rgb = np.asarray(sample.rgb)
    n = len(rgb)
    if n == 0:
        return "<p class=muted>No frames could be decoded.</p>"
    k = min(n, MAX_THUMBS)
    picks = sorted({round(i * (n - 1) / max(1, k - 1)) for i in range(k)})
    figs = []
    for i in picks:
        ts = float(sample.timestamps[i]) if len(sample.timestamps) > i else 0.0
        idx = int(sample.indices[i]) if len(sample.indices) > i else i
        figs.append(
            f'<figure><img alt="frame {idx}" src="{data_uri_png(thumbnail(rgb[i]))}">'
            f"<figcaption>frame {idx} · {ts:.2f} s</figcaption></figure>"
        )
    return '<div class="thumbs">' + "".join(figs) + "</div>"


def score_plot_svg(scores: Sequence[FrameScore], *, width: int = 640, height: int = 200,
                   threshold: float | None = 0.5) -> str:
    """Per-frame p_synthetic as an inline SVG line plot (time on x, probability on y)."""
    if not scores:
        return "<p class=muted>The detector recorded no per-frame scores.</p>"
    left, right, top, bottom = 44, 12, 10, 28
    pw, ph = width - left - right, height - top - bottom
    ts = [float(s.timestamp) for s in scores]
    t0, t1 = min(ts), max(ts)
    span = (t1 - t0) or 1.0

    def x(t: float) -> float:
        return left + (t - t0) / span * pw if len(scores) > 1 else left + pw / 2

    def y(p: float) -> float:
        return top + (1.0 - min(1.0, max(0.0, p))) * ph

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" '
             'aria-label="per-frame synthetic probability">',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" '
             'stroke="#999"/>']
    for p in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(p):.1f}" y2="{y(p):.1f}" '
                     'stroke="#e0e0e0"/>')
        parts.append(f'<text x="{left - 6}" y="{y(p) + 4:.1f}" font-size="11" '
                     f'text-anchor="end">{p:.2f}</text>')
    if threshold is not None:
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(threshold):.1f}" '
                     f'y2="{y(threshold):.1f}" stroke="#c62828" stroke-dasharray="4 3"/>')
    pts = " ".join(f"{x(t):.1f},{y(float(s.p_synthetic)):.1f}"
                   for t, s in zip(ts, scores, strict=True))
    parts.append(f'<polyline fill="none" stroke="#1565c0" stroke-width="2" points="{pts}"/>')
    for t, s in zip(ts, scores, strict=True):
        parts.append(f'<circle cx="{x(t):.1f}" cy="{y(float(s.p_synthetic)):.1f}" r="3" '
                     f'fill="#1565c0"><title>frame {int(s.index)}: '
                     f'{float(s.p_synthetic):.2f}</title></circle>')
    parts.append(f'<text x="{left}" y="{height - 8}" font-size="11">{t0:.2f} s</text>')
    parts.append(f'<text x="{left + pw}" y="{height - 8}" font-size="11" '
                 f'text-anchor="end">{t1:.2f} s</text>')
    parts.append("</svg>")
    return "".join(parts)


# --- sections -----------------------------------------------------------------------------


def _dl(rows: Sequence[tuple[str, object | None]]) -> str:
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows
                    if v is not None and v != "")
    return f"<dl>{items}</dl>" if items else ""


def _agent(action: Mapping[str, Any]) -> str:
    agent = action.get("softwareAgent")
    if isinstance(agent, Mapping):
        version = agent.get("version")
        return f"{agent.get('name', '')} {version}" if version else str(agent.get("name", ""))
    return "" if agent is None else str(agent)


def _json_block(value: Any, *, summary: str) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    if len(text) > 60_000:
        text = text[:60_000] + "\n…"
    return (f"<details><summary>{html.escape(summary)}</summary>"
            f"<pre>{html.escape(text)}</pre></details>")


def thumbnail_uri(thumb: Thumbnail | None) -> str | None:
    """A ``data:`` URI for a manifest thumbnail, or None unless it is a known image type."""
    if thumb is None or not thumb.data:
        return None
    magics = _THUMB_MAGIC.get(thumb.format)
    if not magics or not thumb.data.startswith(magics):
        return None
    if thumb.format == "image/webp" and thumb.data[8:12] != b"WEBP":
        return None
    return f"data:{thumb.format};base64," + base64.b64encode(thumb.data).decode("ascii")


_NODE_CLASS = {CredentialState.TRUSTED: "ok", CredentialState.VALID: "ok",
               CredentialState.INVALID: "bad", CredentialState.ABSENT: "muted"}


def _node_html(node: ProvenanceNode, budget: list[int], *, root: bool = False) -> str:
    state = NODE_STATE_WORDS.get(node.state, str(node.state))
    out = ['<li><div class="node">']
    uri = thumbnail_uri(node.thumbnail)
    if uri is not None:
        out.append(f'<img class="nthumb" alt="thumbnail of {esc(node.title or "", max_len=200)}"'
                   f' src="{uri}">')
    out.append(f"<div><b>{esc(node.title or '(untitled)', max_len=300)}</b>")
    if node.relationship:
        out.append(f" <span class=muted>({esc(node.relationship, max_len=40)})</span>")
    elif root:
        out.append(" <span class=muted>(this file)</span>")
    out.append(f' <span class="badge {_NODE_CLASS.get(node.state, "")}">{html.escape(state)}'
               "</span>")
    rows: list[tuple[str, object | None]] = []
    if node.signer is not None:
        rows += [("Signed by", node.signer.common_name or node.signer.organization),
                 ("Issuer", node.signer.issuer), ("Signed at", node.signer.signed_at)]
    rows += [("Source type", node.digital_source_type), ("Made with", node.claim_generator)]
    rows += [("Identity", identity_line(i)) for i in node.identities[:4]]
    rows.append(("Manifest", node.manifest_label))
    if node.recorded_failures:
        rows.append(("Recorded when added", ", ".join(i.code for i in node.recorded_failures[:4])
                     + " (known then; not counted against this file)"))
    if node.omitted:
        rows.append(("Not shown", f"{node.omitted} ingredient(s): listed by a manifest that "
                     "fails, a cycle, or past the size limit"))
    out.append(_dl(rows))
    if node.failures:
        items = "".join(f"<li><code>{esc(i.code, max_len=120)}</code>: "
                        f"{esc(explain_code(i.code, i.explanation))}</li>"
                        for i in node.failures[:8])
        out.append(f"<ul class=warn>{items}</ul>")
    out.append("</div></div>")
    kids = []
    for child in node.ingredients:
        if budget[0] <= 0:
            break
        budget[0] -= 1
        kids.append(_node_html(child, budget))
    if kids:
        out.append("<ul>" + "".join(kids) + "</ul>")
    out.append("</li>")
    return "".join(out)


def chain_html(chain: ProvenanceNode) -> str:
    """The provenance chain as nested lists, thumbnails inlined as ``data:`` URIs."""
    return ('<h3>Provenance chain</h3><p class=muted>This file first, then what it was made '
            'from. Each entry shows its own validation result.</p><ul class="tree">'
            + _node_html(chain, [MAX_CHAIN_NODES], root=True) + "</ul>")


HARD_BINDING_CODES = frozenset({"assertion.bmffHash.mismatch", "assertion.dataHash.mismatch",
                                "assertion.boxesHash.mismatch"})


def _credentials_html(cred: CredentialCheck, *, heading: str = "Content Credentials",
                      recovered: bool = False) -> str:
    out = [f"<section><h2>{html.escape(heading)}</h2>"]
    rows: list[tuple[str, object | None]] = [
        ("State", CREDENTIAL_STATE_WORDS.get(cred.state, str(cred.state)))]
    if cred.state in _INTACT:
        s = cred.signer
        if s is not None:
            trusted = cred.state is CredentialState.TRUSTED
            rows += [("Signer", s.common_name), ("Organisation", s.organization),
                     ("Trust", "chains to a trust anchor" if trusted else
                      "NOT verified: unknown signer"),
                     ("Issuer", s.issuer), ("Signed at", s.signed_at),
                     ("Algorithm", s.algorithm), ("Serial", s.serial_number)]
        rows += [("Identity", identity_line(i)) for i in cred.identities[:8]]
        if cred.time is not None:
            rows += time_lines(cred.time)
        rows += [("Title", cred.title), ("Generator", cred.claim_generator),
                 ("Digital source type", cred.digital_source_type),
                 ("Manifest", cred.manifest_label)]
    elif cred.state is CredentialState.INVALID and cred.time is not None and (
        cred.time.inside_validity is False
    ):
        rows += time_lines(cred.time)
    if cred.stricter_than_reference:
        rows.append(("Stricter", f"veriframe says {cred.state.value} where the C2PA reference "
                     f"validator says {cred.reference_state}: {cred.stricter_than_reference}"))
    out.append(_dl(rows))
    if cred.state is CredentialState.INVALID:
        where = where_it_failed(cred)
        if where:
            out.append(f"<p class=warn><b>Where it failed:</b> {esc(where, max_len=900)}</p>")
        out.append("<p class=warn>These credentials failed validation. Their claims (signer, "
                   "generator, actions) are not shown as fact.</p>")
    elif cred.state is CredentialState.ABSENT:
        out.append("<p>No Content Credentials were found. That is common and is not evidence "
                   "that the video is fake or AI-made.</p>")
    if cred.error:
        out.append(f"<p class=warn>{esc(cred.error.code)}: {esc(cred.error.message)}</p>")
    if cred.state in _INTACT and cred.actions:
        out.append("<h3>Actions</h3><table><tr><th>action</th><th>software agent</th>"
                   "<th>source type</th><th>parameters</th></tr>")
        for a in cred.actions[:50]:
            params = a.get("parameters")
            ptxt = json.dumps(params, ensure_ascii=False, sort_keys=True, default=str) if (
                params is not None) else ""
            dst = str(a.get("digitalSourceType") or "").rsplit("/", 1)[-1]
            out.append(f"<tr><td>{esc(a.get('action', '?'))}</td><td>{esc(_agent(a))}</td>"
                       f"<td>{esc(dst)}</td><td><code>{esc(ptxt, max_len=4000)}</code></td>"
                       "</tr>")
        out.append("</table>")
    if cred.state in _INTACT and cred.ingredients and cred.chain is None:
        out.append("<h3>Ingredients</h3><table><tr><th>title</th><th>format</th>"
                   "<th>relationship</th><th>recorded validation</th></tr>")
        for ing in cred.ingredients[:50]:
            status = ing.get("validation_state") or ing.get("validation_status") or ""
            if isinstance(status, list):
                status = ", ".join(str(s.get("code", s)) if isinstance(s, Mapping) else str(s)
                                   for s in status)
            out.append(f"<tr><td>{esc(ing.get('title', ''))}</td>"
                       f"<td>{esc(ing.get('format', ''))}</td>"
                       f"<td>{esc(ing.get('relationship', ''))}</td><td>{esc(status)}</td></tr>")
        out.append("</table>")
    rows_failed = failure_rows(cred)
    if recovered:
        # A recovered manifest was signed for the original file's bytes: its hard binding
        # always fails against a re-encoded copy, which recovery allows (the content is
        # compared with the signed fingerprints instead). Said in words, not listed as failed.
        if any(i.code in HARD_BINDING_CODES for _, i in rows_failed):
            out.append(f"<p class=muted>Hard binding: {esc(REENCODED_NOTE)}.</p>")
        rows_failed = [(w, i) for w, i in rows_failed if i.code not in HARD_BINDING_CODES]
    if rows_failed:
        out.append("<h3>Failed checks</h3><table><tr><th>where</th><th>code</th>"
                   "<th>meaning</th></tr>")
        for where_row, issue in rows_failed[:50]:
            out.append(f"<tr><td>{esc(where_row, max_len=400)}</td>"
                       f"<td><code>{esc(issue.code)}</code></td>"
                       f"<td>{esc(explain_code(issue.code, issue.explanation))}</td></tr>")
        out.append("</table>")
    if cred.chain is not None and (cred.chain.ingredients or cred.chain.thumbnail is not None):
        out.append(chain_html(cred.chain))
    if cred.state in _INTACT and cred.manifest:
        out.append(_json_block(cred.manifest, summary="Full manifest (assertions)"))
    out.append("</section>")
    return "".join(out)


def timeline_svg(rec: RecoveredCredentials, *, width: int = 640, height: int = 34) -> str:
    """A strip of the received clip's timeline: the compared span, each change (red) and each
    overlay (amber)."""
    total = max(float(rec.received_s or 0.0), 1e-6)

    def x(t: float) -> float:
        return round(width * min(max(t, 0.0), total) / total, 1)

    compared = min(float(rec.compared_s or 0.0), total)
    parts = [f'<svg class="timeline" role="img" viewBox="0 0 {width} {height + 14}" '
             f'width="{width}" height="{height + 14}"><title>timeline of the clip: compared '
             f"span, changes and overlays</title>",
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#eee"/>']
    offset = float((rec.geometry or {}).get("time_offset_s", 0.0) or 0.0)
    start = max(0.0, -offset)
    parts.append(f'<rect x="{x(start)}" y="0" width="{x(start + compared) - x(start)}" '
                 f'height="{height}" fill="#cfe3cf"><title>compared</title></rect>')
    for o in rec.overlays:
        parts.append(f'<rect x="{x(o.start_s)}" y="{height * 0.6:.0f}" '
                     f'width="{max(2.0, x(o.end_s) - x(o.start_s))}" height="{height * 0.4:.0f}"'
                     f' fill="#e0a800"><title>{esc(describe_overlay(o))}</title></rect>')
    for d in rec.differences:
        parts.append(f'<rect x="{x(d.start_s)}" y="0" width="{max(2.0, x(d.end_s) - x(d.start_s))}"'
                     f' height="{height * 0.6:.0f}" fill="#c0392b">'
                     f"<title>{esc(describe_difference(d))}</title></rect>")
    parts.append(f'<text x="0" y="{height + 12}" font-size="11">0 s</text>'
                 f'<text x="{width}" y="{height + 12}" font-size="11" text-anchor="end">'
                 f"{total:.1f} s</text></svg>")
    return "".join(parts)


def _frame_at(sample: FrameSampleLike | None, t: float) -> tuple[np.ndarray, float] | None:
    if sample is None or sample.rgb is None or not len(sample.timestamps):
        return None
    times = np.asarray(sample.timestamps, dtype=np.float64)
    i = int(np.argmin(np.abs(times - t)))
    return np.asarray(sample.rgb)[i], float(times[i])


def change_figure(d: ContentDifference, sample: FrameSampleLike | None) -> str:
    """The received frame nearest a change, with the changed region outlined."""
    found = _frame_at(sample, (d.start_s + d.end_s) / 2)
    caption = esc(describe_difference(d))
    if found is None:
        return f"<figure><figcaption>{caption}</figcaption></figure>"
    frame, t = found
    thumb = thumbnail(frame)
    h, w = thumb.shape[:2]
    x0, y0, rw, rh = d.region if d.region is not None else (0.0, 0.0, 1.0, 1.0)
    box = (f'<rect x="{x0 * w:.1f}" y="{y0 * h:.1f}" width="{rw * w:.1f}" height="{rh * h:.1f}"'
           ' fill="none" stroke="#ff2d2d" stroke-width="3"/>')
    return (f'<figure><svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img">'
            f"<title>frame at {t:.2f} s, change outlined</title>"
            f'<image href="{data_uri_png(thumb)}" width="{w}" height="{h}"/>{box}</svg>'
            f"<figcaption>{caption} (frame at {t:.2f} s)</figcaption></figure>")


def comparison_html(rec: RecoveredCredentials, sample: FrameSampleLike | None) -> str:
    """What the content comparison of a recovered manifest checked, and where it differs."""
    if rec.comparison != "segments":
        return f"<p class=muted>Content: {esc(compared_words(rec))}.</p>"
    out = ["<h3>Content compared with what was signed</h3>",
           _dl([("Compared", coverage(rec)),
                ("Signed clip", None if rec.signed_s is None else f"{rec.signed_s:.1f} s"),
                ("Placement", _placement(rec.geometry))]),
           timeline_svg(rec)]
    if rec.differences:
        out.append("<p class=warn>Changed after signing:</p><div class=\"thumbs\">")
        out += [change_figure(d, sample) for d in rec.differences[:6]]
        out.append("</div>")
        if len(rec.differences) > 6:
            out.append(f"<p class=muted>and {len(rec.differences) - 6} more (see the JSON)."
                       "</p>")
    for o in rec.overlays:
        out.append(f"<p class=muted>{esc(describe_overlay(o))}.</p>")
    return "".join(out)


def _placement(geometry: Mapping[str, Any] | None) -> str | None:
    if not geometry:
        return None
    scale = geometry.get("scale_x", 1.0)
    mirror = ", mirrored" if geometry.get("mirror") else ""
    shift = geometry.get("time_offset_s", 0.0) or 0.0
    when = f", starting {shift:.1f} s into the signed clip" if shift > 0 else ""
    how = geometry.get("source", "")
    return (f"scale {scale:.3g}, offset ({geometry.get('offset_x', 0)}, "
            f"{geometry.get('offset_y', 0)}) px{mirror}{when} (found by the {how})")


def _watermark_html(report: VerifyReport, sample: FrameSampleLike | None = None) -> str:
    wm = report.watermark
    out = ["<section><h2>Watermark</h2>"]
    rows: list[tuple[str, object | None]] = [
        ("State", WATERMARK_STATE_WORDS.get(wm.state, str(wm.state)))]
    if wm.state is WatermarkState.PRESENT:
        rows += [("Payload id", wm.payload_id),
                 ("p-value", None if wm.p_value is None else
                  f"{wm.p_value:.2e} (chance of a false match on unmarked video)"),
                 ("Bit agreement", None if wm.bit_accuracy is None else
                  f"{wm.bit_accuracy:.1%} over {wm.frames_used} frames"),
                 ("Key id", wm.key_id)]
    if wm.error:
        rows.append(("Error", f"{wm.error.code}: {wm.error.message}"))
    out.append(_dl(rows))
    if wm.known_generator_marks:
        out.append("<h3>Known generator watermarks</h3><table><tr><th>name</th><th>method</th>"
                   "<th>bits</th><th>p-value</th></tr>")
        for m in wm.known_generator_marks:
            out.append(f"<tr><td>{esc(m.name)}</td><td>{esc(m.method)}</td>"
                       f"<td>{m.matching_bits}/{m.total_bits}</td><td>{m.p_value:.1e}</td></tr>")
        out.append("</table>")
    if wm.resolvers:
        out.append("<h3>Soft-binding resolvers asked</h3><table><tr><th>resolver</th>"
                   "<th>result</th><th>match</th><th>detail</th></tr>")
        for a in wm.resolvers:
            match = " ".join(x for x in (a.match_kind or "", a.manifest_id or "") if x)
            out.append(f"<tr><td>{esc(a.url)}</td><td>"
                       f"{esc(RESOLVER_STATE_WORDS.get(a.state.value, a.state.value))}</td>"
                       f"<td>{esc(match)}</td><td>{esc(a.detail)}</td></tr>")
        out.append("</table>")
    rec = wm.recovered
    if rec is not None:
        via = ("a resolver" if rec.source == "resolver" else "the watermark")
        out.append(f"<h3>Manifest recovered through {via}</h3>")
        out.append(_dl([("Result", RECOVERED_STATE_WORDS.get(rec.state, rec.state)),
                        ("Detail", rec.detail), ("Store", rec.store),
                        ("Resolver", rec.resolver), ("Found by", rec.match_kind),
                        ("Manifest id", rec.manifest_id),
                        ("Fingerprint distance", rec.fingerprint_distance)]))
        out.append(comparison_html(rec, sample))
        if rec.state is RecoveryState.RECOVERED and rec.credentials is not None:
            out.append(_credentials_html(rec.credentials, heading="Recovered credentials",
                                         recovered=True))
        elif rec.state in (RecoveryState.EDITED, RecoveryState.MISMATCH, RecoveryState.INVALID):
            out.append("<p class=warn>The recovered manifest does not vouch for this video; its "
                       "claims are not shown as fact.</p>")
    out.append("</section>")
    return "".join(out)


def _detection_html(report: VerifyReport) -> str:
    det = report.detection
    out = ["<section><h2>Detector</h2>"]
    if det.state is DetectionState.NOT_CHECKED:
        out.append("<p class=muted>The detector was not run.</p></section>")
        return "".join(out)
    if det.state is DetectionState.ERROR:
        code, message = (det.error.code, det.error.message) if det.error else ("", "")
        out.append(f"<p class=warn>The detector could not run: {esc(code)}: "
                   f"{esc(message)}</p></section>")
        return "".join(out)
    out.append(_dl([("p_synthetic", None if det.p_synthetic is None else
                     f"{det.p_synthetic:.2f}"), ("Label", det.label),
                    ("Inconclusive", None if not det.inconclusive else
                     f"{det.inconclusive} (the score is not used)"), ("Model", det.model),
                    ("Metadata used", "yes" if det.used_metadata else "no (pixels only)")]))
    out.append("<p>A detector score is a statistical estimate, not proof.</p>")
    out.append("<h3>Per-frame score</h3>" + score_plot_svg(det.frame_scores))
    if det.signals:
        out.append("<h3>Signals</h3><table><tr><th>signal</th><th>kind</th><th>value</th>"
                   "<th>p_synthetic</th><th>weight</th><th>detail</th></tr>")
        for s in det.signals[:60]:
            value = f"{s.value:.3g}" if isinstance(s.value, float) else s.value
            p = "-" if s.p_synthetic is None else f"{s.p_synthetic:.2f}"
            out.append(f"<tr><td>{esc(s.name)}</td><td>{esc(s.kind)}</td><td>{esc(value)}</td>"
                       f"<td>{p}</td><td>{s.weight:.2f}</td><td>{esc(s.detail)}</td></tr>")
        out.append("</table>")
    out.append("</section>")
    return "".join(out)


def _decision_html(report: VerifyReport) -> str:
    d = report.decision
    if d.state is DecisionState.NOT_CHECKED:
        return "<section><h2>Decision</h2><p class=muted>No policy was applied.</p></section>"
    reasons = "".join(f"<li>{esc(r)}</li>" for r in d.reasons)
    return ("<section><h2>Decision</h2>"
            + _dl([("Policy", d.policy), ("Label", d.label), ("Action", d.action)])
            + (f"<ul>{reasons}</ul>" if reasons else "") + "</section>")


def _proves_html() -> str:
    rows = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td>"
                   f"<td>{html.escape(c)}</td></tr>" for a, b, c in PROVES)
    return ("<section><h2>What each finding proves, and what it does not</h2><table>"
            "<tr><th>finding</th><th>shows</th><th>does not show</th></tr>"
            f"{rows}</table></section>")


_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;
max-width:980px;padding:24px;color:#1c1c1c;background:#fff}
h1{font-size:20px;margin:0 0 6px}h2{font-size:17px;border-bottom:1px solid #ddd;
padding-bottom:4px;margin-top:28px}h3{font-size:15px;margin:16px 0 6px}
.banner{border-radius:8px;padding:16px 18px;border:2px solid}
.good{background:#e8f5e9;border-color:#2e7d32}.caution{background:#fff8e1;border-color:#f9a825}
.bad{background:#ffebee;border-color:#c62828}.neutral{background:#e3f2fd;border-color:#1565c0}
.error{background:#f3e5f5;border-color:#6a1b9a}
dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:8px 0}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:6px 0;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top;
overflow-wrap:anywhere}th{background:#f5f5f5}
.thumbs{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}
figure img{display:block;max-width:240px;border:1px solid #ccc}
figcaption{font-size:12px;color:#555}.muted{color:#666}.warn{color:#b71c1c}
pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px;max-height:480px}
footer{margin-top:32px;font-size:12px;color:#666}
ul.tree,ul.tree ul{list-style:none;padding-left:22px;border-left:1px solid #ccc;margin:4px 0}
ul.tree{border-left:none;padding-left:0}.node{display:flex;gap:10px;margin:6px 0}
.nthumb{max-width:96px;max-height:96px;border:1px solid #ccc;object-fit:contain}
.badge{font-size:12px;padding:1px 6px;border-radius:8px;border:1px solid #999}
.badge.ok{background:#e8f5e9;border-color:#2e7d32}.badge.bad{background:#ffebee;
border-color:#c62828;color:#b71c1c;font-weight:600}.badge.muted{color:#666}
"""


def stylesheet() -> str:
    """The report's CSS (the verify service serves it as a file to show reports in its page)."""
    return _CSS


def render_html(report: VerifyReport, *, sample: FrameSampleLike | None = None) -> str:
    """One self-contained HTML page for ``report`` (thumbnails from ``sample`` if given)."""
    from veriframe._version import __version__

    b = banner(report)
    f = report.file
    media = f.media or {}
    media_rows: list[tuple[str, object | None]] = [
        ("File", f.path), ("Size", None if f.size_bytes is None else f"{f.size_bytes:,} bytes"),
        ("SHA-256", f.sha256)]
    if media:
        media_rows += [("Dimensions", f"{media.get('width', '?')}x{media.get('height', '?')}"),
                       ("Frame rate", media.get("fps")), ("Duration (s)", media.get("duration")),
                       ("Video codec", media.get("video_codec")),
                       ("Audio codec", media.get("audio_codec")),
                       ("Container", media.get("container"))]
    if report.error:
        media_rows += [("Error", f"{report.error.code}: {report.error.message}"),
                       ("Hint", report.error.hint)]
    title = esc(f.path.replace("\\", "/").rsplit("/", 1)[-1], max_len=200)
    body = [
        f'<div class="banner {b.tone}"><h1>{html.escape(b.headline)}</h1>'
        f"<p>{html.escape(b.summary)}</p>"
        f"<p class=muted>verdict: <b>{html.escape(report.verdict.value)}</b></p></div>",
        "<section><h2>File</h2>" + _dl(media_rows) + "</section>",
        "<section><h2>Sampled frames</h2>" + _thumbs(sample) + "</section>",
        _credentials_html(report.credentials),
        _watermark_html(report, sample),
        _detection_html(report),
        _decision_html(report),
        _proves_html(),
        f"<footer>veriframe {html.escape(__version__)} · schema "
        f"{html.escape(report.schema)} · this page loads nothing from the network.</footer>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>veriframe report: {title}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
