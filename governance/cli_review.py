"""``aigc-audit dashboard``, ``aigc-audit ledger list|verify|export-waivers`` and
``aigc-audit reviewer add|list|remove``.

``ledger verify`` exits 0 when the hash chain and every signature (against the keys file beside
the password file, ``--reviewers``) check out, and 1 when an entry does not (naming the first bad
one), like a failed policy: CI should stop on it. As everywhere, 2 means the check could not be
made: the store does not exist (``ledger`` never creates one) or cannot be opened, or there are
entries but no keys file to check them against.

``ledger export-waivers`` writes the waive decisions in force (from a ledger that verifies) as a
waivers file, for the repository: a CI runner starts with an empty store, and the file carries the
reviewers' decisions to it, through code review.

``reviewer add`` writes the password file and, beside it, the reviewer's signing key (see
:mod:`~aigc_audit.governance.reviewers`).
"""

from __future__ import annotations

import argparse
import getpass
import importlib.util
import ipaddress
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from aigc_audit.errors import AuditError

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8501
STOP_TIMEOUT = 10  # seconds the Streamlit server gets to stop before it is killed
STORE_HELP = ("run store: SQLAlchemy URL or SQLite path "
              "(default: $AIGC_AUDIT_STORE or .aigc-audit/runs.sqlite)")
EXISTING_STORE_HELP = STORE_HELP + "; it must exist"
REVIEWERS_HELP = "password file (default: $AIGC_AUDIT_REVIEWERS or .aigc-audit/reviewers)"


def dashboard_command(store_url: str) -> str:
    """The one command that opens the dashboard on ``store_url`` (``make demo`` prints it)."""
    return f"aigc-audit dashboard --store {shlex.quote(str(store_url))}"


def dashboard_app_path() -> Path:
    # Located, not imported: governance sits below the dashboard and never imports it.
    spec = importlib.util.find_spec("aigc_audit.dashboard")
    if spec is None or spec.origin is None:
        raise AuditError("the dashboard package is not installed; reinstall aigc-audit")
    return Path(spec.origin).parent / "app.py"


