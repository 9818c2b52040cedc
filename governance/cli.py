"""The ``aigc-audit`` command line.

Exit codes are a contract with CI: 0 pass (warnings included), 1 the policy failed (or warned
under ``--strict``), 2 the run could not be made (bad input, configuration, store or output
folder), 3 an internal error (a bug: the traceback is written to a temporary file the one-line
message names). 2 and 3 never print a traceback, and nothing but a failed policy exits 1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

import aigc_audit
from aigc_audit.errors import AuditError

if TYPE_CHECKING:  # imported where used: the CLI starts fast
    from aigc_audit.governance.report import Report
    from aigc_audit.governance.store import RunStore

EXIT_OK, EXIT_POLICY_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def _load_baseline(reference: str, store: RunStore) -> tuple[Report, str]:
    """``--baseline``: a report.json file, or a run id in the store; (report, where it came from)."""
    from aigc_audit.governance.baseline import looks_like_file, read_baseline_file

    if looks_like_file(reference):
        return read_baseline_file(reference), reference
    try:
        return store.report(reference), f"run store {store.display_url}"
    except AuditError:
        raise AuditError(f"--baseline {reference!r} is neither a report.json file nor a run in store "
                         f"{store.display_url}; pass the report.json an earlier audit wrote, or a run "
                         "id from 'aigc-audit runs'") from None


def _cmd_audit(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance import reports
    from aigc_audit.governance.console import (
        VERBOSE,
        baseline_line,
        cell,
        progress_tracker,
        summary_table,
        terminal_safe,
        verdict_line,
    )
    from aigc_audit.governance.policy import load_policy
    from aigc_audit.governance.runner import run_audit
    from aigc_audit.governance.status import SKIP
    from aigc_audit.governance.store import RunStore
    from aigc_audit.governance.waiver_file import load_waivers
    from aigc_audit.governance.waivers import Waivers, check_rules, ledger_waivers, utc_today
    from aigc_audit.sampleset import SAMPLES, load_sample_set

    # Everything that can be checked before the long work is: the store opens and takes a write,
    # the report folder takes a file.
    store = RunStore(args.store)
    store.check_writable()
    reports.prepare_out_dir(args.out)
    policy = load_policy(args.policy)
    baseline, baseline_source = _load_baseline(args.baseline, store) if args.baseline else (None, "")
    # Waivers from the repository (the policy's own, then each --waivers file), checked before the
    # samples are read; then reviewers' waivers from the store's ledger, matched on item content.
    repository = [*policy.waivers, *(w for path in args.waivers or () for w in load_waivers(path))]
    check_rules(repository, policy)
    samples = load_sample_set(args.samples, role=SAMPLES)
    attached = _probes(args.probe or (), samples, args.reference)
    waivers = None
    if not args.ignore_waivers:
        today = utc_today()
        ledger = ledger_waivers(store, day=today, reviewers=args.reviewers)
        waivers = Waivers.of(samples, [*repository, *ledger], today=today)
    from aigc_audit.governance.cli_index import audit_sources
    with audit_sources(args) as (index, engine, reference), \
            progress_tracker(err if args.verbosity >= 1 else out) as track:
        result = run_audit(samples, policy, reference=reference, track=track,
                           waiver=waivers, expired_waivers=waivers.expired if waivers else (),
                           strict=args.strict, baseline=baseline, baseline_source=baseline_source,
                           index=index, attached=attached, engine=engine)
    report = result.report
    # Rendered first, stored, then written: the reports on disk always belong to a stored run, and
    # a run whose files were lost can be written again with `aigc-audit report RUN`.
    rendered = reports.render_reports(report)
    store.record(report)
    written = reports.publish_reports(rendered, args.out)
    if args.verbosity < 1:
        print(verdict_line(report))
        return report.exit_code()
    show = len(report.findings) if args.verbosity >= VERBOSE else args.show
    out.print(summary_table(report))
    for rule in report.rules:
        # Why a rule did not apply is always said; other remarks (waivers, counts) with -v.
        if rule.reason and (rule.status == SKIP or args.verbosity >= VERBOSE):
            out.print(f"  {terminal_safe(rule.rule_id)}: {terminal_safe(rule.reason)}", markup=False,
                      highlight=False)
    if baseline_line(report):
        out.print(baseline_line(report), markup=False, highlight=False)
    for finding in report.findings[:show]:
        out.print(f"  {terminal_safe(finding)}", markup=False, highlight=False)
    if args.verbosity >= VERBOSE and report.baseline is not None:
        for finding in report.baseline.resolved:
            out.print(f"  {terminal_safe(finding)}", markup=False, highlight=False)
    if len(report.findings) > show:
        out.print(f"  ... {len(report.findings) - args.show} more finding(s) in {written['json']}",
                  markup=False, highlight=False)
    if report.waived:
        seqs = sorted({w["ledger_seq"] for w in waivers.applied if w["ledger_seq"] is not None})
        files = list(dict.fromkeys(w["source"] for w in waivers.applied if w["ledger_seq"] is None))
        sources = ([f"ledger entries {seqs}"] if seqs else []) + ([", ".join(files)] if files else [])
        out.print(f"[cyan]{len(report.waived)} finding(s) waived by reviewers ({cell('; '.join(sources))}); "
                  "listed under 'Waived' in the report[/]", soft_wrap=True)
    if report.expired_waivers:
        out.print(f"[yellow]{len(report.expired_waivers)} waiver(s) expired and no longer apply: "
                  f"{cell(', '.join(f'{w.origin} (until {w.expires})' for w in report.expired_waivers))}; "
                  "renew or remove them[/]", soft_wrap=True)
    if report.item_errors:
        out.print(f"[yellow]{len(report.item_errors)} item(s) could not be read; see item_errors in "
                  "the report[/]")
    out.print(f"run {report.run_id}: reports in {terminal_safe(Path(args.out))}/ "
              f"({', '.join(p.name for p in written.values())}); stored in {store.display_url}",
              markup=False, highlight=False)
    out.print(verdict_line(report), markup=False, highlight=False)
    return report.exit_code()


def _probes(paths: Sequence[str], samples: Any, reference_path: str | None) -> list[Any]:
    """The evaluations of the ``--probe`` files, each checked to belong to this audit."""
    if not paths:
        return []
    from aigc_audit.governance.probe import check_attachable, load_probe
    from aigc_audit.sampleset import REFERENCE, load_sample_set

    reference = load_sample_set(reference_path, role=REFERENCE) if reference_path else None
    results = [load_probe(path) for path in paths]
    for path, result in zip(paths, results):
        check_attachable(result, samples, reference, origin=str(path))
    return [r.evaluation for r in results]


def _cmd_report(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance import reports
    from aigc_audit.governance.store import RunStore

    report = RunStore(args.store, must_exist=True).report(args.run)
    written = reports.write_reports(report, args.out, args.formats or None)
    out.print(f"run {report.run_id}: {', '.join(str(p) for p in written.values())}", markup=False,
              highlight=False)
    return EXIT_OK


def _cmd_runs(args: argparse.Namespace, out: Console, err: Console) -> int:
    from rich.table import Table

    from aigc_audit.governance.console import cell, print_json
    from aigc_audit.governance.store import RunStore

    store = RunStore(args.store, must_exist=True)
    listed = store.list_runs(verdict=args.verdict, samples=args.samples)[:args.limit]
    if args.json:
        print_json(listed)
        return EXIT_OK
    table = Table(title=f"runs in {cell(store.display_url)}")
    for column in ("run", "created", "verdict", "policy", "samples", "items"):
        table.add_column(column)
    for run in listed:
        table.add_row(cell(run["run_id"]), cell(run["created_at"][:19]), run["verdict"],
                      cell(run["policy_name"]), cell(run["samples_path"]), str(run["n_items"]))
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
    audit.add_argument("--index", help="stored index of the reference set ('aigc-audit index build': a "
                       "folder or redis://HOST:PORT/DB?prefix=NAME); "
                       "the reference set defaults to the one it was built from")
    audit.add_argument("--engine", choices=("local", "dask"), default="local", help="where "
                       "text_near_duplicate joins the texts with the training set: in this process, or on a "
                       "Dask cluster against a band index ('index build --engine dask', passed with --index) "
                       "(default: %(default)s)")
    from aigc_audit.governance.cli_index import add_dask_options
    add_dask_options(audit)
    audit.add_argument("--policy", default="default", help="policy file or shipped policy name "
                       "(default: %(default)s)")
    audit.add_argument("--out", required=True, help="folder for report.json, report.md, junit.xml, "
                       "report.sarif, report.html")
    audit.add_argument("--store", help="run store: SQLAlchemy URL or SQLite path (default: "
                       "$AIGC_AUDIT_STORE or .aigc-audit/runs.sqlite)")
    audit.add_argument("--strict", action="store_true", help="exit 1 on warnings too (every report "
                       "records it and says so)")
    audit.add_argument("--baseline", help="an earlier run to compare with: its report.json, or its run "
                       "id in the store; marks findings new, persisting or resolved and decides the "
                       "policy's baseline gates")
    audit.add_argument("--show", type=int, default=10, help="findings to print (default: %(default)s)")
    audit.add_argument("--reviewers", help="password file whose keys sign the ledger's decisions "
                       "(default: $AIGC_AUDIT_REVIEWERS or .aigc-audit/reviewers)")
    audit.add_argument("--waivers", action="append", metavar="FILE", help="waivers file in the "
                       "repository (repeatable); the policy's own 'waivers:' apply too")
    audit.add_argument("--probe", action="append", metavar="FILE", help="result of 'aigc-audit probe' "
                       "for the model behind the samples (repeatable); the policy's rules on it gate it")
    audit.add_argument("--ignore-waivers", action="store_true", help="apply no waiver: neither the "
                       "repository's (policy, --waivers) nor reviewers' from the store's ledger")
    audit.set_defaults(handler=_cmd_audit)

    from aigc_audit.governance import cli_policy
    cli_policy.add_commands(commands)

    report = commands.add_parser("report", help="write a stored run's reports again")
    report.add_argument("run", help="run id (see 'aigc-audit runs')")
    report.add_argument("--store", help="run store URL or SQLite path")
    report.add_argument("--out", required=True, help="folder for the reports")
    report.add_argument("--formats", nargs="*", help="formats to write (default: all)")
    report.set_defaults(handler=_cmd_report)

    runs = commands.add_parser("runs", help="list the runs in the store")
    runs.add_argument("--store", help="run store URL or SQLite path")
    runs.add_argument("--verdict", choices=("pass", "warn", "fail"))
    runs.add_argument("--samples", help="only runs whose sample path contains this")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--json", action="store_true", help="print the runs as JSON")
    runs.set_defaults(handler=_cmd_runs)

    from aigc_audit.governance import cli_generators
    cli_generators.add_commands(commands)
    from aigc_audit.governance import cli_harm
    cli_harm.add_commands(commands)
    from aigc_audit.governance import cli_probe
    cli_probe.add_commands(commands)
    from aigc_audit.governance import cli_review
    cli_review.add_commands(commands)
    from aigc_audit.governance import cli_attest
    cli_attest.add_commands(commands)
    from aigc_audit.governance import cli_index
    cli_index.add_commands(commands)
    from aigc_audit.governance import cli_serve
    cli_serve.add_commands(commands)

    demo = commands.add_parser("demo", help="audit example releases end to end")
    demo.add_argument("--out", default="demo-out", help="demo folder (default: %(default)s)")
    demo.set_defaults(handler=_cmd_demo)
    _add_verbosity(parser, top=True)
    return parser


def _add_verbosity(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """``-q``/``-v`` on the command and every subcommand, so they go before or after its name;
    a subcommand's copy has no default, so it never undoes what was given before it."""
    default = {} if top else {"default": argparse.SUPPRESS}
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=0,
                       help="print only the verdict line and errors", **default)
    group.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=2,
                       help="print more detail", **default)
    if top:
        parser.set_defaults(verbosity=1)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _add_verbosity(sub, top=False)


def main(argv: Sequence[str] | None = None) -> int:
    from aigc_audit.governance.console import make_console

    args = build_parser().parse_args(argv)
    out, err = make_console(quiet=args.verbosity < 1), make_console(stderr=True)
    try:
        return args.handler(args, out, err)
    except AuditError as error:
        from aigc_audit.governance.console import terminal_safe

        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"aigc-audit: error: {terminal_safe(message)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("aigc-audit: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the last line of defence: a bug must never read as a failed audit
        return _internal_error(error)


def _internal_error(error: Exception) -> int:
    """A bug, not a verdict: exit 3 with one line saying where the traceback went."""
    from aigc_audit.governance.console import terminal_safe

    try:
        with tempfile.NamedTemporaryFile("w", prefix="aigc-audit-crash-", suffix=".txt",
                                         delete=False, encoding="utf-8") as handle:
            traceback.print_exception(error, file=handle)
        where = f"traceback in {handle.name}"
    except OSError:
        where = "the traceback could not be written"
    print(f"aigc-audit: internal error: {terminal_safe(type(error).__name__)}: "
          f"{terminal_safe(str(error).splitlines()[0] if str(error) else '')}; {where}; "
          "please report it", file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
