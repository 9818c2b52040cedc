"""Shipped policies, read as package data: ``aigc_audit.governance.policy.shipped_policies``."""
