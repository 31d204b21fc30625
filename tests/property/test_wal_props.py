"""Random operation sequences: the WAL always replays exactly what an in-memory model says it retains."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dash_node.wal import Wal, WalConfig

CONFIG = WalConfig(segment_bytes=4096)


def no_fsync(fd: int) -> None:
    """Durability is not under test here; skipping real fsyncs keeps examples fast."""


# Random bytes for small payloads; filler for big ones, so 4 KiB segments fill up and roll over often.
payloads = st.one_of(
    st.just(b""), st.binary(max_size=64), st.integers(0, 2500).map(lambda n: bytes([n % 256]) * n)
)
ops = st.one_of(
    st.tuples(st.just("append"), st.lists(st.tuples(st.integers(0, 255), payloads), max_size=8)),
    st.tuples(st.just("sync")),
    st.tuples(st.just("reopen")),
    st.tuples(st.just("truncate"), st.integers(0, 10_000)),  # mapped onto a valid LSN below
    st.tuples(st.just("new_generation")),
    st.tuples(st.just("replay_after"), st.integers(0, 10_000)),  # taken modulo last_lsn + 2
)


def check(wal: Wal, model: dict[int, tuple[int, bytes]], floor: int) -> None:
    assert wal.last_lsn == len(model)
    first = wal.first_lsn()
    got = [(r.lsn, r.type, r.payload) for r in wal.replay()]
    if first == 0:  # nothing retained: only possible when everything was truncated away
        assert got == [] and (not model or len(model) < floor)
    else:
        assert first <= max(floor, 1)  # truncate_before never drops a record >= its argument
        # Equal to a contiguous slice of the model, so LSNs are strictly consecutive.
        assert got == [(lsn, *model[lsn]) for lsn in range(first, len(model) + 1)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, max_size=25))
@example([("append", [(1, b"x" * 2500)] * 4), ("truncate", 5)])  # segments 1 and 3; truncate_before(2)
def test_replay_matches_model(operations: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        wal = Wal(directory, CONFIG, fsync=no_fsync)
        model: dict[int, tuple[int, bytes]] = {}
        floor = 0  # highest truncate_before argument so far
        generation = 1
        try:
            for op in operations:
                if op[0] == "append":
                    lsns = wal.append(op[1])
                    assert lsns == list(range(len(model) + 1, len(model) + 1 + len(op[1])))
                    model.update(zip(lsns, op[1], strict=True))
                elif op[0] == "sync":
                    wal.sync()
                    assert wal.synced_lsn == wal.last_lsn
                elif op[0] == "reopen":
                    wal.close()
                    wal = Wal(directory, CONFIG, fsync=no_fsync)
                    assert wal.recovery.reason == "" and wal.recovery.dropped_bytes == 0
                elif op[0] == "truncate":
                    before = wal.size_bytes()
                    # Odd: aim at segment edges (files are named by their first LSN), off-by-one land.
                    starts = [int(p.name[:-4]) for p in directory.glob("*.wal")]
                    edges = sorted({s - 1 for s in starts} | set(starts))
                    lsn = edges[op[1] // 2 % len(edges)] if op[1] % 2 else op[1] % (wal.last_lsn + 2)
                    freed = wal.truncate_before(lsn)
                    assert wal.size_bytes() == before - freed
                    floor = max(floor, lsn)
                elif op[0] == "new_generation":
                    generation += 1
                    assert wal.new_generation() == generation
                else:
                    after = op[1] % (wal.last_lsn + 2)
                    start = max(after + 1, wal.first_lsn() or len(model) + 1)
                    got = [(r.lsn, r.type, r.payload) for r in wal.replay(after)]
                    assert got == [(lsn, *model[lsn]) for lsn in range(start, len(model) + 1)]
                assert wal.generation == generation
                check(wal, model, floor)
        finally:
            wal.close()
