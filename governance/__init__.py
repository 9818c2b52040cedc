"""Governance: policies, the rule engine and verdict, the audit runner, reports, store and CLI."""

from aigc_audit.governance.policy import Policy, Rule, load_policy
from aigc_audit.governance.policy_diff import PolicyChange, diff_policies
from aigc_audit.governance.report import Finding, Report, RuleOutcome, exit_code, verdict
from aigc_audit.governance.runner import AuditResult, run_audit
from aigc_audit.governance.waiver_file import Waiver, load_waivers

__all__ = ["AuditResult", "Finding", "Policy", "PolicyChange", "Report", "Rule", "RuleOutcome", "Waiver",
           "diff_policies", "exit_code", "load_policy", "load_waivers", "run_audit", "verdict"]
