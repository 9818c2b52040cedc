"""Example sets shipped as package data (``harm-examples/``: see its README)."""
