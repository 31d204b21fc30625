"""The ``dash`` command line: run a node, ingest claims and documents, retrieve.

Client commands talk gRPC to ``--target`` (a standalone node or the router), or with ``--embedded DIR``
open a data directory in-process (``dash_client.embedded``).
Errors go to stderr as ``STATUS_NAME: message`` with a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

import grpc
from tqdm import tqdm

from dash_client import transport
from dash_client.client import MODES, ClientConfig, DashClient, content_commit_id
from dash_client.errors import DashError, InvalidArgument
from dash_client.formats import FormatError, claim_from_json, parse_time, render_text
from dash_client.tracing import setup_tracing


def _client(args: argparse.Namespace) -> DashClient:
    if args.embedded:
        from dash_client.embedded import EmbeddedDashClient  # loads the engine: only when asked for

        config = ClientConfig(timeout=args.timeout)
        return EmbeddedDashClient(args.embedded, tenant=args.tenant, config=config)
    try:
        tls = transport.from_args(args)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from exc
    try:
        config = ClientConfig(
            target=args.target, api_key=args.api_key, tenant=args.tenant, timeout=args.timeout, tls=tls
        )
    except ValueError as exc:
        raise InvalidArgument(f"--{exc}") from exc
    return DashClient(config=config)


def _wait_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait-detection",
        action="store_true",
        help="answer once the detector's edges (contradicts, supersedes, ...) for the claims are in place",
    )


def cmd_ingest(args: argparse.Namespace) -> int:
    """JSONL claims in batches; each batch's commit_id derives from its content, so a re-run is a no-op."""
    path = Path(args.file)
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    items = []
    for n, line in enumerate(lines, 1):
        try:
            items.append(claim_from_json(json.loads(line), f"{path.name}:{n}"))
        except (json.JSONDecodeError, FormatError) as exc:
            print(f"INVALID_ARGUMENT: {path.name}:{n}: {exc}", file=sys.stderr)
            return 2
    written = replayed = 0
    bar = tqdm(total=len(items), unit="claim", disable=args.quiet, file=sys.stderr)
    with _client(args) as client, bar:
        for start in range(0, len(items), args.batch_size):
            chunk = items[start : start + args.batch_size]
            resp = client.ingest_batch(
                chunk,
                commit_id=content_commit_id(chunk, prefix="jsonl"),
                wait_for_detection=args.wait_detection,
            )
            written += len(resp.claim_ids)
            replayed += len(resp.claim_ids) if resp.replayed else 0
            bar.update(len(chunk))
    print(json.dumps({"claims": written, "already_present": replayed}))
    return 0


def cmd_ingest_doc(args: argparse.Namespace) -> int:
    text = Path(args.file).read_text(encoding="utf-8")
    with _client(args) as client:
        resp = client.ingest_document(
            args.doc_id,
            text,
            source_id=args.source_id or args.doc_id,
            title=args.title or "",
            source_quality=args.source_quality,
            wait_for_detection=args.wait_detection,
        )
    print(json.dumps({"doc_id": args.doc_id, "claims": len(resp.claim_ids), "lsn": resp.lsn}))
    return 0


def cmd_retrieve(args: argparse.Namespace) -> int:
    try:  # checked here so the message names the flag
        for flag, value in (("--as-of", args.as_of), ("--as-known-at", args.as_known_at)):
            if value:
                parse_time(flag, value)
    except FormatError as exc:
        print(f"INVALID_ARGUMENT: {exc}", file=sys.stderr)
        return 2
    labels = {key: value for key, _, value in (label.partition("=") for label in args.label)}
    with _client(args) as client:
        result = client.retrieve(
            args.query,
            top_k=args.top_k,
            mode=args.mode,
            as_of=args.as_of or None,
            as_known_at=args.as_known_at or None,
            labels=labels,
            entities=args.entity,
            explain=args.explain,
            include_history=args.history,
            graph_depth=args.graph_depth,
            num_candidates=args.num_candidates,
        )
    out = result.to_json()
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    print("\n".join(render_text(out)))
    return 0


