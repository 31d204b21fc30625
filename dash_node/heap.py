"""Keep Python's cyclic garbage collector from pausing a process on its large, long-lived heap.

A node holds hundreds of thousands of long-lived objects (the derived cache, index bookkeeping), and
every full collection scans all of them: 71 ms on one 100k-claim shard here, growing with the shard.
The edge builder's worker and the router hold the judge's text caches (up to ~65k entries each), which
cost each worker 190-730 ms per full collection while four nodes loaded 100k claims (~2.4 s each).
Right after a full collection everything left is reachable, so it is moved to the permanent generation
(``gc.freeze``) and later collections scan only what was created since (10 ms on the same shard).

The price: a cycle made of objects that were alive at a freeze is never reclaimed when it later becomes
garbage. The long-lived objects (cache entries, protobuf messages, index arrays) form no cycles, and a
frozen object that is not in a cycle is still freed when its last reference goes; so what can leak is
bounded by what a request or round had in flight at a full collection.
"""

from __future__ import annotations

import gc


def freeze_after_full_collections() -> None:
    """Freeze what is alive now (the opened replicas) and after every full collection."""
    gc.freeze()
    gc.callbacks.append(_after_collection)


def _after_collection(phase: str, info: dict) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()
