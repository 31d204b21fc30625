"""Nodes in network namespaces of their own, on a bridge of their own, so a drill can cut one off.

Each node's namespace has one end of a veth pair (``ns_ip`` on a private /24); the other end is
attached to a bridge in the host namespace, which holds ``host_ip`` — where etcd and the router listen
for them besides loopback. Nodes talk to each other across the bridge. ``partition`` sets a node's host
end down: it can reach nothing and nothing can reach it; ``heal`` sets it up again. Needs root and
iproute2; ``available()`` says whether this machine has them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Netns:
    name: str
    host_if: str
    ns_if: str
    ns_ip: str
    host_ip: str  # the bridge's address, which the node reaches etcd on

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Bridge:
    name: str
    ip: str
    prefix: str  # the first three octets of the /24

    def to_json(self) -> dict:
        return asdict(self)


def available() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"dashprobe{secrets.token_hex(3)}"
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode != 0:
        return False
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return True


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def create_bridge() -> Bridge:
    tag = secrets.token_hex(3)
    prefix = f"10.{100 + int(tag[:2], 16) % 100}.{int(tag[2:4], 16)}"  # a /24 unlikely to clash
    bridge = Bridge(f"dbr{tag}", f"{prefix}.1", prefix)
    _ip("link", "add", bridge.name, "type", "bridge")
    _ip("addr", "add", f"{bridge.ip}/24", "dev", bridge.name)
    _ip("link", "set", bridge.name, "up")
    return bridge


def create(bridge: Bridge, index: int) -> Netns:
    """A namespace for node number ``index`` (1-based), its veth up, addressed and on the bridge."""
    tag = bridge.name[3:]
    ns = Netns(
        f"dash-{tag}-{index}", f"dh{tag}{index}", f"dn{tag}{index}", f"{bridge.prefix}.{index + 1}", bridge.ip
    )
    _ip("netns", "add", ns.name)
    try:
        _ip("link", "add", ns.host_if, "type", "veth", "peer", "name", ns.ns_if)
        _ip("link", "set", ns.ns_if, "netns", ns.name)
        _ip("link", "set", ns.host_if, "master", bridge.name)
        _ip("link", "set", ns.host_if, "up")
        _ip("-n", ns.name, "addr", "add", f"{ns.ns_ip}/24", "dev", ns.ns_if)
        _ip("-n", ns.name, "link", "set", ns.ns_if, "up")
        _ip("-n", ns.name, "link", "set", "lo", "up")
    except subprocess.CalledProcessError:
        delete(ns)
        raise
    return ns


def partition(ns: Netns) -> None:
    _ip("link", "set", ns.host_if, "down")


def heal(ns: Netns) -> None:
    _ip("link", "set", ns.host_if, "up")


def delete(ns: Netns) -> None:
    """Remove the namespace (its veth end goes with it, and so does the host end)."""
    subprocess.run(["ip", "netns", "del", ns.name], capture_output=True)
    subprocess.run(["ip", "link", "del", ns.host_if], capture_output=True)


def delete_bridge(bridge: Bridge) -> None:
    subprocess.run(["ip", "link", "del", bridge.name], capture_output=True)
