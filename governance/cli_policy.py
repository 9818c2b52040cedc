"""``aigc-audit policy validate`` and ``aigc-audit policy diff``.

``validate`` takes policies and waivers files (told apart by content: a waivers file has
``waivers`` and no ``rules``), prints every problem of each, and exits 2 when any has one: the
pre-commit hook ``aigc-audit-policy`` runs it on the files a commit changes.

``diff OLD NEW`` lists what got looser, stricter or changed between two policies (files or shipped
names) or two waivers files; ``--fail-on-loosening`` exits 1 when anything got looser, so a CI job
can ask for a second approval.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from aigc_audit.errors import AuditError, PolicyError

EXIT_OK, EXIT_LOOSER, EXIT_USAGE = 0, 1, 2


def _cmd_validate(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.governance.console import print_json, terminal_safe
    from aigc_audit.governance.policy import load_policy
    from aigc_audit.governance.waiver_file import is_waivers_file, load_waivers
    from aigc_audit.governance.waivers import utc_today

    status = EXIT_OK
    today = utc_today()
    results = []
    for path in args.policies:
        policy = None
        try:
            if is_waivers_file(path):
                waivers = load_waivers(path)
                summary = f"valid waivers file ({len(waivers)} waivers)"
            else:
                policy = load_policy(path)
                waivers = policy.waivers
                summary = (f"valid ({len(policy.rules)} rules"
                           + (f", {len(waivers)} waivers" if waivers else "")
                           + f", sha256 {policy.sha256[:12]})")
        except PolicyError as error:
            results.append({"policy": path, "valid": False, "problems": error.problems})
            if not args.json:
                for problem in error.problems:
                    err.print(terminal_safe(problem), markup=False, highlight=False, soft_wrap=True)
            status = EXIT_USAGE
            continue
        # Valid still: an expired waiver only stops applying. Said here so it is renewed or removed.
        expired = [f"{waiver.origin}: note: waiver for {waiver.rule_id} expired on {waiver.expires}; "
                   "it no longer applies" for waiver in waivers if not waiver.active_on(today)]
        result = {"policy": path, "valid": True, "problems": [], "notes": expired,
                  "waivers": [w.to_dict() for w in waivers]}
        if policy is not None:
            result |= {"name": policy.name, "path": str(policy.path), "sha256": policy.sha256,
                       "rules": [r.to_dict() for r in policy.rules]}
        results.append(result)
        if args.json:
            continue
        out.print(f"{terminal_safe(path)}: {summary}", markup=False, highlight=False)
        for note in expired:
            out.print(terminal_safe(note), markup=False, highlight=False, soft_wrap=True)
        if policy is not None and args.verbosity >= 2:
            for rule in policy.rules:
                out.print(f"  {terminal_safe(rule.id)}: {rule.evaluator}.{rule.metric} "
                          f"{rule.limit_text()} ({rule.level})", markup=False, highlight=False)
    if args.json:
        print_json(results)
    return status


def _load_side(reference: str):
    """(policy or None, waivers) of a policy or a waivers file."""
    from aigc_audit.governance.policy import load_policy
    from aigc_audit.governance.waiver_file import is_waivers_file, load_waivers

    if is_waivers_file(reference):
        return None, load_waivers(reference)
    policy = load_policy(reference)
    return policy, policy.waivers


def _cmd_diff(args: argparse.Namespace, out: Console, err: Console) -> int:
    from rich.table import Table

    from aigc_audit.governance.console import cell, print_json
    from aigc_audit.governance.policy_diff import (
        CHANGED,
        LOOSER,
        STRICTER,
        diff_policies,
        diff_waivers,
        loosened,
    )

    old_policy, old_waivers = _load_side(args.old)
    new_policy, new_waivers = _load_side(args.new)
    if (old_policy is None) != (new_policy is None):
        kinds = ["a waivers file" if p is None else "a policy" for p in (old_policy, new_policy)]
        raise AuditError(f"cannot compare {kinds[0]} ({args.old}) with {kinds[1]} ({args.new}); give "
                         "two policies or two waivers files")
    if old_policy is not None:
        changes = diff_policies(old_policy, new_policy)
    else:
        changes = sorted(diff_waivers(old_waivers, new_waivers))
    counts = {d: sum(c.direction == d for c in changes) for d in (LOOSER, STRICTER, CHANGED)}
    if args.json:
        print_json({"old": args.old, "new": args.new, **counts, "changes": [c.to_dict() for c in changes]})
    elif not changes:
        out.print(f"no differences between {cell(args.old)} and {cell(args.new)}")
    else:
        colours = {LOOSER: "red", STRICTER: "green", CHANGED: "yellow"}
        table = Table(title=f"{cell(args.old)} -> {cell(args.new)}")
        for column in ("direction", "rule", "what", "old", "new", "note"):
            table.add_column(column, overflow="fold")
        for c in changes:
            table.add_row(f"[{colours[c.direction]}]{c.direction}[/]", cell(c.subject), c.aspect,
                          cell(c.old or "-"), cell(c.new or "-"), cell(c.detail))
        out.print(table)
        out.print(", ".join(f"{n} {d}" for d, n in counts.items()))
    return EXIT_LOOSER if args.fail_on_loosening and loosened(changes) else EXIT_OK


def add_commands(commands: argparse._SubParsersAction) -> None:
    policy = commands.add_parser("policy", help="work with policies and waivers files")
    actions = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    validate = actions.add_parser("validate", help="check policies and waivers files; print every problem")
    validate.add_argument("policies", nargs="+", metavar="FILE",
                          help="policy files, shipped policy names or waivers files")
    validate.add_argument("--json", action="store_true", help="print the result as JSON")
    validate.set_defaults(handler=_cmd_validate)

    diff = actions.add_parser("diff", help="what got looser or stricter between two policies (or two "
                              "waivers files)")
    diff.add_argument("old", help="the policy before: a file or a shipped policy name")
    diff.add_argument("new", help="the policy after")
    diff.add_argument("--json", action="store_true", help="print the changes as JSON")
    diff.add_argument("--fail-on-loosening", action="store_true",
                      help="exit 1 when anything got looser")
    diff.set_defaults(handler=_cmd_diff)
