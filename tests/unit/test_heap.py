"""The node's garbage-collector policy: survivors of a full collection are frozen (later collections do
not scan them), and garbage cycles made afterwards are still reclaimed. Run in a child interpreter: the
policy changes the process-wide collector."""

import subprocess
import sys

CHILD = """
import gc, weakref
from dash_node import heap

class Node:
    pass

kept = [Node() for _ in range(1000)]
heap.freeze_after_full_collections()
frozen_at_start = gc.get_freeze_count()
assert frozen_at_start >= 1000, frozen_at_start
more = [Node() for _ in range(500)]
gc.collect()  # a full collection: what survived it is frozen as well
assert gc.get_freeze_count() >= frozen_at_start + 500, gc.get_freeze_count()
a, b = Node(), Node()
a.other, b.other = b, a  # a cycle created after the freeze
probe = weakref.ref(a)
del a, b
gc.collect(0)
assert probe() is None, "a young garbage cycle was not reclaimed"
print("ok")
"""


def test_full_collections_freeze_survivors_and_young_cycles_are_still_reclaimed() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
