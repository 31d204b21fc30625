"""Keep Python's cyclic garbage collector from pausing queries on a node's large, long-lived heap.

A node holds hundreds of thousands of long-lived objects (the derived cache, index bookkeeping), and
every full collection scans all of them: 71 ms on one 100k-claim shard here, growing with the shard.
Right after a full collection everything left is reachable, so it is moved to the permanent generation
(``gc.freeze``) and later collections scan only what was created since (10 ms on the same shard).

The price: a cycle made of objects that were alive at a freeze is never reclaimed when it later becomes
garbage. The node's long-lived objects (cache entries, protobuf messages, index arrays) form no cycles,
so what can leak is bounded by what a request had in flight at a full collection.
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
