"""The verify service: a private web page for newsrooms and an HTTP API for pipelines.

``veriframe serve`` runs it on the newsroom's or platform's own machine (Starlette under
uvicorn). ``GET /`` is the page: pick or drop a file, watch it upload, read the same report as
``veriframe verify --html`` and download it as JSON or HTML. The API: ``POST /v1/verify``
(the ``veriframe.verify/1.2`` document), ``POST /v1/report`` (JSON and HTML report as text),
``POST /v1/detect``, ``GET /v1/policies``, ``GET /health`` and ``GET /openapi.json``. Uploads
are checked in a private temporary folder that is deleted before the answer leaves. See
docs/serve.md.
"""

from veriframe.serve.app import ServeConfig, create_app

__all__ = ["ServeConfig", "create_app"]
