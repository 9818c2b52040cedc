"""The ``aigc-audit`` command line.

Exit codes are a contract with CI: 0 pass (warnings included), 1 the policy failed (or warned
under ``--strict``), 2 the run could not be made; the last always comes with a one-line message
and no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

import aigc_audit
from aigc_audit.errors import AuditError, PolicyError

EXIT_OK, EXIT_POLICY_FAILED, EXIT_USAGE = 0, 1, 2


def _cmd_audit(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance import reports
    from aigc_audit.governance.console import progress_tracker, summary_table
    from aigc_audit.governance.runner import run_audit
    from aigc_audit.governance.store import RunStore
    from aigc_audit.governance.waivers import LedgerWaivers
    from aigc_audit.sampleset import SAMPLES, load_sample_set

    store = RunStore(args.store)  # opened first: a bad URL fails before the long work
    # Reviewers' unexpired waivers from the store's ledger, matched on item content.
    samples = load_sample_set(args.samples, role=SAMPLES)
    waivers = None if args.ignore_waivers else LedgerWaivers.from_store(store, samples)
    with progress_tracker(err) as track:
        result = run_audit(samples, args.policy, reference=args.reference, track=track,
                           waiver=waivers)
    report = result.report
    written = reports.write_reports(report, args.out)
    store.record(report)
    out.print(summary_table(report))
    for finding in report.findings[:args.show]:
        out.print(f"  {finding}", markup=False, highlight=False)
    if len(report.findings) > args.show:
        out.print(f"  ... {len(report.findings) - args.show} more finding(s) in {written['json']}")
    if report.waived:
        out.print(f"[cyan]{len(report.waived)} finding(s) waived by reviewers (ledger entries "
                  f"{sorted({w['ledger_seq'] for w in waivers.applied})}); listed under 'Waived' "
                  "in the report[/]")
    if report.item_errors:
        out.print(f"[yellow]{len(report.item_errors)} item(s) could not be read; see item_errors in "
                  "the report[/]")
    out.print(f"run {report.run_id}: reports in {Path(args.out)}/ "
              f"({', '.join(p.name for p in written.values())}); stored in {store.url}",
              markup=False, highlight=False)
    return result.exit_code(strict=args.strict)


def _cmd_policy_validate(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance.policy import load_policy

    status = EXIT_OK
    for path in args.policies:
        try:
            policy = load_policy(path)
        except PolicyError as error:
            for problem in error.problems:
                err.print(problem, markup=False, highlight=False, soft_wrap=True)
            status = EXIT_USAGE
        else:
            out.print(f"{path}: valid ({len(policy.rules)} rules, sha256 {policy.sha256[:12]})",
                      markup=False, highlight=False)
    return status


def _cmd_runs(args: argparse.Namespace, out: Console, err: Console) -> int:
    from rich.table import Table

    from aigc_audit.governance.store import RunStore

    table = Table(title=f"runs in {args.store or 'the default store'}")
    for column in ("run", "created", "verdict", "policy", "samples", "items"):
        table.add_column(column)
    for run in RunStore(args.store).list_runs(verdict=args.verdict, samples=args.samples)[:args.limit]:
        table.add_row(run["run_id"], run["created_at"], run["verdict"], run["policy_name"],
                      run["samples_path"], str(run["n_items"]))
    out.print(table)
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.demo.run import run_demo

    return run_demo(Path(args.out), console=out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aigc-audit", description="Audit generative-AI output "
                                     "for quality, copying and harm before release.")
    parser.add_argument("--version", action="version", version=f"aigc-audit {aigc_audit.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    audit = commands.add_parser("audit", help="audit a sample set under a policy")
    audit.add_argument("--samples", required=True, help="sample set: folder with manifest.jsonl, "
                       ".txt, .jsonl or folder of images")
    audit.add_argument("--reference", help="reference (training) set, in the same forms")
    audit.add_argument("--policy", default="default", help="policy file or shipped policy name "
                       "(default: %(default)s)")
    audit.add_argument("--out", required=True, help="folder for report.json, report.md, junit.xml, "
                       "report.sarif")
    audit.add_argument("--store", help="run store: SQLAlchemy URL or SQLite path (default: "
                       "$AIGC_AUDIT_STORE or .aigc-audit/runs.sqlite)")
    audit.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    audit.add_argument("--show", type=int, default=10, help="findings to print (default: %(default)s)")
    audit.add_argument("--ignore-waivers", action="store_true", help="do not apply reviewers' "
                       "waivers from the store's ledger")
    audit.set_defaults(handler=_cmd_audit)

    policy = commands.add_parser("policy", help="work with policies")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    validate = policy_commands.add_parser("validate", help="check policies; print every problem")
    validate.add_argument("policies", nargs="+", help="policy files or shipped policy names")
    validate.set_defaults(handler=_cmd_policy_validate)

    runs = commands.add_parser("runs", help="list the runs in the store")
    runs.add_argument("--store", help="run store URL or SQLite path")
    runs.add_argument("--verdict", choices=("pass", "warn", "fail"))
    runs.add_argument("--samples", help="only runs whose sample path contains this")
    runs.add_argument("--limit", type=int, default=20)
    runs.set_defaults(handler=_cmd_runs)

    from aigc_audit.governance import cli_generators
    cli_generators.add_commands(commands)
    from aigc_audit.governance import cli_harm
    cli_harm.add_commands(commands)
    from aigc_audit.governance import cli_review
    cli_review.add_commands(commands)

    demo = commands.add_parser("demo", help="audit example releases end to end")
    demo.add_argument("--out", default="demo-out", help="demo folder (default: %(default)s)")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    out, err = Console(), Console(stderr=True)
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args, out, err)
    except AuditError as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"aigc-audit: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("aigc-audit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
