"""The audit trail: every mutation and every denied request, as tamper-evident JSONL.

Each record holds ``seq`` (from 1, no gaps), ``time``, ``principal``, ``tenant``, ``action`` (the RPC),
``ids`` (claim ids written or asked for), ``outcome`` (``ok`` / ``denied`` / ``error``), ``code`` and
``reason``, then ``prev`` — the previous record's ``mac`` — and ``mac``, an HMAC-SHA256 under the audit key
over the canonical JSON of everything before it. Editing a record breaks its MAC; deleting or reordering
records breaks ``seq`` or the ``prev`` chain; cutting the tail is caught against the head file
(``<log>.head``: the last ``seq`` and ``mac``, replaced atomically after every flush), which an operator
may also copy elsewhere. ``dash audit verify FILE`` checks a log and names the first bad record.

Writes are durable before a mutation is answered (a writer thread appends and fsyncs in groups, like the
WAL; ``fsync="off"`` for tests that do not care); reads never wait for it — only denied reads are
recorded, and they wait only for their own record.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

GENESIS = "0" * 64
FIELDS = ("seq", "time", "principal", "tenant", "action", "ids", "outcome", "code", "reason", "prev")


def _mac(key: bytes, record: dict) -> str:
    body = json.dumps({k: record[k] for k in FIELDS}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


@dataclass
class _Pending:
    record: dict
    done: threading.Event
    error: BaseException | None = None


class AuditLog:
    """Appends chained, keyed records to ``path`` from one writer thread."""

    def __init__(self, path: Path, key: bytes, fsync: str = "always") -> None:
        if len(key) < 32:
            raise ValueError("audit key: needs at least 32 bytes")
        self.path, self._key, self._fsync = path, key, fsync
        path.parent.mkdir(parents=True, exist_ok=True)
        self._seq, self._prev = self._resume()
        self._file = path.open("ab")
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="dash-audit", daemon=True)
        self._thread.start()

    def _resume(self) -> tuple[int, str]:
        """Continue the chain of an existing log (which must verify)."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return 0, GENESIS
        problem = verify(self.path, self._key)
        if problem is not None:
            raise ValueError(f"audit log {self.path} does not verify, not appending to it: {problem}")
        last = json.loads(self.path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1])
        return last["seq"], last["mac"]

    async def record(self, **fields) -> None:
        """Append one record; returns once it is durable."""
        pending = _Pending(dict(fields), threading.Event())
        self._queue.put(pending)
        await asyncio.to_thread(pending.done.wait)
        if pending.error is not None:
            raise pending.error

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while True:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                group.append(nxt)
            try:
                for p in group:
                    self._seq += 1
                    rec = {
                        "seq": self._seq,
                        "time": round(time.time(), 6),
                        "principal": p.record.get("principal", ""),
                        "tenant": p.record.get("tenant", ""),
                        "action": p.record.get("action", ""),
                        "ids": list(p.record.get("ids", []))[:1000],
                        "outcome": p.record.get("outcome", ""),
                        "code": p.record.get("code", ""),
                        "reason": p.record.get("reason", "")[:500],
                        "prev": self._prev,
                    }
                    rec["mac"] = self._prev = _mac(self._key, rec)
                    self._file.write(json.dumps(rec, sort_keys=True).encode() + b"\n")
                self._file.flush()
                if self._fsync != "off":
                    os.fsync(self._file.fileno())
                self._write_head()
            except OSError as exc:
                for p in group:
                    p.error = exc
            for p in group:
                p.done.set()

    def _write_head(self) -> None:
        tmp = self.path.with_name(self.path.name + ".head.tmp")
        tmp.write_text(json.dumps({"seq": self._seq, "mac": self._prev}))
        if self._fsync != "off":
            with tmp.open("rb") as f:
                os.fsync(f.fileno())
        tmp.replace(self.path.with_name(self.path.name + ".head"))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(10)
        self._file.close()


def verify(path: Path, key: bytes, head: Path | None = None) -> str | None:
    """None if the log is intact, else what is wrong and where (the first bad record)."""
    prev, seq = GENESIS, 0
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, 1):
            try:
                rec = json.loads(raw)
                fields_ok = isinstance(rec, dict) and all(k in rec for k in (*FIELDS, "mac"))
            except ValueError:
                fields_ok = False
            if not fields_ok:
                return f"record at line {line_no}: not a complete audit record"
            if not hmac.compare_digest(_mac(key, rec), str(rec["mac"])):
                return f"record {rec['seq']} (line {line_no}): MAC mismatch — edited, or not under this key"
            if rec["seq"] != seq + 1:
                where = f"record {rec['seq']} (line {line_no})"
                return f"{where}: expected seq {seq + 1} — records deleted or reordered"
            if rec["prev"] != prev:
                return f"record {rec['seq']} (line {line_no}): chain broken — records deleted or reordered"
            prev, seq = rec["mac"], rec["seq"]
    head = head if head is not None else path.with_name(path.name + ".head")
    if head.exists():
        h = json.loads(head.read_text())
        if h["seq"] > seq:
            return f"log ends at record {seq} but the head says {h['seq']}: truncated after record {seq}"
        if h["seq"] == seq and h["mac"] != prev:
            return f"record {seq}: last record differs from the head"
    return None


def load_key(path: Path | None) -> bytes:
    if path is not None:
        return path.read_bytes().strip()
    return os.environ.get("DASH_AUDIT_KEY", "").strip().encode()


def main(argv: list[str]) -> int:
    """``dash audit verify FILE [--key-file K] [--head H]``: 0 if intact, 1 naming the first bad record."""
    p = argparse.ArgumentParser(prog="dash audit", description="check a tamper-evident audit log")
    sub = p.add_subparsers(dest="cmd", required=True)
    ver = sub.add_parser("verify", help="verify the chain and MACs of an audit log")
    ver.add_argument("file", type=Path)
    ver.add_argument("--key-file", type=Path, default=None, help="the audit key (or $DASH_AUDIT_KEY)")
    ver.add_argument("--head", type=Path, default=None, help="the head file (default: FILE.head)")
    args = p.parse_args(argv)
    key = load_key(args.key_file)
    if not key:
        print("dash audit verify: no key (--key-file or $DASH_AUDIT_KEY)", file=sys.stderr)
        return 2
    problem = verify(args.file, key, args.head)
    if problem is None:
        print(f"{args.file}: intact")
        return 0
    print(f"{args.file}: {problem}")
    return 1
