"""``aigc-audit serve ...``: the policy as an HTTP gate (``governance.service``), and its API keys.

- ``serve --policy P --keys FILE [--reference R] [--index IDX] [--host 127.0.0.1 --port 8000]
  [--workers N] [--threads T] [--mask]`` (``governance.service_server``: loading, workers, graceful shutdown)
- ``serve keys add --keys FILE --name NAME --scopes check[,admin]`` prints the new key once.
- ``serve keys list --keys FILE`` and ``serve keys revoke --keys FILE ID``.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from aigc_audit.errors import AuditError

PLAIN = {"markup": False, "highlight": False, "soft_wrap": True}


def _cmd_serve(args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.keys is None:
        raise AuditError("serve needs --keys FILE (API keys); make one with 'aigc-audit serve keys add "
                         "--keys FILE --name NAME --scopes check'")
    if args.policy is None:
        raise AuditError("serve needs --policy (a policy file or a shipped name such as 'default')")
    from aigc_audit.governance.service_server import ServeSettings, serve

    settings = ServeSettings(policy=args.policy, keys=args.keys, reference=args.reference, index=args.index,
                             mask=args.mask, rate_per_minute=args.rate_limit, burst=args.burst,
                             max_items=args.max_items, max_request_bytes=args.max_request_bytes,
                             threads=args.threads)
    return serve(settings, host=args.host, port=args.port, workers=args.workers,
                 graceful_seconds=args.graceful_timeout, announce=lambda line: err.print(line, **PLAIN))


def _cmd_keys_add(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance.api_keys import KeyFile, parse_scopes

    key, text = KeyFile(args.keys).add(args.name, parse_scopes(args.scopes))
    err.print(f"key {key.id} ({key.name}, scopes {','.join(key.scopes)}) added to {args.keys}; it is shown "
              "once, store it now:", **PLAIN)
    out.print(text, **PLAIN)
    return 0


def _cmd_keys_list(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance.api_keys import KeyFile

    for k in KeyFile(args.keys).keys.values():
        state = f"revoked {k.revoked_at}" if k.revoked_at else "live"
        out.print(f"{k.id}  {','.join(k.scopes):<12} {state:<30} {k.name}", **PLAIN)
    return 0


def _cmd_keys_revoke(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance.api_keys import KeyFile

    key = KeyFile(args.keys).revoke(args.id)
    out.print(f"key {key.id} ({key.name}) revoked at {key.revoked_at}", **PLAIN)
    return 0


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0; got {text}")
    return value


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1; got {text}")
    return value


def add_commands(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="serve the policy as an HTTP gate; manage its API keys")
    serve.add_argument("--policy", help="policy file or shipped policy name")
    serve.add_argument("--keys", help="API key file (see 'serve keys add')")
    serve.add_argument("--reference", help="training set, for the rules that compare against one "
                       "(with --index: default, the set the index was built from)")
    serve.add_argument("--index", help="stored index of the training set ('aigc-audit index build'): a "
                       "folder, memory-mapped and shared by the workers, or "
                       "redis://HOST:PORT/DB?prefix=NAME, shared with other machines")
    serve.add_argument("--workers", type=_at_least_one, default=1,
                       help="worker processes sharing the port and the index (default: %(default)s)")
    serve.add_argument("--threads", type=_at_least_one, default=0,
                       help="torch threads per worker, for the MiniLM-based harm heads (default: the "
                       "machine's cores divided among the workers)")
    serve.add_argument("--graceful-timeout", type=_positive, default=30.0,
                       help="on SIGTERM, seconds that requests in flight may take to finish (default: "
                       "%(default)s)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="(default: %(default)s)")
    serve.add_argument("--mask", action="store_true", help="mask personal data in responses and logs")
    serve.add_argument("--rate-limit", type=_positive, default=600.0,
                       help="requests per minute per key (default: %(default)s)")
    serve.add_argument("--burst", type=int, default=60, help="requests a key may send at once "
                       "(default: %(default)s)")
    serve.add_argument("--max-items", type=int, default=64, help="items per request (default: %(default)s)")
    serve.add_argument("--max-request-bytes", type=int, default=1 << 20,
                       help="request body size limit (default: %(default)s)")
    serve.set_defaults(handler=_cmd_serve)
    sub = serve.add_subparsers(dest="serve_command", metavar="ACTION")
    keys = sub.add_parser("keys", help="add, list and revoke API keys")
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="make a key and print it once")
    add.add_argument("--keys", required=True, help="API key file (made if missing)")
    add.add_argument("--name", required=True, help="who or what uses the key")
    add.add_argument("--scopes", default="check", help="comma-separated: check, admin (default: %(default)s)")
    add.set_defaults(handler=_cmd_keys_add)
    listing = actions.add_parser("list", help="list the keys (never their secrets)")
    listing.add_argument("--keys", required=True, help="API key file")
    listing.set_defaults(handler=_cmd_keys_list)
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("--keys", required=True, help="API key file")
    revoke.add_argument("id", help="the key's id (see 'serve keys list')")
    revoke.set_defaults(handler=_cmd_keys_revoke)
