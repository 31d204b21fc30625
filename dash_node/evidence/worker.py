"""The edge builder's worker process: judging off the node's GIL.

Python runs one thread at a time per process, so judging in a thread of the node takes its time from
the write path. The worker reads the state itself (LMDB serves readers in other processes) and asks the
node only for what lives in the node's memory: vector neighbours. One round at a time over a pipe:

    node -> worker   ("round",)
    worker -> node   ("search", tenant, vectors, k)   answered with the hits; any number of times
    worker -> node   ("done", [WalBatch bytes])  or  ("failed", message)

It starts on first use from a forkserver (a clean process: no inherited threads, locks or LMDB handles;
later starts are cheap) and is started again if it dies; its tasks stay pending in the state meanwhile.
It exits when the node closes the pipe or dies. It runs this package's code only: the parent's
``__main__`` is not imported in it (multiprocessing would, and a script without the ``if __name__ ==
"__main__"`` guard, such as one using the embedded client, would run again there; ``<stdin>`` could not
be imported at all). A worker that cannot start, or dies before it answers once, leaves the judging to
a thread of the node (``WorkerUnavailable``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import types
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

from dash_client._pb.dash.v1 import wal_pb2
from dash_node import heap
from dash_node.evidence.builder import EdgeBuilder, Searcher
from dash_node.store import Store, StoreConfig

_CTX = multiprocessing.get_context("forkserver")
_CTX.set_forkserver_preload([__name__])


class WorkerFailed(Exception):
    """The worker died or could not finish a round; the round's tasks stay pending."""


class WorkerUnavailable(Exception):
    """No worker process can be started here (e.g. a script without the ``if __name__ == "__main__"``
    guard that multiprocessing needs): judge in a thread instead."""


class Worker:
    """The node's handle on one worker process."""

    def __init__(self, store: Store, builder: EdgeBuilder) -> None:
        self._state = (str(store.directory), store.config)
        self._builder = builder
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._answered = False  # the current process has finished a round (or reported a failure)

    def _start(self) -> Connection:
        self.close()
        judge = type(self._builder.judge)
        if judge.__module__ == "__main__":
            raise WorkerUnavailable(
                f"the judge {judge.__name__} is defined in __main__, which the worker lacks"
            )
        ours, theirs = _CTX.Pipe()
        proc = _CTX.Process(
            target=serve, args=(theirs, *self._state, self._builder), name="dash-edge-worker", daemon=True
        )
        try:
            with _main_left_behind():
                proc.start()
        except Exception as exc:
            ours.close()
            raise WorkerUnavailable(repr(exc)) from exc
        finally:
            theirs.close()
        self._proc, self._conn, self._answered = proc, ours, False
        return ours

    def round(self, search: Searcher) -> list[wal_pb2.WalBatch]:
        """Have the worker plan one round, answering its neighbour searches meanwhile."""
        alive = self._proc is not None and self._proc.is_alive() and self._conn is not None
        conn = self._conn if alive and self._conn is not None else self._start()
        try:
            conn.send(("round",))
            while True:
                while not conn.poll(0.5):
                    if self._proc is None or not self._proc.is_alive():
                        raise WorkerFailed(
                            f"the edge worker exited (code {self._proc and self._proc.exitcode})"
                        )
                msg = conn.recv()
                if msg[0] == "search":
                    conn.send(search(*msg[1:]))
                elif msg[0] == "done":
                    self._answered = True
                    return [wal_pb2.WalBatch.FromString(raw) for raw in msg[1]]
                else:
                    self._answered = True
                    raise WorkerFailed(f"the edge worker failed: {msg[1]}")
        except (WorkerFailed, EOFError, OSError) as exc:
            if not self._answered:  # it never got going: starting it again would fail the same way
                self.close()
                raise WorkerUnavailable(f"the edge worker died before answering: {exc!r}") from exc
            if isinstance(exc, WorkerFailed):
                raise
            self.close()
            raise WorkerFailed(f"lost the edge worker: {exc!r}") from exc

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):  # it may be gone already
                self._conn.send(None)
            self._conn.close()
        if self._proc is not None:
            self._proc.join(5)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
        self._proc, self._conn = None, None


@contextlib.contextmanager
def _main_left_behind() -> Iterator[None]:
    """While a worker starts, ``__main__`` is an empty module, so multiprocessing does not tell the
    child to import the parent's (its preparation data is taken from ``sys.modules`` at start). The
    swap lasts the few milliseconds of ``start``, once per worker, not per round."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def serve(conn: Connection, state_dir: str, store_config: StoreConfig, builder: EdgeBuilder) -> None:
    """The worker's loop (runs in the child)."""
    heap.freeze_after_full_collections()
    store = Store(Path(state_dir), store_config, readonly=True)

    def search(tenant: str, vectors: list[bytes], k: int) -> list[list[tuple[int, float]]]:
        conn.send(("search", tenant, vectors, k))
        return conn.recv()

    try:
        while conn.recv() is not None:
            try:
                batches = builder.plan_round(store, search)
            except Exception as exc:  # reported to the node, which logs it and retries later
                conn.send(("failed", repr(exc)))
                continue
            conn.send(("done", [b.SerializeToString() for b in batches]))
    except (EOFError, OSError):
        pass  # the node went away
    finally:
        store.close()
