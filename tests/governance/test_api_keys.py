"""API keys: stored salted and hashed, scoped, revocable, and managed from the CLI."""

from __future__ import annotations

import json

import pytest

from aigc_audit.errors import AuditError, InputError
from aigc_audit.governance.api_keys import KeyFile, parse_scopes
from tests.conftest import run_cli


def test_only_a_salted_hash_is_stored(tmp_path) -> None:
    keys = KeyFile(tmp_path / "keys.json")
    key, text = keys.add("ci", ("check",))
    other, _ = keys.add("ops", ("check",))
    stored = (tmp_path / "keys.json").read_text()
    # The secret is URL-safe base64 and may hold "_" itself: it is all that follows the id.
    assert text.startswith(f"aak_{key.id}_")
    secret = text[len(f"aak_{key.id}_"):]
    assert len(secret) >= 40 and secret not in stored
    assert key.salt != other.salt and (tmp_path / "keys.json").stat().st_mode & 0o077 == 0
    again = KeyFile(tmp_path / "keys.json")
    assert again.verify(text) == key
    assert again.verify(text[:-1] + ("A" if text[-1] != "A" else "B")) is None
    assert again.verify(f"aak_{other.id}_{secret}") is None  # a secret only opens its own key
    assert again.verify("") is None


def test_scopes_and_revocation(tmp_path) -> None:
    keys = KeyFile(tmp_path / "keys.json")
    checker, check_text = keys.add("ci", ("check",))
    admin, admin_text = keys.add("ops", ("admin",))
    assert checker.allows("check") and not checker.allows("admin")
    assert admin.allows("check") and admin.allows("admin")
    keys.revoke(checker.id)
    assert KeyFile(tmp_path / "keys.json").verify(check_text) is None
    assert KeyFile(tmp_path / "keys.json").verify(admin_text) == admin
    with pytest.raises(AuditError, match=r"no key with id 'nope' in .*keys.json; 'aigc-audit serve keys"):
        keys.revoke("nope")
    with pytest.raises(AuditError, match=r"scopes must be a comma-separated list of \['check', 'admin'\]; "
                                         r"got 'root'"):
        parse_scopes("root")


def test_a_malformed_key_file_is_refused(tmp_path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [{"id": "x", "salt": "", "sha256": "", "secret": "oops"}]}))
    with pytest.raises(InputError, match=r"keys.json: key entry 1 must hold the fields"):
        KeyFile(path)
    path.write_text("{not json")
    with pytest.raises(InputError, match=r"keys.json: cannot read the key file"):
        KeyFile(path)


def test_keys_cli(tmp_path) -> None:
    path = tmp_path / "keys.json"
    added = run_cli("serve", "keys", "add", "--keys", str(path), "--name", "ci", "--scopes", "check,admin")
    assert added.returncode == 0, added.stderr
    text = added.stdout.strip()
    key = KeyFile(path).verify(text)
    assert key is not None and key.scopes == ("check", "admin")
    listed = run_cli("serve", "keys", "list", "--keys", str(path))
    assert key.id in listed.stdout and "live" in listed.stdout and text not in listed.stdout
    assert run_cli("serve", "keys", "revoke", "--keys", str(path), key.id).returncode == 0
    assert "revoked" in run_cli("serve", "keys", "list", "--keys", str(path)).stdout
    bad = run_cli("serve", "keys", "add", "--keys", str(path), "--name", "x", "--scopes", "root")
    assert bad.returncode == 2 and "scopes must be" in bad.stderr
    no_keys = run_cli("serve", "--policy", "default")
    assert no_keys.returncode == 2 and "serve needs --keys FILE" in no_keys.stderr
