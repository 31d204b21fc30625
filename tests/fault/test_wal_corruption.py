"""Damaged WAL files: open must cut the log at the first bad frame, report it, and keep working."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dash_node.errors import WalCorruption
from dash_node.wal import FRAME_HEADER_SIZE, HEADER_SIZE, Wal, WalConfig

SMALL = WalConfig(segment_bytes=4096)


def seg_name(first_lsn: int) -> str:
    return f"{first_lsn:020d}.wal"


def write_log(directory: Path, n: int, size: int = 40, config: WalConfig = SMALL) -> list[bytes]:
    payloads = [bytes([i % 251]) * size for i in range(n)]
    with Wal(directory, config) as wal:
        for p in payloads:
            wal.append([(1, p)])
    return payloads


def assert_usable_after(directory: Path, expected_last: int) -> None:
    """After a repair, appends continue at the next LSN and a second open is clean."""
    with Wal(directory, SMALL) as wal:
        assert wal.recovery.reason == "" and wal.recovery.dropped_bytes == 0
        assert wal.last_lsn == expected_last
        assert wal.append([(2, b"after")]) == [expected_last + 1]
    with Wal(directory, SMALL) as wal:
        assert wal.recovery.reason == ""
        assert [r.lsn for r in wal.replay()] == list(range(wal.first_lsn(), expected_last + 2))


def test_torn_tail_at_every_offset_of_the_last_frame(tmp_path: Path) -> None:
    src = tmp_path / "src"
    payloads = write_log(src, 5)
    seg = src / seg_name(1)
    size = seg.stat().st_size
    frame = FRAME_HEADER_SIZE + 40
    last_start = size - frame
    for cut in range(last_start + 1, size):
        d = tmp_path / f"cut{cut}"
        shutil.copytree(src, d)
        with open(d / seg_name(1), "r+b") as f:
            f.truncate(cut)
        with Wal(d, SMALL) as wal:
            rep = wal.recovery
            assert rep.last_lsn == 4 and wal.last_lsn == 4
            assert rep.dropped_bytes == cut - last_start
            assert rep.dropped_segments == []
            assert f"segment {seg_name(1)} offset {last_start}" in rep.reason
            assert [r.payload for r in wal.replay()] == payloads[:4]
        assert (d / seg_name(1)).stat().st_size == last_start
    assert_usable_after(d, 4)


def test_cut_exactly_at_a_frame_boundary_is_clean(tmp_path: Path) -> None:
    write_log(tmp_path, 5)
    seg = tmp_path / seg_name(1)
    with open(seg, "r+b") as f:
        f.truncate(HEADER_SIZE + 3 * (FRAME_HEADER_SIZE + 40))
    with Wal(tmp_path, SMALL) as wal:
        assert wal.recovery.reason == "" and wal.last_lsn == 3


@pytest.mark.parametrize("where", ["length", "crc", "lsn", "type", "payload"])
def test_flipped_byte_in_a_middle_frame_drops_the_rest(tmp_path: Path, where: str) -> None:
    payloads = write_log(tmp_path, 60, size=300)
    names = sorted(p.name for p in tmp_path.glob("*.wal"))
    assert len(names) >= 4
    victim = tmp_path / names[1]
    first = int(names[1][:-4])
    frame = FRAME_HEADER_SIZE + 300
    start = HEADER_SIZE + 2 * frame  # the third frame of the second segment
    pos = start + {"length": 1, "crc": 5, "lsn": 9, "type": 16, "payload": 100}[where]
    data = bytearray(victim.read_bytes())
    data[pos] ^= 0x40
    victim.write_bytes(bytes(data))
    later = names[2:]
    later_bytes = sum((tmp_path / n).stat().st_size for n in later)
    with Wal(tmp_path, SMALL) as wal:
        rep = wal.recovery
        assert rep.last_lsn == first + 1
        assert rep.dropped_segments == later
        assert rep.dropped_bytes == len(data) - start + later_bytes
        assert f"segment {names[1]} offset {start}" in rep.reason
        assert [r.payload for r in wal.replay()] == payloads[: first + 1]
    assert sorted(p.name for p in tmp_path.glob("*.wal")) == names[:2]
    assert_usable_after(tmp_path, first + 1)


def test_damaged_header_of_a_later_segment_drops_it_and_the_rest(tmp_path: Path) -> None:
    write_log(tmp_path, 60, size=300)
    names = sorted(p.name for p in tmp_path.glob("*.wal"))
    victim = tmp_path / names[2]
    data = bytearray(victim.read_bytes())
    data[13] ^= 0x01  # generation field: header crc no longer matches
    victim.write_bytes(bytes(data))
    with Wal(tmp_path, SMALL) as wal:
        assert wal.recovery.dropped_segments == names[2:]
        assert "bad header" in wal.recovery.reason and names[2] in wal.recovery.reason
        assert wal.last_lsn == int(names[2][:-4]) - 1


@pytest.mark.parametrize(
    "garbage", [b"\x07", b"\xde\xad\xbe\xef" * 3, b"\xff" * 64, b"\x05\x00\x00\x00" + b"\x00" * 40]
)
def test_garbage_after_the_last_frame(tmp_path: Path, garbage: bytes) -> None:
    payloads = write_log(tmp_path, 5)
    seg = tmp_path / seg_name(1)
    clean_size = seg.stat().st_size
    with open(seg, "ab") as f:
        f.write(garbage)
    with Wal(tmp_path, SMALL) as wal:
        assert wal.recovery.last_lsn == 5
        assert wal.recovery.dropped_bytes == len(garbage)
        assert f"offset {clean_size}" in wal.recovery.reason
        assert [r.payload for r in wal.replay()] == payloads
    assert_usable_after(tmp_path, 5)


def test_zero_filled_tail_from_preallocation(tmp_path: Path) -> None:
    payloads = write_log(tmp_path, 5)
    seg = tmp_path / seg_name(1)
    clean_size = seg.stat().st_size
    with open(seg, "ab") as f:
        f.write(b"\x00" * 8192)
    with Wal(tmp_path, SMALL) as wal:
        assert wal.recovery.last_lsn == 5 and wal.recovery.dropped_bytes == 8192
        assert f"offset {clean_size}" in wal.recovery.reason
        assert [r.payload for r in wal.replay()] == payloads
    assert_usable_after(tmp_path, 5)


def test_huge_length_field_counts_as_corruption(tmp_path: Path) -> None:
    write_log(tmp_path, 3)
    seg = tmp_path / seg_name(1)
    data = bytearray(seg.read_bytes())
    start = HEADER_SIZE + FRAME_HEADER_SIZE + 40
    data[start : start + 4] = (1 << 31).to_bytes(4, "little")
    seg.write_bytes(bytes(data))
    with Wal(tmp_path, SMALL) as wal:
        assert wal.last_lsn == 1 and "exceeds maximum" in wal.recovery.reason


def test_torn_header_of_a_brand_new_log(tmp_path: Path) -> None:
    (tmp_path / seg_name(1)).write_bytes(b"DASHWA")  # crashed while creating the first segment
    with Wal(tmp_path, SMALL) as wal:
        assert wal.last_lsn == 0 and wal.recovery.dropped_segments == [seg_name(1)]
        assert wal.recovery.dropped_bytes == 6
        assert wal.append([(0, b"first")]) == [1]


def test_unsupported_version_is_refused_not_deleted(tmp_path: Path) -> None:
    import struct

    import google_crc32c

    head = struct.pack("<8sIQQ", b"DASHWAL1", 2, 1, 1)
    raw = head + struct.pack("<I", google_crc32c.value(head))
    (tmp_path / seg_name(1)).write_bytes(raw)
    with pytest.raises(WalCorruption, match="version 2"):
        Wal(tmp_path, SMALL)
    assert (tmp_path / seg_name(1)).read_bytes() == raw


def test_replay_reports_corruption_that_appears_while_open(tmp_path: Path) -> None:
    write_log(tmp_path, 5)
    with Wal(tmp_path, SMALL) as wal:
        seg = tmp_path / seg_name(1)
        data = bytearray(seg.read_bytes())
        data[-3] ^= 0xFF
        seg.write_bytes(bytes(data))
        with pytest.raises(WalCorruption, match="lsn 5: crc mismatch"):
            list(wal.replay())
