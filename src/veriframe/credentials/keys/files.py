"""The key folder on disk: file names, 0600 secret files written atomically, the archive.

Layout of ``HomePaths.keys`` (folder 0700, secret files 0600):

- ``ca.pem`` / ``ca.key.pem``: the local root CA (key encrypted; absent after ``import``
  when the real CA's key is not ours).
- ``signing.pem``, ``chain.pem`` (leaf first), ``signing.key.pem``: the current signing
  certificate, its chain and its encrypted PKCS#8 key.
- ``watermark.key``: the current 32-byte watermark key; ``archive/`` keeps rotated signing
  certificates and older watermark keys (the keyring that detection searches).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import shutil
import stat
from pathlib import Path

from veriframe.errors import KeysError

CA_CERT = "ca.pem"
CA_KEY = "ca.key.pem"
LEAF_CERT = "signing.pem"
CHAIN = "chain.pem"
LEAF_KEY = "signing.key.pem"
WATERMARK_KEY = "watermark.key"
ARCHIVE = "archive"
INIT_HINT = 'veriframe keys init --org "Your Organisation"'


def write_secret(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` atomically, created with ``mode`` from the start (never briefly 0644)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def ensure_dir(path: Path) -> None:
    """Create ``path`` (and parents) and make it 0700."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def check_permissions(path: Path) -> None:
    """Refuse a secret file that the group or others can read or write."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeysError(
            "keys.insecure-permissions",
            f"{path} is accessible to other users (mode {mode:04o})",
            f"chmod 600 {path}",
        )


def read_secret(path: Path) -> bytes:
    """A secret file's bytes; ``keys.missing`` or ``keys.insecure-permissions`` otherwise."""
    if not path.is_file():
        raise KeysError(
            "keys.missing", f"no signing keys in {path.parent} ({path.name} missing)", INIT_HINT
        )
    check_permissions(path)
    return path.read_bytes()


def archive_current(keys: Path, *, reason: str) -> Path | None:
    """Move the current leaf files into ``archive/<time>-<reason>/``; return that folder."""
    present = [keys / n for n in (LEAF_CERT, CHAIN, LEAF_KEY) if (keys / n).exists()]
    if not present:
        return None
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    dest = keys / ARCHIVE / f"{stamp}-{reason}"
    ensure_dir(keys / ARCHIVE)
    ensure_dir(dest)
    for p in present:
        shutil.move(str(p), dest / p.name)
    return dest


def move_to_archive(path: Path, keys: Path) -> None:
    """Move one file into the archive under a unique name."""
    ensure_dir(keys / ARCHIVE)
    shutil.move(str(path), keys / ARCHIVE / f"replaced-{secrets.token_hex(4)}-{path.name}")
