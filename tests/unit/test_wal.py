"""The WAL's contract: round trips, LSN continuity, segments, generations, config checks, failing closed."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from dash_node.errors import ConfigError, InvalidArgument, WalFailed
from dash_node.wal import HEADER_SIZE, Wal, WalConfig, WalRecord

SMALL = WalConfig(segment_bytes=4096)


def records(wal: Wal, after: int = 0) -> list[tuple[int, int, bytes]]:
    return [(r.lsn, r.type, r.payload) for r in wal.replay(after)]


def test_append_sync_replay_round_trip(tmp_path: Path) -> None:
    with Wal(tmp_path) as wal:
        assert wal.recovery.last_lsn == 0 and wal.recovery.reason == ""
        assert (wal.last_lsn, wal.first_lsn(), wal.generation) == (0, 0, 1)
        assert wal.append([(1, b"a"), (7, b""), (255, b"x" * 1000)]) == [1, 2, 3]
        assert wal.synced_lsn == 0
        wal.sync()
        assert wal.synced_lsn == 3
        assert records(wal) == [(1, 1, b"a"), (2, 7, b""), (3, 255, b"x" * 1000)]
        assert records(wal, after=2) == [(3, 255, b"x" * 1000)]
        assert wal.first_lsn() == 1
        assert wal.append([]) == []


def test_replay_sees_unsynced_appends(tmp_path: Path) -> None:
    with Wal(tmp_path) as wal:
        wal.append([(0, b"p")])
        assert list(wal.replay()) == [WalRecord(1, 0, b"p")]


def test_reopen_continues_lsns(tmp_path: Path) -> None:
    with Wal(tmp_path) as wal:
        wal.append([(1, b"one"), (1, b"two")])
    with Wal(tmp_path) as wal:
        assert wal.recovery.last_lsn == 2 and wal.recovery.dropped_bytes == 0
        assert wal.synced_lsn == 2
        assert wal.append([(2, b"three")]) == [3]
        assert [r.payload for r in wal.replay()] == [b"one", b"two", b"three"]


def test_segment_rollover_and_replay_across_segments(tmp_path: Path) -> None:
    payloads = [bytes([i % 256]) * 300 for i in range(60)]
    with Wal(tmp_path, SMALL) as wal:
        for p in payloads:
            wal.append([(3, p)])
        wal.sync()
        names = sorted(p.name for p in tmp_path.glob("*.wal"))
        assert len(names) > 3 and names[0] == f"{1:020d}.wal"
        assert wal.size_bytes() == sum(p.stat().st_size for p in tmp_path.glob("*.wal"))
        assert [r.payload for r in wal.replay()] == payloads
        assert [r.lsn for r in wal.replay(after_lsn=25)] == list(range(26, 61))
    with Wal(tmp_path, SMALL) as wal:
        assert wal.recovery.reason == "" and wal.last_lsn == 60
        assert [r.payload for r in wal.replay()] == payloads


def test_one_append_may_span_segments(tmp_path: Path) -> None:
    with Wal(tmp_path, SMALL) as wal:
        assert wal.append([(0, b"z" * 1000)] * 20) == list(range(1, 21))
        assert len(list(tmp_path.glob("*.wal"))) > 1
        assert [r.lsn for r in wal.replay()] == list(range(1, 21))


@pytest.mark.parametrize("cut", [0, 1, 13, 14, 26, 27, 37, 60, 61, 1000])
def test_truncate_before_keeps_everything_at_or_above(tmp_path: Path, cut: int) -> None:
    with Wal(tmp_path, SMALL) as wal:  # 13 records per segment: segments start at 1, 14, 27, 40, 53
        for i in range(60):
            wal.append([(0, i.to_bytes(2, "little") * 150)])
        before = wal.size_bytes()
        freed = wal.truncate_before(cut)
        assert wal.size_bytes() == before - freed
        first = wal.first_lsn()
        assert first == max(s for s in (1, 14, 27, 40, 53) if s <= max(cut, 1))  # whole segments only
        assert [r.lsn for r in wal.replay()] == list(range(first, 61))
    with Wal(tmp_path, SMALL) as wal:
        assert wal.first_lsn() == first and wal.last_lsn == 60 and wal.recovery.reason == ""
        assert wal.append([(0, b"next")]) == [61]


def test_truncate_never_removes_the_active_segment(tmp_path: Path) -> None:
    with Wal(tmp_path, SMALL) as wal:
        wal.append([(0, b"q" * 500)] * 30)
        wal.new_generation()  # the active segment is now empty
        wal.truncate_before(10_000)
        assert wal.first_lsn() == 0 and wal.last_lsn == 30
        assert len(list(tmp_path.glob("*.wal"))) == 1
    with Wal(tmp_path, SMALL) as wal:  # LSNs are never reused, even with no record left
        assert wal.last_lsn == 30 and wal.first_lsn() == 0
        assert wal.append([(0, b"")]) == [31]


def test_new_generation_persists_across_reopen(tmp_path: Path) -> None:
    with Wal(tmp_path) as wal:
        assert wal.new_generation() == 2  # empty active segment: header rewritten in place
        assert wal.new_generation() == 3
        wal.append([(0, b"a")])
        assert wal.new_generation() == 4  # starts a new segment
        wal.append([(0, b"b")])
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{1:020d}.wal", f"{2:020d}.wal"]
    with Wal(tmp_path) as wal:
        assert wal.generation == 4 and wal.recovery.reason == ""
        assert [r.payload for r in wal.replay()] == [b"a", b"b"]


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"fsync": "sometimes"}, "wal.fsync"),
        ({"fsync": "off"}, "wal.fsync"),
        ({"batch_max_records": 0}, "wal.batch_max_records"),
        ({"batch_max_records": -5, "allow_unsafe": True}, "wal.batch_max_records"),
        ({"batch_max_records": 100_001}, "wal.batch_max_records"),
        ({"batch_max_interval_ms": 0}, "wal.batch_max_interval_ms"),
        ({"batch_max_interval_ms": -1.0}, "wal.batch_max_interval_ms"),
        ({"batch_max_interval_ms": float("nan")}, "wal.batch_max_interval_ms"),
        ({"batch_max_interval_ms": 100.5}, "wal.batch_max_interval_ms"),
        ({"segment_bytes": 4095}, "wal.segment_bytes"),
        ({"segment_bytes": 0, "allow_unsafe": True}, "wal.segment_bytes"),
    ],
)
def test_config_validation_names_the_setting(tmp_path: Path, kwargs: dict, setting: str) -> None:
    with pytest.raises(ConfigError, match=setting):
        WalConfig(**kwargs).validate()
    with pytest.raises(ConfigError, match=setting):
        Wal(tmp_path, WalConfig(**kwargs))
    assert not list(tmp_path.glob("*.wal"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"fsync": "batch", "batch_max_interval_ms": 100, "batch_max_records": 100_000},
        {"fsync": "off", "allow_unsafe": True},
        {"batch_max_interval_ms": 5000, "batch_max_records": 10**6, "allow_unsafe": True},
        {"segment_bytes": 4096},
    ],
)
def test_config_accepts_valid_settings(kwargs: dict) -> None:
    WalConfig(**kwargs).validate()


def test_bad_records_are_rejected_before_writing(tmp_path: Path) -> None:
    with Wal(tmp_path) as wal:
        with pytest.raises(InvalidArgument, match=r"record\.type"):
            wal.append([(0, b"ok"), (256, b"x")])
        with pytest.raises(InvalidArgument, match=r"record\.payload"):
            wal.append([(0, "text")])  # type: ignore[list-item]
        assert wal.last_lsn == 0 and list(wal.replay()) == []


class FlakyFsync:
    """os.fsync that records what it synced and fails with EIO once told to."""

    def __init__(self) -> None:
        self.fail = False
        self.calls: list[str] = []

    def __call__(self, fd: int) -> None:
        self.calls.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        if self.fail:
            raise OSError(errno.EIO, "simulated fsync failure")
        os.fsync(fd)


def test_failing_fsync_fails_closed_for_good(tmp_path: Path) -> None:
    fsync = FlakyFsync()
    wal = Wal(tmp_path, fsync=fsync)
    wal.append([(0, b"durable")])
    wal.sync()
    wal.append([(0, b"unknown")])
    fsync.fail = True
    with pytest.raises(WalFailed, match="fsync failed"):
        wal.sync()
    assert wal.synced_lsn == 1
    fsync.fail = False  # even if the disk "recovers", never retry-and-pretend
    with pytest.raises(WalFailed):
        wal.append([(0, b"more")])
    with pytest.raises(WalFailed):
        wal.sync()
    with pytest.raises(WalFailed):
        wal.new_generation()
    with pytest.raises(WalFailed):
        wal.truncate_before(5)
    with pytest.raises(WalFailed):
        list(wal.replay())
    wal.close()  # releases files without raising
    with Wal(tmp_path) as reopened:  # a fresh process reads whatever reached the file
        assert reopened.recovery.reason == ""
        assert [r.payload for r in reopened.replay()][:1] == [b"durable"]


def test_failing_fsync_at_open_raises_walfailed(tmp_path: Path) -> None:
    fsync = FlakyFsync()
    fsync.fail = True
    with pytest.raises(WalFailed):
        Wal(tmp_path, fsync=fsync)


def test_new_segment_fsyncs_the_directory(tmp_path: Path) -> None:
    fsync = FlakyFsync()
    with Wal(tmp_path, SMALL, fsync=fsync) as wal:
        fsync.calls.clear()
        wal.append([(0, b"a")])
        wal.sync()
        assert fsync.calls == ["file"]
        fsync.calls.clear()
        wal.append([(0, b"b" * 3000)] * 3)  # rolls over
        wal.sync()
        assert "dir" in fsync.calls and fsync.calls.count("file") >= 2


def test_fsync_off_never_calls_fsync(tmp_path: Path) -> None:
    fsync = FlakyFsync()
    cfg = WalConfig(fsync="off", allow_unsafe=True, segment_bytes=4096)
    with Wal(tmp_path, cfg, fsync=fsync) as wal:
        wal.append([(0, b"c" * 3000)] * 4)
        wal.sync()
        wal.new_generation()
        wal.truncate_before(4)
        assert wal.synced_lsn == 4
    assert fsync.calls == []


def test_closed_wal_refuses_writes(tmp_path: Path) -> None:
    wal = Wal(tmp_path)
    wal.close()
    wal.close()
    with pytest.raises(WalFailed, match="closed"):
        wal.append([(0, b"x")])


def test_segment_header_layout(tmp_path: Path) -> None:
    with Wal(tmp_path) as wal:
        wal.append([(9, b"hi")])
    raw = (tmp_path / f"{1:020d}.wal").read_bytes()
    assert raw[:8] == b"DASHWAL1"
    assert int.from_bytes(raw[8:12], "little") == 1  # version
    assert int.from_bytes(raw[12:20], "little") == 1  # generation
    assert int.from_bytes(raw[20:28], "little") == 1  # first_lsn
    frame = raw[HEADER_SIZE:]
    assert int.from_bytes(frame[:4], "little") == 2
    assert int.from_bytes(frame[8:16], "little") == 1 and frame[16] == 9 and frame[17:] == b"hi"
