"""``aigc-audit serve ...``: the policy as an HTTP gate (``governance.service``), and its API keys.

- ``serve --policy P --keys FILE [--reference R] [--host 127.0.0.1 --port 8000] [--mask]``
- ``serve keys add --keys FILE --name NAME --scopes check[,admin]`` prints the new key once.
- ``serve keys list --keys FILE`` and ``serve keys revoke --keys FILE ID``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from rich.console import Console

from aigc_audit.errors import AuditError

PLAIN = {"markup": False, "highlight": False, "soft_wrap": True}


def _cmd_serve(args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.keys is None:
        raise AuditError("serve needs --keys FILE (API keys); make one with 'aigc-audit serve keys add "
                         "--keys FILE --name NAME --scopes check'")
    if args.policy is None:
        raise AuditError("serve needs --policy (a policy file or a shipped name such as 'default')")
    import uvicorn

    from aigc_audit.governance.api_keys import KeyFile
    from aigc_audit.governance.policy import load_policy
    from aigc_audit.governance.service import ServiceConfig, create_app
    from aigc_audit.sampleset import REFERENCE, load_sample_set

    keys = KeyFile(args.keys)
    if not any(not k.revoked_at for k in keys.keys.values()):
        raise AuditError(f"the key file {args.keys} holds no live key, so every request would be refused; "
                         "add one with 'aigc-audit serve keys add'")
    reference = load_sample_set(args.reference, role=REFERENCE) if args.reference else None
    config = ServiceConfig(policy=load_policy(args.policy), keys=keys, reference=reference,
                           max_request_bytes=args.max_request_bytes, max_items=args.max_items,
                           rate_per_minute=args.rate_limit, burst=args.burst, mask=args.mask)
    from aigc_audit.governance.item_check import ItemChecker

    checker = ItemChecker(config.policy, reference)
    checker.warm_up()
    app = create_app(config, checker)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    service_log = logging.getLogger("aigc_audit.service")
    service_log.addHandler(handler)
    service_log.setLevel(logging.INFO)
    err.print(f"serving policy {config.policy.name} (sha256 {config.policy.sha256[:12]}) on "
              f"http://{args.host}:{args.port}  docs: /docs", **PLAIN)
    # uvicorn's access log would print request lines; the service logs its own, content-free.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=30)
    return 0


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


def add_commands(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="serve the policy as an HTTP gate; manage its API keys")
    serve.add_argument("--policy", help="policy file or shipped policy name")
    serve.add_argument("--keys", help="API key file (see 'serve keys add')")
    serve.add_argument("--reference", help="training set, for the rules that compare against one")
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
