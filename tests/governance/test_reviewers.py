"""Reviewer logins: salted scrypt hashes in a password file."""

from __future__ import annotations

import stat

import pytest

from aigc_audit.errors import AuditError
from aigc_audit.governance.reviewers import (
    add_reviewer,
    authenticate,
    check_password,
    hash_password,
    read_reviewers,
    remove_reviewer,
)

# A cheap cost keeps the tests fast; the format records the cost, so checking still works.
FAST = {"n": 2 ** 4, "r": 8, "p": 1}


def test_hash_is_salted_and_checks():
    first, second = hash_password("correct horse", **FAST), hash_password("correct horse", **FAST)
    assert first != second and first.startswith("scrypt$16$8$1$")
    assert check_password("correct horse", first) and check_password("correct horse", second)
    assert not check_password("correct horsE", first)
    assert not check_password("correct horse", "md5$whatever") and not check_password("x", "garbage")


def test_add_then_login(tmp_path):
    path = tmp_path / "reviewers"
    add_reviewer(path, "alice", "correct horse")
    add_reviewer(path, "bob", "battery staple")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "correct horse" not in path.read_text()
    assert authenticate(path, "alice", "correct horse").name == "alice"
    assert authenticate(path, " bob ", "battery staple").name == "bob"
    assert authenticate(path, "alice", "battery staple") is None
    assert authenticate(path, "carol", "correct horse") is None
    assert authenticate(tmp_path / "missing", "alice", "correct horse") is None


def test_replace_and_remove(tmp_path):
    path = tmp_path / "reviewers"
    add_reviewer(path, "alice", "correct horse")
    with pytest.raises(AuditError, match=r"reviewer 'alice' already exists in .*; pass --replace"):
        add_reviewer(path, "alice", "new password")
    add_reviewer(path, "alice", "new password", replace=True)
    assert authenticate(path, "alice", "correct horse") is None
    assert authenticate(path, "alice", "new password") is not None
    remove_reviewer(path, "alice")
    assert read_reviewers(path) == {}
    with pytest.raises(AuditError, match=r"no reviewer 'alice' in .*; reviewers are \[\]"):
        remove_reviewer(path, "alice")


@pytest.mark.parametrize("name, password, message", [
    ("al ice", "correct horse", r"reviewer name must be 1-64 letters.*; got 'al ice'"),
    ("", "correct horse", r"reviewer name must be"),
    ("alice", "short", r"password must have at least 8 characters; got 5"),
])
def test_bad_names_and_passwords_are_refused(tmp_path, name, password, message):
    with pytest.raises(AuditError, match=message):
        add_reviewer(tmp_path / "reviewers", name, password)


def test_malformed_file_names_the_line(tmp_path):
    path = tmp_path / "reviewers"
    path.write_text("# comment\n\nalice:plaintext-password\n")
    with pytest.raises(AuditError, match=r"reviewers:3: malformed reviewer entry"):
        read_reviewers(path)
