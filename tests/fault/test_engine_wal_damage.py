"""What the engine does with a damaged WAL or a failing disk.

- A torn tail (a write cut short by a crash, never acknowledged) is cut off and reported; the replica
  opens with every record before it.
- A flipped byte inside records the state already holds: the state is complete, so the replica keeps
  serving it, moves the damaged log aside and continues in a new generation.
- A failing fsync fails the replica closed: the write is refused with UNAVAILABLE, nothing of it is
  visible, and later writes are refused too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dash_client._pb.dash.v1 import types_pb2
from dash_node import Engine, EngineConfig
from dash_node.errors import NotFound, Unavailable
from dash_node.evidence.builder import EdgeBuilderConfig

# One WAL record per write, so LSNs can be counted: the edge builder, whose records come at times of its
# own choosing, is off.
PLAIN = EngineConfig(evidence=EdgeBuilderConfig(enabled=False))


def item(cid: str) -> types_pb2.ClaimInput:
    return types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id=cid, text=f"claim {cid} about tidal locks"))


def segments(data: Path) -> list[Path]:
    return sorted((data / "wal").glob("*.wal"))


def test_torn_tail_is_cut_and_reported(tmp_path: Path) -> None:
    data = tmp_path / "replica"
    with Engine(data, PLAIN) as engine:
        for i in range(5):
            engine.ingest("acme", item(f"c{i}"))
        engine.store.copy_to(tmp_path / "state-at-5")
        engine.ingest("acme", item("torn"))
    # The crash happened while the 6th record was being written: its frame is half on disk and the
    # state never applied it.
    seg = segments(data)[-1]
    seg.write_bytes(seg.read_bytes()[:-7])
    shutil.rmtree(data / "state")
    shutil.copytree(tmp_path / "state-at-5", data / "state")
    with Engine(data, PLAIN) as engine:
        assert engine.recovery["wal_dropped_bytes"] > 0
        assert "torn frame" in engine.recovery["wal_drop_reason"]
        assert engine.recovery["wal_last_lsn"] == 5
        assert engine.stats("acme").claims == 5
        with pytest.raises(NotFound):
            engine.get_claim("acme", "torn")
        assert engine.ingest("acme", item("next")).lsn == 6  # LSNs continue after the cut


def test_flipped_byte_under_applied_state_keeps_serving_in_a_new_generation(tmp_path: Path) -> None:
    data = tmp_path / "replica"
    with Engine(data, PLAIN) as engine:
        for i in range(8):
            engine.ingest("acme", item(f"c{i}"))
        generation = engine.wal.generation
    seg = segments(data)[0]
    raw = bytearray(seg.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # bit rot in the middle of the log
    seg.write_bytes(bytes(raw))
    with Engine(data, PLAIN) as engine:
        assert engine.recovery["wal_quarantined_to"]
        assert Path(engine.recovery["wal_quarantined_to"]).exists()  # kept for inspection
        assert engine.wal.generation == generation + 1
        assert engine.stats("acme").claims == 8
        assert engine.ingest("acme", item("after")).lsn == 9
    with Engine(data, PLAIN) as engine:  # and the new generation survives a restart
        assert engine.stats("acme").claims == 9
        assert engine.get_claim("acme", "after").claim.text


def test_failed_fsync_fails_the_replica_closed(tmp_path: Path) -> None:
    engine = Engine(tmp_path / "replica", PLAIN)
    engine.ingest("acme", item("ok"))

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    engine.wal._fsync = broken_fsync
    with pytest.raises(Unavailable):
        engine.ingest("acme", item("lost"))
    with pytest.raises(NotFound):
        engine.get_claim("acme", "lost")  # nothing of the refused write is visible
    with pytest.raises(Unavailable):
        engine.ingest("acme", item("later"))  # and the replica accepts nothing more
    assert engine.get_claim("acme", "ok").claim.claim_id == "ok"  # reads still work
    engine.close()