def streamlit_argv(app: Path, host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(app),
            "--server.address", host, "--server.port", str(port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--server.runOnSave", "false", "--global.developmentMode", "false",
            "--client.toolbarMode", "viewer"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _cmd_dashboard(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance.locations import ITEMS_ROOT_ENV
    from aigc_audit.governance.reviewers import REVIEWERS_ENV, default_path
    from aigc_audit.governance.store import STORE_ENV, RunStore, store_url

    url = store_url(args.store)
    # Read-only: viewing never changes the store; the first decision creates the ledger's tables.
    store = RunStore(url, read_only=True)  # fails here, with a one-line message, on a bad URL
    reviewers = Path(args.reviewers).resolve() if args.reviewers else default_path().resolve()
    n_runs = len(store.list_runs())
    store.engine.dispose()
    roots = [Path(root).resolve() for root in args.items_root or ()]
    for root in roots:
        if not root.is_dir():
            raise AuditError(f"--items-root {root} is not a folder; pass the folder the sample and "
                             "reference sets were moved to")
    if not _is_loopback(args.host):
        err.print(f"[yellow]serving on {args.host}: anyone who can reach this address can read the "
                  "runs (logins guard only decisions)[/]", soft_wrap=True)
    if not reviewers.is_file():
        err.print(f"[yellow]no reviewers in {reviewers}: add one with 'aigc-audit reviewer add NAME' "
                  "to record decisions[/]", soft_wrap=True)
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    out.print(f"dashboard on http://{shown_host}:{args.port} ({n_runs} run(s) in {url}); "
              "Ctrl-C stops it", markup=False, highlight=False, soft_wrap=True)
    env = {**os.environ, STORE_ENV: url, REVIEWERS_ENV: str(reviewers),
           ITEMS_ROOT_ENV: os.pathsep.join(str(root) for root in roots)}
    return _serve(streamlit_argv(dashboard_app_path(), args.host, args.port), env)


def _serve(argv: list[str], env: dict[str, str]) -> int:
    """Run the Streamlit server until it ends, or until this process gets SIGTERM or SIGINT: then
    stop the server too (it must not outlive the command and keep its port open)."""
    child = subprocess.Popen(argv, env=env)
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signum)
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            try:
                code = child.wait(timeout=STOP_TIMEOUT if stopping else None)
                break
            except subprocess.TimeoutExpired:
                child.kill()  # it ignored SIGTERM for STOP_TIMEOUT seconds
            except KeyboardInterrupt:  # a SIGINT that arrived before the handler was set
                stop(signal.SIGINT, None)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0 if stopping else code


def _cmd_ledger_list(args: argparse.Namespace, out: Console, err: Console) -> int:
    from rich.table import Table

    from aigc_audit.governance.console import cell
    from aigc_audit.governance.ledger import Ledger
    from aigc_audit.governance.store import RunStore

    entries = Ledger(RunStore(args.store, must_exist=True)).entries(run_id=args.run)
    table = Table(title=f"review ledger ({len(entries)} entries)")
    for column in ("#", "when", "reviewer", "decision", "rule", "item", "expires", "reason"):
        table.add_column(column)
    for e in entries[-args.limit:]:
        # Cells are data, never markup: a row written straight into the store may hold anything.
        reason = str(e.reason)
        reason = reason if len(reason) <= 60 else reason[:57] + "..."
        table.add_row(*(cell(v) for v in (e.seq, str(e.created_at)[:19], e.reviewer, e.decision,
                                          e.rule_id, e.item_id, e.expires or "", reason)))
    out.print(table)
    return 0


def _cmd_ledger_verify(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance.console import print_json
    from aigc_audit.governance.ledger import Ledger
    from aigc_audit.governance.store import RunStore

    ledger = Ledger(RunStore(args.store, must_exist=True), reviewers=args.reviewers)
    result = ledger.verify()
    if not result.ok and not ledger.keys_file.is_file():
        raise AuditError(f"cannot check the ledger's signatures: no reviewer keys at {ledger.keys_file}; "
                         "give --reviewers the password file the reviewers were added to (or set "
                         "$AIGC_AUDIT_REVIEWERS)")
    if args.json:
        print_json({"ok": result.ok, "n_entries": result.n_entries, "head": result.head,
                    "broken_seq": result.broken_seq, "problem": result.problem,
                    "keys_file": str(ledger.keys_file), "message": str(result)})
        return 0 if result.ok else 1
    if result.ok:
        out.print(f"{result}; signatures checked against {ledger.keys_file}", markup=False,
                  highlight=False, soft_wrap=True)
        return 0
    err.print(f"aigc-audit: {result}", markup=False, highlight=False, soft_wrap=True)
    return 1


def _cmd_ledger_export_waivers(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance.ledger import Ledger
    from aigc_audit.governance.store import RunStore
    from aigc_audit.governance.waivers import export_ledger_waivers

    # Only from a ledger that verifies, and only the decisions in force today (the latest decision
    # on each finding, unexpired): what an audit against this store would apply.
    text, n_waivers = export_ledger_waivers(Ledger(RunStore(args.store, must_exist=True),
                                                   reviewers=args.reviewers))
    if args.out in (None, "-"):
        sys.stdout.write(text)
        return 0
    path = Path(args.out)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise AuditError(f"cannot write {path}: {error.strerror or error}") from None
    err.print(f"{n_waivers} waiver(s) from the ledger written to {path}; commit it and pass it to "
              "'aigc-audit audit --waivers'", markup=False, highlight=False, soft_wrap=True)
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise AuditError("no terminal to ask for the password; pipe it in with --password-stdin")
    password = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != password:
        raise AuditError("the two passwords differ; run the command again")
    return password


def _cmd_reviewer_add(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance.reviewers import add_reviewer, default_path, keys_path

    path = Path(args.file) if args.file else default_path()
    add_reviewer(path, args.name, _read_password(args), replace=args.replace)
    out.print(f"reviewer {args.name} {'updated' if args.replace else 'added'} in {path} (signing key "
              f"in {keys_path(path)})", markup=False, highlight=False, soft_wrap=True)
    return 0


def _cmd_reviewer_list(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance.reviewers import default_path, read_reviewers

    path = Path(args.file) if args.file else default_path()
    names = sorted(read_reviewers(path))
    out.print(f"{len(names)} reviewer(s) in {path}" + (": " + ", ".join(names) if names else ""),
              markup=False, highlight=False, soft_wrap=True)
    return 0


def _cmd_reviewer_remove(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance.reviewers import default_path, remove_reviewer

    path = Path(args.file) if args.file else default_path()
    remove_reviewer(path, args.name)
    out.print(f"reviewer {args.name} removed from {path}; their public key stays in the keys file so "
              "their past decisions still verify", markup=False, highlight=False, soft_wrap=True)
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    dashboard = commands.add_parser("dashboard", help="start the review dashboard (Streamlit)")
    dashboard.add_argument("--store", help=STORE_HELP)
    dashboard.add_argument("--host", default=LOOPBACK, help="address to listen on (default: "
                           "%(default)s; any other address serves the runs to the network)")
    dashboard.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    dashboard.add_argument("--reviewers", help="password file for logins (default: "
                           "$AIGC_AUDIT_REVIEWERS or .aigc-audit/reviewers)")
    dashboard.add_argument("--items-root", action="append", metavar="FOLDER",
                           help="a folder the audited sample or reference sets were moved to (repeatable); "
                                "a set found there is shown only if its content hash matches the run's")
    dashboard.set_defaults(handler=_cmd_dashboard)

    ledger = commands.add_parser("ledger", help="the reviewers' decisions")
    actions = ledger.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="print the decisions, oldest first")
    listing.add_argument("--store", help=EXISTING_STORE_HELP)
    listing.add_argument("--run", help="only decisions made on this run")
    listing.add_argument("--limit", type=int, default=50, help="newest entries to show")
    listing.set_defaults(handler=_cmd_ledger_list)
    verify = actions.add_parser("verify", help="check the hash chain and the reviewers' signatures; "
                                "exit 1 naming the first bad entry")
    verify.add_argument("--store", help=EXISTING_STORE_HELP)
    verify.add_argument("--reviewers", help=REVIEWERS_HELP + "; signatures are checked against the "
                        "keys file beside it")
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(handler=_cmd_ledger_verify)

    export = actions.add_parser("export-waivers", help="write the waive decisions in force as a "
                                "waivers file to commit beside the policy")
    export.add_argument("--store", help=EXISTING_STORE_HELP)
    export.add_argument("--reviewers", help=REVIEWERS_HELP + "; the ledger must verify against the "
                        "keys file beside it")
    export.add_argument("--out", help="waivers file to write (default: standard output)")
    export.set_defaults(handler=_cmd_ledger_export_waivers)

    reviewer = commands.add_parser("reviewer", help="manage dashboard logins")
    actions = reviewer.add_subparsers(dest="reviewer_command", required=True, metavar="ACTION")
    for name, handler, help_text in (("add", _cmd_reviewer_add, "add a reviewer (asks for a password)"),
                                     ("list", _cmd_reviewer_list, "list reviewers"),
                                     ("remove", _cmd_reviewer_remove, "remove a reviewer")):
        sub = actions.add_parser(name, help=help_text)
        if name != "list":
            sub.add_argument("name")
        sub.add_argument("--file", help=REVIEWERS_HELP)
        if name == "add":
            sub.add_argument("--replace", action="store_true", help="change an existing "
                             "reviewer's password")
            sub.add_argument("--password-stdin", action="store_true", help="read the password "
                             "from the first line of standard input")
        sub.set_defaults(handler=handler)
