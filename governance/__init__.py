"""Governance: policies, the rule engine and verdict, the audit runner, reports, store and CLI."""

from aigc_audit.governance.policy import Policy, Rule, load_policy
from aigc_audit.governance.report import Finding, Report, RuleOutcome, exit_code, verdict
from aigc_audit.governance.runner import AuditResult, run_audit

__all__ = ["AuditResult", "Finding", "Policy", "Report", "Rule", "RuleOutcome", "exit_code",
           "load_policy", "run_audit", "verdict"]
