"""Reviewer logins: salted scrypt hashes in a password file, sealed signing keys beside it, names
that fit on one line, and a limit on failed logins."""

from __future__ import annotations

import base64
import stat

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from aigc_audit.errors import AuditError
from aigc_audit.governance.reviewers import (
    LOGIN_LIMIT_ENV,
    LoginLimiter,
    add_reviewer,
    authenticate,
    check_password,
    current_key,
    hash_password,
    keys_path,
    public_keys,
    read_keys,
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


NAME_RULE = (r"reviewer name must be 1-64 letters, digits, '\.', '_', '@' or '-', starting with a letter "
             r"or digit; got ")


@pytest.mark.parametrize("name, password, message", [
    ("al ice", "correct horse", NAME_RULE + r"'al ice'"),
    ("", "correct horse", NAME_RULE + "''"),
    ("eve\n", "correct horse", NAME_RULE + r"'eve\\n'"),  # "$" matched before a final newline
    ("eve\r", "correct horse", NAME_RULE + r"'eve\\r'"),
    ("eve:x", "correct horse", NAME_RULE + "'eve:x'"),
    ("-eve", "correct horse", NAME_RULE + "'-eve'"),
    ("e" * 65, "correct horse", NAME_RULE),
    ("ève", "correct horse", NAME_RULE),
    ("alice", "short", r"password must have at least 8 characters; got 5"),
])
def test_bad_names_and_passwords_are_refused(tmp_path, name, password, message):
    path = tmp_path / "reviewers"
    add_reviewer(path, "bob", "battery staple")
    before = path.read_text(), keys_path(path).read_text()
    with pytest.raises(AuditError, match=message):
        add_reviewer(path, name, password)
    assert (path.read_text(), keys_path(path).read_text()) == before
    assert authenticate(path, "bob", "battery staple") is not None


@pytest.mark.parametrize("name", ["a", "A.b_c-d@example.org", "x" * 64, "0day"])
def test_good_names_are_taken(tmp_path, name):
    add_reviewer(tmp_path / "reviewers", name, "correct horse")
    assert authenticate(tmp_path / "reviewers", name, "correct horse").name == name


def test_malformed_file_names_the_line(tmp_path):
    path = tmp_path / "reviewers"
    path.write_text("# comment\n\nalice:plaintext-password\n")
    with pytest.raises(AuditError, match=r"reviewers:3: malformed reviewer entry"):
        read_reviewers(path)


def test_the_line_of_a_name_with_a_newline_is_refused(tmp_path):
    path = tmp_path / "reviewers"
    path.write_text("eve\n:" + hash_password("correct horse", **FAST) + "\n")
    with pytest.raises(AuditError, match=r"reviewers:1: malformed reviewer entry"):
        read_reviewers(path)


def test_add_writes_a_sealed_signing_key_beside_the_password_file(tmp_path):
    path = tmp_path / "reviewers"
    add_reviewer(path, "alice", "correct horse")
    keys = keys_path(path)
    assert keys == tmp_path / "reviewers.keys" and stat.S_IMODE(keys.stat().st_mode) == 0o600
    alice = authenticate(path, "alice", "correct horse")
    assert alice.can_sign and "signing_key" not in repr(alice)
    (key,) = read_keys(path)
    assert key.name == "alice" and key.current and key.public == alice.public_key()
    assert public_keys(path) == {"alice": [alice.public_key()]}
    # The private key is nowhere in clear, and the sealed part is bound to the password and the name.
    raw = alice.signing_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    assert base64.b64encode(raw).decode() not in keys.read_text() and raw.hex() not in keys.read_text()
    add_reviewer(path, "bob", "battery staple")
    lines = keys.read_text().splitlines()
    alice_line = next(line for line in lines if line.startswith("alice:"))
    bob_line = next(line for line in lines if line.startswith("bob:"))
    # Alice's sealed key under bob's name (and bob's public key) does not open, with either password.
    swapped = bob_line.rsplit(":", 1)[0] + ":" + alice_line.rsplit(":", 1)[1]
    keys.write_text(keys.read_text().replace(bob_line, swapped))
    assert not authenticate(path, "bob", "battery staple").can_sign


def test_replace_and_remove_retire_keys_but_keep_them(tmp_path):
    path = tmp_path / "reviewers"
    add_reviewer(path, "alice", "correct horse")
    first = current_key(path, "alice")
    add_reviewer(path, "alice", "new password", replace=True)
    second = current_key(path, "alice")
    assert second.public != first.public
    assert [(k.public, k.current) for k in read_keys(path)] == [(first.public, False), (second.public, True)]
    remove_reviewer(path, "alice")
    assert current_key(path, "alice") is None
    assert public_keys(path) == {"alice": [first.public, second.public]}
    add_reviewer(path, "alice", "third password")  # back again, with a third key
    assert len(public_keys(path)["alice"]) == 3 and authenticate(path, "alice", "third password").can_sign


def test_a_reviewer_from_before_keys_logs_in_without_one(tmp_path):
    path = tmp_path / "reviewers"
    path.write_text("alice:" + hash_password("correct horse", **FAST) + "\n")
    alice = authenticate(path, "alice", "correct horse")
    assert alice.name == "alice" and not alice.can_sign
    with pytest.raises(AuditError, match="reviewer 'alice' has no signing key unlocked; log in first"):
        alice.sign(b"x")


@pytest.mark.parametrize("line", [
    "alice:rsa:AAAA", "alice:ed25519:not-base64!", "alice:ed25519:" + "A" * 40,
    "al ice:ed25519:" + base64.b64encode(b"k" * 32).decode(),
    "alice:ed25519:" + base64.b64encode(b"k" * 32).decode() + ":plain",
])
def test_a_malformed_keys_file_names_the_line(tmp_path, line):
    keys_path(tmp_path / "reviewers").write_text(f"# header\n{line}\n")
    with pytest.raises(AuditError, match=r"reviewers\.keys:2: malformed reviewer key; expected "
                       r"NAME:ed25519:PUBLIC"):
        read_keys(tmp_path / "reviewers")


def test_two_current_keys_for_one_name_are_refused(tmp_path):
    path = tmp_path / "reviewers"
    add_reviewer(path, "alice", "correct horse")
    keys = keys_path(path)
    current = keys.read_text().splitlines()[1]
    keys.write_text(keys.read_text() + current + "\n")
    with pytest.raises(AuditError, match=r"reviewers\.keys:3: a second current key for reviewer 'alice'"):
        read_keys(path)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_logins_lock_after_repeated_failures_then_cool_off(tmp_path):
    path = tmp_path / "reviewers"
    add_reviewer(path, "alice", "correct horse")
    clock = Clock()
    limiter = LoginLimiter(max_failures=3, window_s=60, lockout_s=300, clock=clock)
    attempt = (str(path.resolve()), "alice")
    for _ in range(2):
        assert authenticate(path, "alice", "guess", limiter=limiter) is None
    assert limiter.retry_after(attempt) == 0
    assert authenticate(path, " alice ", "guess", limiter=limiter) is None  # the third, same name
    assert limiter.retry_after(attempt) == 300
    # Locked: even the right password is refused, without being checked.
    assert authenticate(path, "alice", "correct horse", limiter=limiter) is None
    clock.now += 299
    assert authenticate(path, "alice", "correct horse", limiter=limiter) is None
    clock.now += 1
    assert authenticate(path, "alice", "correct horse", limiter=limiter).name == "alice"


def test_failures_outside_the_window_or_before_a_success_do_not_count(tmp_path):
    path = tmp_path / "reviewers"
    add_reviewer(path, "alice", "correct horse")
    clock = Clock()
    limiter = LoginLimiter(max_failures=2, window_s=60, lockout_s=300, clock=clock)
    assert authenticate(path, "alice", "guess", limiter=limiter) is None
    clock.now += 61
    assert authenticate(path, "alice", "guess", limiter=limiter) is None  # the first one expired
    assert authenticate(path, "alice", "correct horse", limiter=limiter) is not None
    assert authenticate(path, "alice", "guess", limiter=limiter) is None  # counted afresh
    assert authenticate(path, "alice", "correct horse", limiter=limiter) is not None
    # Unknown names count too, each on its own, and one name's lockout leaves the others alone.
    for _ in range(2):
        assert authenticate(path, "mallory", "guess", limiter=limiter) is None
    assert limiter.retry_after((str(path.resolve()), "mallory")) == 300
    assert authenticate(path, "alice", "correct horse", limiter=limiter) is not None


def test_the_default_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(LOGIN_LIMIT_ENV, "2/30/600")
    limiter = LoginLimiter.from_env()
    assert (limiter.max_failures, limiter.window_s, limiter.lockout_s) == (2, 30.0, 600.0)
    monkeypatch.delenv(LOGIN_LIMIT_ENV)
    limiter = LoginLimiter.from_env()
    assert (limiter.max_failures, limiter.window_s, limiter.lockout_s) == (5, 300.0, 900.0)
    monkeypatch.setenv(LOGIN_LIMIT_ENV, "five")
    with pytest.raises(AuditError, match=r"\$AIGC_AUDIT_LOGIN_LIMIT must be FAILURES/WINDOW_S/LOCKOUT_S, "
                       r"e\.g\. 5/300/900; got 'five'"):
        LoginLimiter.from_env()
    with pytest.raises(AuditError, match=r"login limit window_s must be positive; got 0"):
        LoginLimiter(window_s=0)
