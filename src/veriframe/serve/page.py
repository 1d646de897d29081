"""The page a newsroom opens: ``static/index.html`` filled in once per service, and its files.

The page loads nothing but its own script and two stylesheets from this service (no inline
script or style, no other origin: see :data:`PAGE_CSP`). The script uploads the file with a
progress bar to ``POST /v1/report`` and shows the HTML report it gets back inside the page,
styled by the report's own stylesheet (``/static/report.css``); the two downloads are made
in the browser from that same answer, so nothing has to be kept on the server.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from string import Template

from veriframe._service.errors import HTTPError

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'")
PAGE_HEADERS = {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store"}
_STATIC = {"page.js": "text/javascript; charset=utf-8", "page.css": "text/css; charset=utf-8"}


def _read(name: str) -> str:
    return resources.files("veriframe.serve").joinpath("static", name).read_text("utf-8")


@cache
def static_file(name: str) -> tuple[bytes, str]:
    """The bytes and media type of ``/static/{name}`` (404 ``http.not-found`` for others)."""
    if name == "report.css":
        from veriframe.report import stylesheet

        return stylesheet().encode("utf-8"), "text/css; charset=utf-8"
    if name not in _STATIC:
        raise HTTPError(404, "http.not-found", "no such file", "")
    return _read(name).encode("utf-8"), _STATIC[name]


def _size(n: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"


def render_page(*, policies: Mapping[str, str], default_policy: str, auth: bool,
                max_upload_bytes: int, resolvers: Sequence[str], resolver_mode: str) -> bytes:
    """The page's HTML for one service (every value escaped)."""
    from veriframe._version import __version__

    esc = html.escape
    options = [f'<option value="{esc(name)}"{" selected" if name == default_policy else ""}>'
               f"{esc(name)}: {esc(description)}</option>"
               for name, description in sorted(policies.items())]
    options.append(f'<option value="none"{" selected" if default_policy == "none" else ""}>'
                   "none: no policy decision</option>")
    token = ('<label class="vf-option">Access token <input id="token" type="password" '
             'autocomplete="off" spellcheck="false"></label>') if auth else ""
    note = ""
    if resolvers:
        sent = {"fingerprint": "its perceptual fingerprint (no pixels)",
                "excerpt": "an excerpt of its sampled frames",
                "both": "its fingerprint, then, if that finds nothing, an excerpt of its "
                        "sampled frames"}.get(resolver_mode, "its fingerprint")
        note = (" If a clip carries no credentials, " + esc(sent) + " is sent to: "
                + ", ".join(f"<code>{esc(url)}</code>" for url in resolvers) + ".")
    page = Template(_read("index.html")).substitute(
        policy_options="".join(options), token_field=token, resolver_note=note,
        max_upload=esc(_size(max_upload_bytes)), max_upload_bytes=str(int(max_upload_bytes)),
        version=esc(__version__))
    return page.encode("utf-8")
