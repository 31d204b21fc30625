"""DASH shard replica: WAL, LMDB state, vector and lexical indexes, planner, gRPC server.

``Engine(path)`` is the whole replica in-process; ``dash node serve`` wraps it in a gRPC server.
"""

from dash_node.engine import Engine, EngineConfig

__all__ = ["Engine", "EngineConfig"]
