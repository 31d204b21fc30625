"""Write-ahead log of one shard replica.

Every write is appended here and made durable (per the fsync policy) before it is acknowledged, so a
crash can always be repaired by replaying the log over the last checkpoint.

On disk: a directory of segment files named ``%020d.wal`` after the first LSN they hold. Each segment is a
32-byte header followed by frames::

    header: magic b"DASHWAL1" | u32 version | u64 generation | u64 first_lsn | u32 crc32c(previous fields)
    frame:  u32 payload length | u32 crc32c(lsn, type, payload) | u64 lsn | u8 type | payload

All integers are little-endian. LSNs are global, start at 1, are consecutive across segments and are
never reused. On open, the first frame that fails a check ends the log: that segment is cut there and
every later segment is deleted (a torn write at the tail is the normal crash case).
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import google_crc32c

from dash_node.errors import ConfigError, InvalidArgument, WalCorruption, WalFailed

FSYNC_POLICIES = ("always", "batch", "off")
MAGIC = b"DASHWAL1"
VERSION = 1
MAX_PAYLOAD = 256 << 20  # a length field above this is corruption, not a real record

_HEADER = struct.Struct("<8sIQQ")  # magic, version, generation, first_lsn (the crc follows)
HEADER_SIZE = _HEADER.size + 4
_FRAME = struct.Struct("<IIQB")  # payload length, crc, lsn, type
FRAME_HEADER_SIZE = _FRAME.size
_CRC_FIELDS = struct.Struct("<QB")  # lsn, type: what the frame crc covers besides the payload


@dataclass(frozen=True)
class WalConfig:
    """How hard the WAL works for durability; unsafe choices need ``allow_unsafe``."""

    fsync: str = "always"  # always | batch (engine groups records, then one fsync) | off (never fsync)
    batch_max_records: int = 512
    batch_max_interval_ms: float = 2.0
    segment_bytes: int = 64 << 20
    allow_unsafe: bool = False

    def validate(self) -> None:
        """Refuse settings that are invalid, or unsafe without an explicit opt-in."""
        if self.fsync not in FSYNC_POLICIES:
            raise ConfigError(f"wal.fsync: unknown policy {self.fsync!r}, expected one of {FSYNC_POLICIES}")
        if self.fsync == "off" and not self.allow_unsafe:
            raise ConfigError("wal.fsync: 'off' loses acknowledged writes on power loss; needs allow_unsafe")
        if not self.batch_max_records > 0:
            raise ConfigError(f"wal.batch_max_records: must be > 0, got {self.batch_max_records}")
        if not self.batch_max_interval_ms > 0:  # also rejects NaN
            raise ConfigError(f"wal.batch_max_interval_ms: must be > 0, got {self.batch_max_interval_ms}")
        if self.segment_bytes < 4096:
            raise ConfigError(f"wal.segment_bytes: must be >= 4096, got {self.segment_bytes}")
        if not self.allow_unsafe and self.batch_max_interval_ms > 100:
            raise ConfigError(
                "wal.batch_max_interval_ms: above 100 ms makes ack latency unbounded; needs allow_unsafe"
            )
        if not self.allow_unsafe and self.batch_max_records > 100_000:
            raise ConfigError(
                "wal.batch_max_records: above 100000 makes ack latency unbounded; needs allow_unsafe"
            )


@dataclass(frozen=True)
class WalRecord:
    lsn: int
    type: int
    payload: bytes


@dataclass(frozen=True)
class RecoveryReport:
    """What opening the WAL had to repair; the engine logs it and may alert on data loss."""

    last_lsn: int  # last LSN after open (0 for a fresh WAL)
    dropped_bytes: int  # bytes cut from the tail, including whole dropped segments
    dropped_segments: list[str] = field(default_factory=list)  # file names deleted after a bad one
    reason: str = ""  # "" when clean, else where and why the log was cut


@dataclass
class _Segment:
    first_lsn: int
    path: Path
    size: int


class _Bad(Exception):
    """A header or frame failed a check; the message says which."""


def _frame_crc(lsn: int, rtype: int, payload: bytes) -> int:
    return google_crc32c.extend(google_crc32c.value(_CRC_FIELDS.pack(lsn, rtype)), payload)


def _encode_header(generation: int, first_lsn: int) -> bytes:
    head = _HEADER.pack(MAGIC, VERSION, generation, first_lsn)
    return head + struct.pack("<I", google_crc32c.value(head))


def _encode_frame(lsn: int, rtype: int, payload: bytes) -> bytes:
    return _FRAME.pack(len(payload), _frame_crc(lsn, rtype, payload), lsn, rtype) + payload


def _read_header(f: BinaryIO, name: str) -> tuple[int, int]:
    """Return (generation, first_lsn); raise _Bad if torn or damaged."""
    raw = f.read(HEADER_SIZE)
    if len(raw) < HEADER_SIZE:
        raise _Bad(f"short header ({len(raw)} of {HEADER_SIZE} bytes)")
    magic, version, generation, first_lsn = _HEADER.unpack_from(raw)
    (crc,) = struct.unpack_from("<I", raw, _HEADER.size)
    if magic != MAGIC:
        raise _Bad("bad magic")
    if crc != google_crc32c.value(raw[: _HEADER.size]):
        raise _Bad("header crc mismatch")
    if version != VERSION:
        # Intact but from another format: deleting it would destroy data we merely cannot read.
        raise WalCorruption(f"wal: segment {name} has unsupported version {version} (expected {VERSION})")
    if generation < 1 or first_lsn < 1:
        raise _Bad(f"invalid header fields (generation {generation}, first_lsn {first_lsn})")
    return generation, first_lsn


def _read_frame(f: BinaryIO, expected_lsn: int) -> WalRecord | None:
    """Return the next record, None at a clean end of file; raise _Bad if the frame fails a check."""
    head = f.read(FRAME_HEADER_SIZE)
    if not head:
        return None
    if len(head) < FRAME_HEADER_SIZE:
        raise _Bad(f"short frame header ({len(head)} of {FRAME_HEADER_SIZE} bytes)")
    length, crc, lsn, rtype = _FRAME.unpack(head)
    if length > MAX_PAYLOAD:
        raise _Bad(f"frame length {length} exceeds maximum {MAX_PAYLOAD}")
    payload = f.read(length)
    if len(payload) < length:
        raise _Bad(f"short payload ({len(payload)} of {length} bytes)")
    if crc != _frame_crc(lsn, rtype, payload):
        raise _Bad("crc mismatch")
    if lsn != expected_lsn:
        raise _Bad(f"lsn {lsn}, expected {expected_lsn}")
    return WalRecord(lsn, rtype, payload)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _segment_lsn(path: Path) -> int | None:
    stem = path.name.removesuffix(".wal")
    return int(stem) if path.name.endswith(".wal") and len(stem) == 20 and stem.isdigit() else None


class Wal:
    """The append-only log of one replica. Not for concurrent writers from several processes."""

    def __init__(
        self,
        directory: Path,
        config: WalConfig = WalConfig(),
        *,
        fsync: Callable[[int], None] = os.fsync,
        start_lsn: int = 1,
        start_generation: int = 1,
    ) -> None:
        """``start_lsn`` / ``start_generation`` only matter for an empty directory: a replica whose state
        is already past LSN n starts a new log at n + 1, in a new generation."""
        config.validate()
        self._dir = Path(directory)
        self._config = config
        self._fsync = fsync
        self._lock = threading.RLock()
        self._segments: list[_Segment] = []
        self._fd = -1  # the active (last) segment, opened for append
        self._unsynced_fds: list[int] = []  # earlier segments written since the last sync
        self._active_dirty = False
        self._dir_dirty = False
        self._generation = 1
        self._last_lsn = 0
        self._synced_lsn = 0
        self._failed: str | None = None
        self._closed = False
        self._dir.mkdir(parents=True, exist_ok=True)
        try:
            self.recovery = self._recover(start_lsn, start_generation)
        except OSError as e:
            raise self._fail(f"recovery of {self._dir} failed: {e}") from e

    # -- state ------------------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def last_lsn(self) -> int:
        return self._last_lsn

    @property
    def synced_lsn(self) -> int:
        return self._synced_lsn

    def first_lsn(self) -> int:
        """Lowest LSN still retained, 0 if no record is."""
        first = self._segments[0].first_lsn
        return first if self._last_lsn >= first else 0

    def size_bytes(self) -> int:
        return sum(s.size for s in self._segments)

    # -- writing ----------------------------------------------------------------------------------

    def append(self, items: Sequence[tuple[int, bytes]]) -> list[int]:
        """Write records (not yet durable: call sync) and return their LSNs."""
        for rtype, payload in items:
            if not (isinstance(rtype, int) and 0 <= rtype <= 255):
                raise InvalidArgument("record.type", f"must be an int in 0..255, got {rtype!r}")
            if not isinstance(payload, bytes | bytearray | memoryview) or len(payload) > MAX_PAYLOAD:
                raise InvalidArgument("record.payload", f"must be bytes of at most {MAX_PAYLOAD} bytes")
        with self._lock:
            self._check_usable()
            lsns: list[int] = []
            chunks: list[bytes] = []
            try:
                for rtype, payload in items:
                    seg = self._segments[-1]
                    if seg.size >= self._config.segment_bytes and self._last_lsn >= seg.first_lsn:
                        self._write(chunks)
                        chunks = []
                        self._roll(self._generation)
                    lsn = self._last_lsn + 1
                    frame = _encode_frame(lsn, rtype, bytes(payload))
                    chunks.append(frame)
                    self._segments[-1].size += len(frame)
                    self._last_lsn = lsn
                    lsns.append(lsn)
                self._write(chunks)
            except OSError as e:
                raise self._fail(f"append failed: {e}") from e
            return lsns

    def sync(self) -> None:
        """Make every appended record durable; on any error the WAL fails closed for good."""
        with self._lock:
            self._check_usable()
            try:
                for fd in self._unsynced_fds:
                    self._fsync_fd(fd)
                if self._active_dirty:
                    self._fsync_fd(self._fd)
                if self._dir_dirty:  # a new segment's name must survive a crash too
                    self._fsync_dir()
            except OSError as e:
                # Never retry: after a failed fsync the kernel may have dropped the dirty pages.
                raise self._fail(f"fsync failed: {e}") from e
            for fd in self._unsynced_fds:
                os.close(fd)
            self._unsynced_fds.clear()
            self._active_dirty = self._dir_dirty = False
            self._synced_lsn = self._last_lsn

    def new_generation(self) -> int:
        """Start a segment carrying generation + 1 (checkpoints, history changes); durable on return."""
        with self._lock:
            self._check_usable()
            generation = self._generation + 1
            try:
                if self._last_lsn >= self._segments[-1].first_lsn:
                    self._roll(generation)
                else:  # the active segment holds no record: rewrite its header instead of a name clash
                    self._rewrite_empty_active(generation)
            except OSError as e:
                raise self._fail(f"new generation failed: {e}") from e
            self.sync()
            return generation

    def truncate_before(self, lsn: int) -> int:
        """Delete whole segments whose records are all below ``lsn`` (never the active one)."""
        with self._lock:
            self._check_usable()
            if len(self._segments) < 2 or self._segments[1].first_lsn > lsn:
                return 0
            self.sync()  # the segments we keep must be durable before the older ones go
            freed = 0
            try:
                while len(self._segments) > 1 and self._segments[1].first_lsn <= lsn:
                    seg = self._segments.pop(0)
                    os.unlink(seg.path)
                    freed += seg.size
                    # Oldest first, one durable step at a time: a crash never leaves a gap in the chain.
                    self._fsync_dir()
            except OSError as e:
                raise self._fail(f"truncate failed: {e}") from e
            return freed

    def close(self) -> None:
        """Sync what is pending and release the files; idempotent."""
        with self._lock:
            if self._closed:
                return
            try:
                if self._failed is None:
                    self.sync()
            finally:
                self._close_fds()
                self._closed = True

    def __enter__(self) -> Wal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------------

    def replay(self, after_lsn: int = 0, upto_lsn: int | None = None) -> Iterator[WalRecord]:
        """Yield every record with after_lsn < lsn <= upto_lsn (default: the last), in order, as of this
        call."""
        with self._lock:
            if self._failed is not None:
                raise WalFailed(f"wal: failed earlier ({self._failed}); its contents are not trusted")
            segments = [(s.first_lsn, s.path) for s in self._segments]
            last = self._last_lsn if upto_lsn is None else min(upto_lsn, self._last_lsn)
        return self._replay(segments, after_lsn, last)

    @staticmethod
    def _replay(segments: list[tuple[int, Path]], after_lsn: int, last: int) -> Iterator[WalRecord]:
        for i, (first, path) in enumerate(segments):
            seg_last = min(segments[i + 1][0] - 1, last) if i + 1 < len(segments) else last
            if seg_last <= after_lsn or seg_last < first:
                continue
            lsn = first
            with path.open("rb") as f:
                try:
                    if _read_header(f, path.name)[1] != first:
                        raise _Bad("header first_lsn does not match the file name")
                    while lsn <= seg_last:  # frames past the snapshot may be half-written: stop before
                        rec = _read_frame(f, lsn)
                        if rec is None:
                            raise _Bad("segment ends early")
                        if lsn > after_lsn:
                            yield rec
                        lsn += 1
                except _Bad as e:
                    raise WalCorruption(f"wal: segment {path.name} at lsn {lsn}: {e}") from None

    # -- internals --------------------------------------------------------------------------------

    def _recover(self, start_lsn: int, start_generation: int) -> RecoveryReport:
        """Scan all segments, cut the log at the first bad frame, then open the last segment."""
        for tmp in self._dir.glob("*.wal.tmp"):  # a header rewrite that never got renamed
            tmp.unlink()
        found = sorted((lsn, p) for p in self._dir.iterdir() if (lsn := _segment_lsn(p)) is not None)
        expected: int | None = None  # the LSN the next frame must carry
        generation = 0
        reason = ""
        dropped_bytes = 0
        drop_from = len(found)
        for i, (name_lsn, path) in enumerate(found):
            size = path.stat().st_size
            with path.open("rb") as f:
                try:
                    gen, first = _read_header(f, path.name)
                    if first != name_lsn:
                        raise _Bad(f"header first_lsn {first} does not match the file name")
                    if expected is not None and first != expected:
                        raise _Bad(f"starts at lsn {first}, expected {expected}")
                    if gen < generation:
                        raise _Bad(f"generation {gen} is below the previous {generation}")
                except _Bad as e:
                    reason = f"bad header in segment {path.name}: {e}"
                    drop_from = i
                    break
                generation, lsn, offset = gen, first - 1, HEADER_SIZE
                try:
                    while (rec := _read_frame(f, lsn + 1)) is not None:
                        lsn, offset = rec.lsn, f.tell()
                except _Bad as e:
                    reason = f"torn frame at segment {path.name} offset {offset}: {e}"
            self._segments.append(_Segment(first, path, offset))
            expected = lsn + 1
            if reason:
                os.truncate(path, offset)
                dropped_bytes += size - offset
                drop_from = i + 1
                break
        dropped = found[drop_from:]
        for _, path in reversed(dropped):
            dropped_bytes += path.stat().st_size
            path.unlink()
        if not self._segments:  # fresh directory, or the very first header was torn
            # Keep the LSN the lost segment was named after, so LSNs are never reused.
            first_lsn = found[0][0] if found else start_lsn
            os.close(self._create_segment(first_lsn, max(generation, 1) if found else start_generation))
        for seg in self._segments:  # what we read may sit only in the page cache: make it durable
            fd = os.open(seg.path, os.O_RDONLY)
            try:
                self._fsync_fd(fd)
            finally:
                os.close(fd)
        self._fsync_dir()
        self._dir_dirty = False
        active = self._segments[-1]
        self._fd = os.open(active.path, os.O_WRONLY | os.O_APPEND)
        with active.path.open("rb") as f:
            self._generation = _read_header(f, active.path.name)[0]
        self._last_lsn = self._synced_lsn = (expected or active.first_lsn) - 1
        return RecoveryReport(self._last_lsn, dropped_bytes, [p.name for _, p in dropped], reason)

    def _create_segment(self, first_lsn: int, generation: int) -> int:
        """Create a segment file holding only its header; return its fd (append mode)."""
        path = self._dir / f"{first_lsn:020d}.wal"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        try:
            _write_all(fd, _encode_header(generation, first_lsn))
        except OSError:
            os.close(fd)
            raise
        self._segments.append(_Segment(first_lsn, path, HEADER_SIZE))
        self._dir_dirty = True
        return fd

    def _roll(self, generation: int) -> None:
        """Continue in a new segment; the old one stays open until the next sync fsyncs it."""
        fd = self._create_segment(self._last_lsn + 1, generation)
        self._unsynced_fds.append(self._fd)
        self._fd = fd
        self._active_dirty = True
        self._generation = generation

    def _rewrite_empty_active(self, generation: int) -> None:
        """Replace the header of a record-less active segment atomically (write, fsync, rename)."""
        seg = self._segments[-1]
        tmp = seg.path.with_name(seg.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, _encode_header(generation, seg.first_lsn))
            self._fsync_fd(fd)
        finally:
            os.close(fd)
        os.replace(tmp, seg.path)
        os.close(self._fd)
        self._fd = os.open(seg.path, os.O_WRONLY | os.O_APPEND)
        seg.size = HEADER_SIZE
        self._dir_dirty = True
        self._generation = generation

    def _write(self, chunks: list[bytes]) -> None:
        if chunks:
            _write_all(self._fd, b"".join(chunks))
            self._active_dirty = True

    def _fsync_fd(self, fd: int) -> None:
        if self._config.fsync != "off":
            self._fsync(fd)

    def _fsync_dir(self) -> None:
        if self._config.fsync == "off":
            return
        fd = os.open(self._dir, os.O_RDONLY)
        try:
            self._fsync(fd)
        finally:
            os.close(fd)

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise WalFailed(f"wal: failed earlier ({self._failed}); refusing writes")
        if self._closed:
            raise WalFailed("wal: closed")

    def _fail(self, reason: str) -> WalFailed:
        """Fail closed for good and return the error to raise."""
        self._failed = reason
        self._close_fds()
        return WalFailed(f"wal: {reason}; the WAL is closed for good")

    def _close_fds(self) -> None:
        for fd in [*self._unsynced_fds, self._fd]:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._unsynced_fds.clear()
        self._fd = -1
