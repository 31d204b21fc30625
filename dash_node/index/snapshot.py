"""Atomic, checksummed index snapshots tagged with the WAL LSN they cover.

Both indexes save the same way: every file into a fresh temp directory, a manifest with the LSN and a
sha256 per file, fsync, then swap the directory in. POSIX cannot rename a directory over a non-empty one,
so the swap is old -> ``.old``, tmp -> dir, delete ``.old``; loading falls back to ``.old`` when a crash
lands between the two renames.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dash_node.errors import WalCorruption

MANIFEST = "manifest.json"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_name(tenant_id: str, suffix: str) -> str:
    """Tenant ids are arbitrary Unicode: files are named by a hash, the real id lives in the manifest."""
    return hashlib.sha256(tenant_id.encode("utf-8")).hexdigest()[:32] + suffix


def write_snapshot(
    directory: Path, lsn: int, writers: dict[str, Callable[[Path], None]], meta: dict[str, Any]
) -> None:
    """Call each writer with its file path inside a temp dir, then publish the dir atomically."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.with_name(directory.name + ".tmp")
    old = directory.with_name(directory.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    sums = {}
    for name, write in writers.items():
        path = tmp / name
        write(path)
        fsync_path(path)
        sums[name] = sha256_file(path)
    body = {"lsn": int(lsn), "files": sums, "meta": meta}
    with (tmp / MANIFEST).open("w", encoding="utf-8") as f:
        json.dump({**body, "check": _check(body)}, f, ensure_ascii=False, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    fsync_path(tmp)
    if directory.exists():
        if old.exists():
            shutil.rmtree(old)
        directory.rename(old)
    tmp.rename(directory)
    fsync_path(directory.parent)
    shutil.rmtree(old, ignore_errors=True)


def read_snapshot(directory: Path) -> tuple[Path, int, dict[str, Any]] | None:
    """-> (the directory to read files from, lsn, meta), with every file's checksum verified; None if
    no snapshot was ever published."""
    directory = Path(directory)
    if not (directory / MANIFEST).exists():
        old = directory.with_name(directory.name + ".old")
        if not (old / MANIFEST).exists():
            return None
        directory = old
    manifest_path = directory / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        body = {"lsn": manifest["lsn"], "files": manifest["files"], "meta": manifest["meta"]}
        if manifest["check"] != _check(body):
            raise ValueError("its own checksum does not match")
        lsn = int(manifest["lsn"])
        sums = dict(manifest["files"])
        meta = dict(manifest["meta"])
    except (ValueError, KeyError, TypeError) as exc:
        raise WalCorruption(f"{manifest_path}: unreadable snapshot manifest ({exc})") from exc
    unlisted = _referenced_files(meta) - sums.keys()
    if unlisted:
        raise WalCorruption(f"{manifest_path}: names files it does not checksum: {sorted(unlisted)[:3]}")
    for name, expected in sums.items():
        path = directory / name
        if not path.exists():
            raise WalCorruption(f"{path}: snapshot file missing")
        if sha256_file(path) != expected:
            raise WalCorruption(f"{path}: sha256 mismatch")
    return directory, lsn, meta


def _check(body: dict[str, Any]) -> str:
    """sha256 of the manifest's own content: an edited LSN or file list is caught, not trusted."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def _referenced_files(meta: Any) -> set[str]:
    """Every ``"file"`` named anywhere in the meta: a loader may open only checksummed files."""
    if isinstance(meta, dict):
        found = {v for k, v in meta.items() if k == "file" and isinstance(v, str)}
        return found.union(*(_referenced_files(v) for v in meta.values()))
    if isinstance(meta, list):
        return set().union(*(_referenced_files(v) for v in meta))
    return set()
