"""The verify service's OpenAPI 3.1 document (``GET /openapi.json``).

The schemas pin what a client may rely on: the top-level keys and states of the
``veriframe.verify/1.2`` document (docs/json-schema.md has every field), the detect answer,
the policy list and the error document. ``tests/services/test_serve.py`` validates the
service's answers against them.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from veriframe.results import (
    SCHEMA_VERIFY,
    CredentialState,
    DecisionState,
    DetectionState,
    Verdict,
    WatermarkState,
)

_REF = "#/components/schemas/"
_NULLABLE_STR = {"type": ["string", "null"]}


def _state(states: Any) -> dict[str, Any]:
    return {"type": "object", "required": ["state"],
            "properties": {"state": {"enum": [s.value for s in states]}}}


def _error_response(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {"application/json": {
        "schema": {"$ref": _REF + "error"}}}}
    if retry_after:
        out["headers"] = {"Retry-After": {"description": "seconds to wait before retrying",
                                          "schema": {"type": "integer"}}}
    return out


_UPLOAD_ERRORS = {
    "400": _error_response("No file, a malformed form, an unknown field or policy "
                           "(http.no-file, http.bad-form, policy.not-found)"),
    "401": _error_response("A bearer token is configured and missing or wrong"),
    "403": _error_response("A browser page of another web site sent it (http.cross-origin)"),
    "408": _error_response("The upload took longer than its time budget "
                           "(http.upload-timeout), or arrived under the minimum rate "
                           "(http.upload-too-slow)"),
    "413": _error_response("The upload is over the size limit (http.too-large) or the video "
                           "over a decode limit or the decode budget (media.limits)"),
    "415": _error_response("Not multipart/form-data (http.not-multipart), or the file is not "
                           "a video (media.unsupported-type, media.unsupported-codec)"),
    "422": _error_response("The file cannot be read as a video (media.unreadable, "
                           "media.empty, media.no-video, ...)"),
    "421": _error_response("The Host header is not one of this service's names "
                           "(http.bad-host)"),
    "429": _error_response("Too many uploads from this client: over its rate "
                           "(http.rate-limited) or with too many in flight "
                           "(http.too-many-uploads)", retry_after=True),
    "503": _error_response("Every worker is busy and the queue is full, or too many uploads "
                           "are arriving (http.busy)", retry_after=True),
    "504": _error_response("The check took longer than its time budget (http.timeout)"),
}


def _upload_body(*, extra: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream",
                                "description": "the video file"}, **extra}}}}}


_POLICY_FIELD = {"policy": {"type": "string", "description": "a policy name from "
                            "GET /v1/policies, or 'none' (default: the service's policy)"}}
_DETECT_FIELD = {"detect": {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no",
                                                       "on", "off"],
                            "description": "run the synthetic-content detector (default true)"}}
_METADATA_FIELD = {"metadata": {"type": "string", "enum": ["true", "false", "1", "0", "yes",
                                                           "no", "on", "off"],
                                "description": "use container metadata as evidence "
                                "(default true; false scores pixels only)"}}


def _schemas() -> dict[str, Any]:
    return {
        "error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message", "hint"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                           "hint": {"type": "string"}}}}},
        "verifyReport": {
            "type": "object",
            "description": "The veriframe.verify/1.2 document, as `veriframe verify --json` "
                           "writes it (docs/json-schema.md). `file.path` is the uploaded "
                           "file's name.",
            "required": ["schema", "file", "verdict", "credentials", "watermark", "detection",
                         "decision", "error"],
            "properties": {
                "schema": {"const": SCHEMA_VERIFY},
                "file": {"type": "object", "required": ["path", "size_bytes", "sha256"],
                         "properties": {"path": {"type": "string"},
                                        "size_bytes": {"type": ["integer", "null"]},
                                        "sha256": _NULLABLE_STR,
                                        "media": {"type": ["object", "null"]}}},
                "verdict": {"enum": [v.value for v in Verdict]},
                "credentials": _state(CredentialState),
                "watermark": _state(WatermarkState),
                "detection": _state(DetectionState),
                "decision": {**_state(DecisionState), "properties": {
                    "state": {"enum": [s.value for s in DecisionState]},
                    "policy": _NULLABLE_STR, "label": _NULLABLE_STR, "action": _NULLABLE_STR,
                    "reasons": {"type": "array", "items": {"type": "string"}}}},
                "error": {"type": ["object", "null"]},
            },
        },
        "reportBundle": {
            "type": "object", "required": ["verdict", "json", "html"],
            "description": "What the page shows and offers for download: the verify JSON and "
                           "the self-contained HTML report (as `verify --html` writes it), "
                           "each as text.",
            "properties": {"verdict": {"enum": [v.value for v in Verdict]},
                           "json": {"type": "string", "contentMediaType": "application/json"},
                           "html": {"type": "string", "contentMediaType": "text/html"}},
        },
        "detectResult": {
            "type": "object", "required": ["file", "detection"],
            "description": "What `veriframe detect --json` writes: the file's name and the "
                           "detector's estimate (a hint, not proof).",
            "properties": {
                "file": {"type": "string"},
                "detection": {**_state(DetectionState), "properties": {
                    "state": {"enum": [s.value for s in DetectionState]},
                    "p_synthetic": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                    "label": _NULLABLE_STR, "model": _NULLABLE_STR,
                    "signals": {"type": "array", "items": {"type": "object"}},
                    "frame_scores": {"type": "array", "items": {"type": "object"}}}},
            },
        },
        "policies": {
            "type": "object", "required": ["default", "policies"],
            "properties": {
                "default": {"type": "string"},
                "policies": {"type": "array", "items": {
                    "type": "object", "required": ["name", "description"],
                    "properties": {"name": {"type": "string"},
                                   "description": {"type": "string"}}}}},
        },
        "health": {
            "type": "object", "required": ["status", "version", "auth", "busy", "capacity"],
            "properties": {"status": {"const": "ok"}, "version": {"type": "string"},
                           "auth": {"type": "boolean"}, "busy": {"type": "integer"},
                           "capacity": {"type": "integer"}, "arriving": {"type": "integer"}},
        },
    }


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": _REF + ref}}}}


@cache
def _document() -> dict[str, Any]:
    upload_ops = {
        "/v1/verify": ("verify", "Verify a video: credentials, watermark, detector, policy.",
                       {**_POLICY_FIELD, **_DETECT_FIELD},
                       _json("verifyReport", "The verify document")),
        "/v1/report": ("report", "Verify a video; the JSON and the HTML report in one answer "
                       "(what the page uses).", {**_POLICY_FIELD, **_DETECT_FIELD},
                       _json("reportBundle", "Both reports, as text")),
        "/v1/detect": ("detect", "Only the synthetic-content detector (a hint, not proof).",
                       {**_POLICY_FIELD, **_METADATA_FIELD},
                       _json("detectResult", "The detector's estimate")),
    }
    paths: dict[str, Any] = {
        "/health": {"get": {"operationId": "health", "summary": "Liveness and load.",
                            "responses": {"200": _json("health", "Up")}}},
        "/v1/policies": {"get": {"operationId": "policies",
                                 "summary": "The policies a request may name.",
                                 "responses": {"200": _json("policies", "The policies")}}},
    }
    for path, (op, summary, fields, ok) in upload_ops.items():
        paths[path] = {"post": {"operationId": op, "summary": summary,
                                "requestBody": _upload_body(extra=fields),
                                "responses": {"200": ok, **_UPLOAD_ERRORS}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "veriframe verify service", "version": "1",
                 "description": "Check a video's provenance on your own machine. Uploads are "
                 "processed in a temporary folder and deleted after the answer. Errors are "
                 '{"error": {"code", "message", "hint"}} with veriframe\'s stable codes.'},
        "paths": paths,
        "components": {"schemas": _schemas(),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def openapi_document(*, auth: bool,
                     servers: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The document for a service (``auth``: whether its uploads need a bearer token;
    ``servers``: from the service's configuration, never from a request's ``Host``)."""
    doc = copy.deepcopy(_document())
    if auth:
        for path in ("/v1/verify", "/v1/report", "/v1/detect"):
            doc["paths"][path]["post"]["security"] = [{"bearer": []}]
    if servers:
        doc["servers"] = copy.deepcopy(servers)
    return doc
