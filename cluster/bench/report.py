"""Where results go: one JSON per run under ``history/``, PNG plots, and a markdown summary of the latest
run of each profile (so the scaling plot has one point per profile)."""

from __future__ import annotations

import json
import time
from pathlib import Path


def save(result: dict, out_dir: Path, history: bool = True) -> Path:
    """Keep a result as ``<out>/history/<profile>-<time>.json`` (or directly under ``out_dir``)."""
    directory = out_dir / "history" if history else out_dir
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = directory / f"{result['profile']['name']}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def latest(out_dir: Path, with_peers: bool = False) -> dict[str, dict]:
    """The newest result of each profile in ``history/`` (of those that ran the peers, when asked: a
    later run without them does not hide the last comparison)."""
    out: dict[str, dict] = {}
    for path in sorted((out_dir / "history").glob("*.json")):
        result = json.loads(path.read_text())
        if with_peers and "peers" not in result:
            continue
        out[result["profile"]["name"]] = result
    return dict(sorted(out.items(), key=lambda kv: kv[1]["profile"]["claims"]))


def plot(result: dict, runs: dict[str, dict], out_dir: Path) -> list[Path]:
    """Latency vs concurrency for this run, and latency vs claim count over the latest runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = result["profile"]["name"]
    written = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, k in zip(axes, (10, 50), strict=True):
        rows = [result["retrieval"][f"top{k}_c{c}"] for c in (1, 4, 16)]
        for q in ("p50", "p95", "p99"):
            ax.plot([r["concurrency"] for r in rows], [r[f"{q}_ms"] for r in rows], marker="o", label=q)
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 4, 16], ["1", "4", "16"])
        ax.set_title(f"top-{k}, {result['corpus']['claims']:,} claims")
        ax.set_xlabel("concurrent clients")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("retrieval latency (ms)")
    axes[0].legend()
    fig.tight_layout()
    path = out_dir / f"bench-{name}-latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    own = [r for r in runs.values() if not r["profile"].get("layout")]  # each profile on its own cluster
    if len(own) > 1:
        fig, ax = plt.subplots(figsize=(6, 4))
        claims = [r["corpus"]["claims"] for r in own]
        for q in ("p50", "p95", "p99"):
            ax.plot(claims, [r["retrieval"]["top50_c1"][f"{q}_ms"] for r in own], marker="o", label=q)
        ax.set_xscale("log")
        ax.set_xlabel("claims")
        ax.set_ylabel("top-50 latency at concurrency 1 (ms)")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out_dir / "bench-scaling.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def _background_s(r: dict) -> float:
    load = r["ingest"]["leader_client_vectors"]
    # Runs from before each ingest run waited for its own background work drained once, after all three.
    return load["background_s"] if "background_s" in load else r["ingest"]["detection_drain_s"]


def markdown(runs: dict[str, dict], peer_runs: dict[str, dict] | None = None) -> str:
    """A table per measurement, one column per profile; then the peers tables of ``peer_runs`` (by
    default the peers in ``runs``)."""
    names = list(runs)
    lines = ["# `dash bench`: latest run of each profile", ""]
    lines.append("Written by `dash bench`; the full results are in `history/`. Latencies in ms.")
    lines.append("")
    lines.append("| | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))

    def row(label: str, get) -> None:
        cells = []
        for r in runs.values():
            try:
                cells.append(str(get(r)))
            except (KeyError, TypeError):
                cells.append("n/a")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("claims", lambda r: f"{r['corpus']['claims']:,}")
    row("commit", lambda r: r["git"])
    row(
        "cluster (nodes / shards / replicas)",
        lambda r: "{nodes} / {shards} / {replicas}".format(**r["profile"]),
    )
    row(
        "ingest claims/s, leader ack, client vectors",
        lambda r: r["ingest"]["leader_client_vectors"]["claims_per_s"],
    )
    row(
        "ingest claims/s, leader ack, node embeds",
        lambda r: r["ingest"]["leader_node_embeds"]["claims_per_s"],
    )
    row("ingest claims/s, replicated ack", lambda r: r["ingest"]["replicated_client_vectors"]["claims_per_s"])
    row("background work caught up, s after the last ack", _background_s)
    row(
        "ingest claims/s through the background work (claims / (load s + catch-up s)), client vectors",
        lambda r: round(
            r["corpus"]["claims"] / (r["ingest"]["leader_client_vectors"]["seconds"] + _background_s(r)), 1
        ),
    )
    row(
        "ingest claims/s sustained: the load's second half, acked less backlog growth (edges, graphs)",
        lambda r: r["ingest"]["leader_client_vectors"]["sustained"]["through_background_per_s"],
    )
    row(
        "ingest CPU ms per claim, all processes, through the background work (ceiling claims/s on this box)",
        lambda r: (
            f"{r['ingest']['leader_client_vectors']['cpu_ms_per_claim']['total']}"
            f" ({r['ingest']['leader_client_vectors']['cpu_bound_claims_per_s']:,.0f})"
        ),
    )
    row("freshness ack→visible p50 / p95 / p99", lambda r: _ppp(r["freshness"]["ack_to_visible"]))
    for k in (10, 50):
        for c in (1, 4, 16):
            row(
                f"top-{k} at concurrency {c}: p50 / p95 / p99 (QPS)",
                lambda r, k=k, c=c: (
                    _ppp(r["retrieval"][f"top{k}_c{c}"]) + f" ({r['retrieval'][f'top{k}_c{c}']['qps']})"
                ),
            )
    row(
        "machine alone: slow episodes per s, share of time in them, slowdown (jitter.py)",
        lambda r: "{episodes_per_s} / {time_in_episodes} / {slowdown_in_episodes}x".format(
            **r["machine"]["jitter"]
        ),
    )
    row(
        "ids-only fan-out floor, top-50 sequential: p50 / p95 / p99",
        lambda r: _ppp(r["floor"]),
    )
    row(
        "DASH top-50 p95 at concurrency 1 / floor p95",
        lambda r: round(r["retrieval"]["top50_c1"]["p95_ms"] / r["floor"]["p95_ms"], 1),
    )
    row(
        "CPU ms per top-50 query, all processes: DASH / floor",
        lambda r: (
            f"{r['retrieval']['top50_c1']['cpu_ms_per_query']['total']}"
            f" / {r['floor']['cpu_ms_per_query']['total']}"
        ),
    )
    row(
        "recall@10 / @100 (dense-only weights vs exact; ± standard error over the queries)",
        _recall,
    )
    row(
        "nDCG@10 DASH / dense-only",
        lambda r: "{ndcg_at_10_dash} / {ndcg_at_10_dense_only}".format(**r["quality"]),
    )
    row("peak RSS MB (max node / router)", lambda r: _rss(r["resources"]["peak_rss_mb"]))
    row("RSS MB at the end, max node: heap (anonymous) / file-backed (LMDB map)", _rss_split)
    row("disk bytes per claim per replica", lambda r: r["resources"]["disk_bytes_per_claim_per_replica"])
    row("restart after SIGKILL, s to serving", lambda r: r["restart"]["seconds_to_serving"])
    row(
        "restart: s until the re-indexed vectors are in their graphs (serving meanwhile); peak RSS MB",
        lambda r: f"{r['restart']['seconds_to_caught_up']}; {r['restart']['peak_rss_mb']:,.0f}",
    )
    for name, r in (runs if peer_runs is None else peer_runs).items():
        if "peers" in r:
            lines += ["", *_peers_table(name, r)]
    return "\n".join(lines) + "\n"


def _recall(r: dict) -> str:
    rec = r["recall"]
    text = f"{rec['recall_at_10']} / {rec['recall_at_100']}"
    if "recall_at_10_se" in rec:  # runs before the standard error was kept have none
        text += f" (± {rec['recall_at_10_se']} / ± {rec['recall_at_100_se']}, {rec['queries']} queries)"
    return text


def _peers_table(name: str, r: dict) -> list[str]:
    """Top-10 by vector, sequential, same data and queries: each system beside DASH."""
    out = [
        f"## Peers, profile `{name}` ({r['corpus']['claims']:,} claims, top-10 by vector, one client; "
        f"run of {r['started_at'][:10]} at {r['git']})",
        "",
        "| system | ingest s | queries | p50 ms | p95 ms | recall@10 | DASH p50 beside it, ms "
        "| DASH p50 / its p50 (range over rounds) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, row in r["peers"].items():
        if "error" in row:
            out.append(f"| {row['name']} | failed: {row['error']} | | | | | | |")
            continue
        out.append(
            f"| {row['name']} | {row.get('ingest_s', r['ingest']['leader_client_vectors']['seconds'])} "
            f"| {row['n']} | {row['p50_ms']:.2f} | {row['p95_ms']:.2f} | {row['recall_at_10']} "
            f"| {row.get('dash_p50_beside_ms', '')} "
            f"| {_ratio(row) if key != 'dash' else ''} |"
        )
    return out


def _ratio(row: dict) -> str:
    """DASH's p50 over the peer's, with the range of the per-round ratios when the run kept them."""
    rounds = row.get("dash_p50_ratio_per_round")
    spread = f" (rounds {min(rounds)} to {max(rounds)})" if rounds else ""
    return f"{row.get('dash_p50_ratio', '')}{spread}"


def _rss_split(r: dict) -> str:
    nodes = [v for name, v in r["resources"]["rss_mb_now"].items() if name.startswith("n")]
    return f"{max(v['anon'] for v in nodes):,.0f} / {max(v['file'] for v in nodes):,.0f}"


def _ppp(s: dict) -> str:
    return f"{s['p50_ms']:.1f} / {s['p95_ms']:.1f} / {s['p99_ms']:.1f}"


def _rss(rss: dict[str, float]) -> str:
    nodes = [v for k, v in rss.items() if k.startswith("n")]
    return f"{max(nodes):.0f} / {rss.get('router', 0):.0f}"
