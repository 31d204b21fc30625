"""Local clusters on one machine: ``LocalCluster`` starts real etcd, node and router processes."""

from cluster.local import ClusterSpec, LocalCluster

__all__ = ["ClusterSpec", "LocalCluster"]