# Commands that parse their own flags, by the words that start them; imported only when used, so
# client-only commands stay light (the SDK never imports the servers).
DELEGATED = {
    ("node", "serve"): ("dash_node.server", "serve DASH shard replicas over gRPC"),
    ("router", "serve"): ("dash_router.server", "serve the public API in front of a cluster"),
    ("cluster",): ("cluster.cli", "up | status | down: a local cluster of real processes"),
    ("drill",): ("cluster.drills", "failover|partition|rebalance|split: drills under load + checker"),
    ("trace", "show"): ("dash_client.trace_view", "a trace from a JSONL trace file as a waterfall"),
    ("audit",): ("dash_router.audit", "verify FILE: check a tamper-evident audit log"),
    ("bench",): ("cluster.bench.cli", "--profile smoke|standard|large|xlarge: performance figures"),
}


def _delegate(argv: list[str]) -> int | None:
    for words, (module, _) in DELEGATED.items():
        if tuple(argv[: len(words)]) == words:
            return importlib.import_module(module).main(argv[len(words) :])
    return None


def _client_args(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group()
    where.add_argument("--target", default="127.0.0.1:7070", help="HOST:PORT of a node or router")
    where.add_argument(
        "--embedded",
        type=Path,
        default=None,
        metavar="DIR",
        help="no server: open the data directory DIR in this process (a node's --data-dir; created if new)",
    )
    p.add_argument("--tenant", default="default", help="tenant id")
    p.add_argument("--api-key", default="", help="API key (sent as a bearer token)")
    p.add_argument("--timeout", type=float, default=30.0, help="deadline per call, seconds")
    transport.add_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dash", description="DASH evidence-first memory engine")
    sub = p.add_subparsers(dest="command", required=True)

    for words, (_, summary) in DELEGATED.items():
        sub.add_parser(
            words[0],
            help=f"{' '.join(words)}: {summary} (see: dash {' '.join(words)} --help)",
            add_help=False,
        )

    ing = sub.add_parser("ingest", help="ingest claims from a JSONL file (format in the README)")
    ing.add_argument("file")
    ing.add_argument("--batch-size", type=int, default=500)
    ing.add_argument("--quiet", action="store_true", help="no progress bar")
    _wait_arg(ing)
    _client_args(ing)
    ing.set_defaults(func=cmd_ingest)

    doc = sub.add_parser("ingest-doc", help="ingest a text document as sentence claims with exact spans")
    doc.add_argument("file")
    doc.add_argument("--doc-id", required=True)
    doc.add_argument("--source-id", default="")
    doc.add_argument("--title", default="")
    doc.add_argument("--source-quality", type=float, default=None)
    _wait_arg(doc)
    _client_args(doc)
    doc.set_defaults(func=cmd_ingest_doc)

    ret = sub.add_parser("retrieve", help="ranked claims with citations")
    ret.add_argument("--query", "-q", required=True)
    ret.add_argument("--top-k", "-k", type=int, default=10)
    ret.add_argument("--mode", choices=sorted(MODES), default="balanced")
    ret.add_argument("--as-of", default="", help="valid time (RFC 3339)")
    ret.add_argument("--as-known-at", default="", help="transaction time (RFC 3339)")
    ret.add_argument("--label", action="append", default=[], help="KEY=VALUE filter (repeatable)")
    ret.add_argument("--entity", action="append", default=[], help="entity filter (repeatable)")
    ret.add_argument("--explain", action="store_true", help="per-stage candidate counts and timings")
    ret.add_argument(
        "--history", action="store_true", help="the whole history: claims no longer valid or superseded too"
    )
    ret.add_argument("--graph-depth", type=int, default=0, help="add claims linked by evidence edges (hops)")
    ret.add_argument(
        "--num-candidates", type=int, default=0, help="candidates per first stage, per shard (0: max(50, 2k))"
    )
    ret.add_argument("--json", action="store_true", help="print the documented JSON shape")
    _client_args(ret)
    ret.set_defaults(func=cmd_retrieve)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    delegated = _delegate(argv)
    if delegated is not None:
        return delegated
    args = build_parser().parse_args(argv)
    setup_tracing("dash-client")  # a no-op unless DASH_TRACE_FILE or OTEL_* configure tracing
    try:
        return args.func(args)
    except DashError as exc:
        print(f"{exc.code}: {exc.details}", file=sys.stderr)
        return 1
    except grpc.RpcError as exc:
        code = exc.code()
        print(f"{code.name if code else 'UNKNOWN'}: {exc.details()}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
