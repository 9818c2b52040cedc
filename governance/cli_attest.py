"""``aigc-audit attest``, ``attest keygen`` and ``attest verify``: the signed release record.

``attest`` exits 0 when it wrote the record, 1 when the audit did not pass (no record), 2 when it
could not be made (a missing report or key, a given file that is not the one audited).
``attest verify`` exits 0 when the signature and every given file check out, 1 with one line
naming what changed, 2 when the check could not be made (no such record or key file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from aigc_audit.errors import AuditError

EXIT_OK, EXIT_FAILED = 0, 1


def _safe(text: object) -> str:
    from aigc_audit.governance.console import terminal_safe

    return terminal_safe(text)


def _cmd_attest(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance import attestation

    missing = [flag for flag, value in (("--report", args.report), ("--key", args.key), ("--out", args.out))
               if value is None]
    if missing:
        raise AuditError(f"attest needs {', '.join(missing)}: aigc-audit attest --report OUT/report.json "
                         "--key KEY --out release.json (or 'attest keygen' / 'attest verify')")
    key = attestation.load_private_key(args.key)
    try:
        record = attestation.build_record(args.report, key, samples=args.samples, reference=args.reference,
                                          policy=args.policy, model=args.model, strict=args.strict)
    except attestation.NotReleasable as error:
        print(f"aigc-audit: attest: {_safe(error)}", file=sys.stderr)
        return EXIT_FAILED
    path = attestation.write_record(record, args.out)
    named = ", ".join(f"{kind} {value['sha256'][:12]}" for kind, value in record["subjects"].items())
    out.print(f"release record of run {_safe(record['run_id'])} ({record['verdict']}) in {_safe(path)}, "
              f"signed by key {record['signature']['key_id']}: {named}", markup=False, highlight=False)
    return EXIT_OK


def _cmd_keygen(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance import attestation

    private, public = attestation.generate_key(args.out)
    out.print(f"signing key in {_safe(private)} (keep it secret: a CI secret); public key in "
              f"{_safe(public)} (publish it: 'attest verify --public-key' reads it)",
              markup=False, highlight=False)
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance import attestation

    record = attestation.read_record(args.record)
    public = attestation.load_public_key(args.public_key)
    files = {"report": args.report, "policy": args.policy, "samples": args.samples,
             "reference": args.reference, "model": args.model}
    result = attestation.verify_record(record, public, files)
    if not result.ok:
        print(f"aigc-audit: attest verify: {_safe(args.record)}: {_safe(result.problem)}", file=sys.stderr)
        return EXIT_FAILED
    out.print(f"{_safe(args.record)}: valid: run {_safe(record.get('run_id'))} "
              f"({_safe(record.get('verdict'))}); checked {', '.join(result.checked)}",
              markup=False, highlight=False)
    return EXIT_OK


def _subjects(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument("--samples", help=f"sample set to {verb} (default: the report's)")
    parser.add_argument("--reference", help=f"reference set to {verb} (default: the report's)")
    parser.add_argument("--policy", help=f"policy file or shipped name to {verb} (default: the report's)")
    parser.add_argument("--model", help=f"model checkpoint file to {verb}")


def add_commands(commands: argparse._SubParsersAction) -> None:
    attest = commands.add_parser(
        "attest", help="sign a release record of a passing audit (keygen, verify)",
        description="Write a signed record of a passing audit: the sha256 of the report, samples, "
                    "reference set, policy and model, the verdict and the waivers applied.")
    attest.add_argument("--report", help="report.json of the audit")
    attest.add_argument("--key", help="Ed25519 private key (PEM) from 'attest keygen'")
    attest.add_argument("--out", help="where to write the record, e.g. release.json")
    attest.add_argument("--strict", action="store_true", help="refuse a run that only warned, too")
    _subjects(attest, "record (checked against the report)")
    attest.set_defaults(handler=_cmd_attest)
    sub = attest.add_subparsers(dest="attest_command", metavar="ACTION")

    keygen = sub.add_parser("keygen", help="create an Ed25519 signing key and its .pub file")
    keygen.add_argument("--out", required=True, type=Path, help="private key file; the public key goes "
                        "beside it with .pub added")
    keygen.set_defaults(handler=_cmd_keygen)

    verify = sub.add_parser("verify", help="check a release record's signature and the files it names")
    verify.add_argument("record", help="the release record (release.json)")
    verify.add_argument("--public-key", required=True, help="the .pub file of the signing key")
    verify.add_argument("--report", help="report.json to check against the record")
    _subjects(verify, "check against the record")
    verify.set_defaults(handler=_cmd_verify)
