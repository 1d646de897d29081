"""Typed errors and states: one exit-code table, ErrorInfo in reports, raise_for_error."""

from __future__ import annotations

import json

import pytest

from veriframe.errors import (
    ErrorInfo,
    ErrorKind,
    ExitCode,
    MediaError,
    UnsupportedInputError,
    VeriframeError,
)
from veriframe.results import (
    CredentialCheck,
    CredentialState,
    DetectionCheck,
    DetectionState,
    FileInfo,
    RecoveredCredentials,
    RecoveryState,
    Verdict,
    VerifyReport,
    WatermarkCheck,
)


def _report(verdict: Verdict, **kw: object) -> VerifyReport:
    return VerifyReport(file=FileInfo(path="x.mp4"), verdict=verdict, **kw)  # type: ignore[arg-type]


def test_error_kind_decides_the_exit_code() -> None:
    assert MediaError("media.unreadable", "m").kind is ErrorKind.INPUT
    assert MediaError("media.not-found", "m").exit_code is ExitCode.OPERATIONAL
    assert UnsupportedInputError("media.unsupported-type", "m").exit_code == 4
    assert VeriframeError("keys.missing", "m").exit_code == 1
    info = MediaError("media.empty", "empty", "give a file").info
    assert info == ErrorInfo("media.empty", "empty", "give a file", ErrorKind.INPUT)
    assert info.to_dict() == {"code": "media.empty", "message": "empty", "hint": "give a file"}
    exc = info.to_exception()
    assert (exc.code, exc.kind, exc.exit_code) == ("media.empty", ErrorKind.INPUT, 4)


@pytest.mark.parametrize(
    ("verdict", "require_trusted", "state", "expected"),
    [
        (Verdict.SIGNED, False, CredentialState.VALID, ExitCode.OK),
        (Verdict.SIGNED, True, CredentialState.VALID, ExitCode.TAMPERED),
        (Verdict.SIGNED, True, CredentialState.TRUSTED, ExitCode.OK),
        (Verdict.TAMPERED, False, CredentialState.INVALID, ExitCode.TAMPERED),
        (Verdict.UNSIGNED, False, CredentialState.ABSENT, ExitCode.NO_PROVENANCE),
    ],
)
def test_one_exit_code_table(verdict: Verdict, require_trusted: bool,
                             state: CredentialState, expected: ExitCode) -> None:
    rep = _report(verdict, credentials=CredentialCheck(state=state))
    assert rep.exit_code(require_trusted=require_trusted) is expected


def test_recovered_exit_code_follows_the_recovered_signer() -> None:
    rec = RecoveredCredentials(state=RecoveryState.RECOVERED,
                               credentials=CredentialCheck(state=CredentialState.VALID))
    rep = _report(Verdict.RECOVERED, watermark=WatermarkCheck(recovered=rec))
    assert rep.exit_code() is ExitCode.OK
    assert rep.exit_code(require_trusted=True) is ExitCode.TAMPERED


def test_error_verdict_exits_by_kind_and_raises_on_request() -> None:
    unsupported = ErrorInfo("credentials.unsupported-format", "m", "h", ErrorKind.INPUT)
    rep = _report(Verdict.ERROR, error=unsupported)
    assert rep.exit_code() is ExitCode.UNSUPPORTED_INPUT
    with pytest.raises(VeriframeError) as info:
        rep.raise_for_error()
    assert info.value.code == "credentials.unsupported-format" and info.value.exit_code == 4
    assert _report(Verdict.ERROR, error=ErrorInfo("store.corrupt", "m")).exit_code() == 1
    ok = _report(Verdict.UNSIGNED)
    assert ok.raise_for_error() is ok


def test_states_are_enums_and_serialise_to_the_same_strings() -> None:
    det = DetectionCheck(state="scored", error={"code": "c", "message": "m", "hint": "h"})
    assert det.state is DetectionState.SCORED
    assert isinstance(det.error, ErrorInfo) and det.error.code == "c"
    doc = json.loads(json.dumps(_report(Verdict.UNSIGNED, detection=det).to_dict()))
    assert doc["detection"]["state"] == "scored"
    assert doc["detection"]["error"] == {"code": "c", "message": "m", "hint": "h"}
    with pytest.raises(ValueError):
        DetectionCheck(state="maybe")


def _raised_codes() -> list[tuple[str, str, str, int]]:
    """(class name, code, file, line) of every ``SomeError("prefix.code", ...)`` in the source
    (``HTTPError(status, "code", ...)`` takes the code second)."""
    import ast
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src" / "veriframe"
    found = []
    for path in sorted(src.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else "")
            if not name.endswith("Error"):
                continue
            args = node.args[1:] if name == "HTTPError" else node.args
            if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str) \
                    and "." in args[0].value and " " not in args[0].value:
                found.append((name, args[0].value, str(path.relative_to(src)), node.lineno))
    return found


def test_every_code_is_raised_by_its_domains_class() -> None:
    import veriframe.errors as errors_module
    from veriframe.errors import CLASS_FOR_PREFIX

    wrong = []
    codes = _raised_codes()
    assert len(codes) > 50  # the scan sees the source
    for name, code, where, line in codes:
        allowed = CLASS_FOR_PREFIX.get(code.split(".")[0])
        cls = getattr(errors_module, name, None)
        if allowed is None or cls is None or cls not in allowed:
            wrong.append(f"{where}:{line} {name}({code!r})")
    assert not wrong, "codes raised by another domain's class:\n" + "\n".join(wrong)


def test_every_error_class_lives_in_errors_py() -> None:
    import ast
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "src" / "veriframe"
    outside = []
    for path in sorted(src.rglob("*.py")):
        if path.name == "errors.py" and path.parent == src:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                    getattr(b, "id", getattr(b, "attr", "")).endswith("Error") for b in node.bases):
                outside.append(f"{path.relative_to(src)}: {node.name}")
    assert not outside, outside


def test_errors_survive_pickling_with_their_fields() -> None:
    """An error raised in a worker process (scan pool, Ray) reaches the parent intact."""
    import pickle

    from veriframe.errors import HTTPError, MediaError, ResolverError

    for err in (MediaError("media.limits", "too big", "lower it"),
                HTTPError(429, "http.rate-limited", "slow down", headers={"Retry-After": "2"}),
                ResolverError("resolver.bad-query", "no", status=400)):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err)
        assert (back.code, back.message, back.hint, back.kind) == (
            err.code, err.message, err.hint, err.kind)
        assert getattr(back, "status", None) == getattr(err, "status", None)
        assert str(back) == str(err)
