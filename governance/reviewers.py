"""Reviewer logins and signing keys: a password file of salted scrypt hashes, and beside it each
reviewer's Ed25519 key pair.

::

    reviewers       # aigc-audit reviewers: NAME:scrypt$N$r$p$SALT$HASH (salt and hash in base64)
                    alice:scrypt$16384$8$1$9xK...$Qm4...
    reviewers.keys  # aigc-audit reviewer keys: NAME:ed25519:PUBLIC[:scrypt$N$r$p$SALT$NONCE$SEALED]
                    alice:ed25519:Xb2...=:scrypt$16384$8$1$u8w...$1Fq...$k9Z...
                    alice:ed25519:Pq0...=

Both files are written by ``aigc-audit reviewer add NAME`` (mode 0600) and read by the dashboard's
login, by ``aigc-audit ledger verify`` and by the audit.

**Signing keys.** ``reviewer add`` creates a fresh Ed25519 key pair for the reviewer. The public
key is stored in clear; the private key is sealed with AES-256-GCM under a key derived from the
reviewer's password with scrypt (its own salt, not the password hash's), bound to the name and the
public key. Only :func:`authenticate`, given the right name and password, unseals it: the
:class:`Reviewer` it returns is the only thing that can sign ledger entries in that name. The
unsealed key lives only in that object (in the dashboard, the login session's memory) and is never
written anywhere.
``reviewer add --replace`` (a new password) and ``reviewer remove`` *retire* the reviewer's key
pair: the private part is dropped, the public part stays (a line without the sealed part), so the
decisions signed with it keep verifying, and no one can sign with it again.

**Trust.** The keys file is what the ledger's signatures are checked against: whoever can write it
can add a key and sign in any name. Keep it where the run store's writers cannot write (and, for
CI, under version control or in a secret), and back it up: without it no decision in a ledger can
be verified.

**Names** are 1-64 letters, digits, ``.``, ``_``, ``@`` or ``-``, starting with a letter or digit
(checked with ``fullmatch``: no newline, no ``:``), so that one reviewer is always one line.

**Logins are rate-limited** (:class:`LoginLimiter`): after ``max_failures`` failed logins for one
name of one password file within ``window_s`` seconds, every attempt for that name is refused,
without looking at the password, for ``lockout_s`` seconds. The defaults (5 failures in 5 minutes,
then 15 minutes) can be changed with ``$AIGC_AUDIT_LOGIN_LIMIT`` (``FAILURES/WINDOW_S/LOCKOUT_S``)
or by passing a limiter. The count lives in the process (the dashboard's server), not on disk.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from aigc_audit.errors import AuditError

DEFAULT_REVIEWERS = ".aigc-audit/reviewers"
REVIEWERS_ENV = "AIGC_AUDIT_REVIEWERS"
LOGIN_LIMIT_ENV = "AIGC_AUDIT_LOGIN_LIMIT"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
NAME_RULE = "1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
MIN_PASSWORD = 8
SCHEME = "scrypt"
KEY_SCHEME = "ed25519"
KEYS_SUFFIX = ".keys"
# scrypt cost: 2**14 x 8 x 1 uses 16 MiB and about 50 ms a login on one core (OWASP's minimum
# recommendation for interactive logins).
COST_N, COST_R, COST_P = 2 ** 14, 8, 1
_HEADER = "# aigc-audit reviewers: NAME:scrypt$N$r$p$SALT$HASH (salt and hash in base64)\n"
_KEYS_HEADER = ("# aigc-audit reviewer keys: NAME:ed25519:PUBLIC[:scrypt$N$r$p$SALT$NONCE$SEALED] "
                "(base64); a line without SEALED is a retired key that still verifies old decisions\n")
_SEAL_CONTEXT = b"aigc-audit reviewer signing key v1\0"


def valid_name(name: str) -> bool:
    return isinstance(name, str) and NAME.fullmatch(name) is not None


def _check_name(name: str) -> None:
    if not valid_name(name):
        raise AuditError(f"reviewer name must be {NAME_RULE}; got {name!r}")


@dataclass(frozen=True)
class Reviewer:
    """A reviewer who logged in. Only :func:`authenticate` makes one that can sign: the ledger
    refuses any other (a ``Reviewer`` made by hand has no key, or a key the keys file does not list).
    """

    name: str
    via: str  # the password file that vouched for the name
    signing_key: Ed25519PrivateKey | None = field(default=None, repr=False, compare=False)

    @property
    def can_sign(self) -> bool:
        return self.signing_key is not None

    def public_key(self) -> bytes | None:
        return None if self.signing_key is None else _raw_public(self.signing_key.public_key())

    def sign(self, message: bytes) -> bytes:
        if self.signing_key is None:
            raise AuditError(f"reviewer {self.name!r} has no signing key unlocked; log in first")
        return self.signing_key.sign(message)


@dataclass(frozen=True)
class ReviewerKey:
    """One line of the keys file: a reviewer's public key and, for the current key only, its
    sealed private part (``None`` for a retired key)."""

    name: str
    public: bytes
    sealed: str | None

    @property
    def current(self) -> bool:
        return self.sealed is not None


def default_path() -> Path:
    return Path(os.environ.get(REVIEWERS_ENV) or DEFAULT_REVIEWERS)


def keys_path(path: str | Path) -> Path:
    """The keys file beside the password file ``path``."""
    path = Path(path)
    return path.with_name(path.name + KEYS_SUFFIX)


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 << 20, dklen=32)


def hash_password(password: str, *, salt: bytes | None = None, n: int = COST_N, r: int = COST_R,
                  p: int = COST_P) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = _scrypt(password, salt, n, r, p)
    return "$".join([SCHEME, str(n), str(r), str(p), _b64(salt), _b64(digest)])


def check_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded`` (a :func:`hash_password` string); constant time."""
    try:
        scheme, n, r, p, salt, expected = encoded.split("$")
        if scheme != SCHEME:
            return False
        digest = _scrypt(password, _b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(digest, _b64decode(expected))
    except (ValueError, TypeError):
        return False


def _seal(private: Ed25519PrivateKey, password: str, name: str, *, n: int = COST_N, r: int = COST_R,
          p: int = COST_P) -> str:
    """The private key encrypted under a key derived from ``password``, bound to ``name`` and the
    public key (a sealed key copied to another name or public key does not open)."""
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    bound = _SEAL_CONTEXT + name.encode("utf-8") + b"\0" + _raw_public(private.public_key())
    sealed = AESGCM(_scrypt(password, salt, n, r, p)).encrypt(nonce, raw, bound)
    return "$".join([SCHEME, str(n), str(r), str(p), _b64(salt), _b64(nonce), _b64(sealed)])


def _unseal(key: ReviewerKey, password: str) -> Ed25519PrivateKey | None:
    """The private key, or None when ``password`` does not open it."""
    try:
        scheme, n, r, p, salt, nonce, sealed = (key.sealed or "").split("$")
        if scheme != SCHEME:
            return None
        bound = _SEAL_CONTEXT + key.name.encode("utf-8") + b"\0" + key.public
        raw = AESGCM(_scrypt(password, _b64decode(salt), int(n), int(r), int(p))).decrypt(
            _b64decode(nonce), _b64decode(sealed), bound)
        private = Ed25519PrivateKey.from_private_bytes(raw)
    except (ValueError, TypeError, InvalidTag):
        return None
    return private if _raw_public(private.public_key()) == key.public else None


def verify_signature(public: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is an Ed25519 signature of ``message`` by the raw public key ``public``."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def read_reviewers(path: str | Path) -> dict[str, str]:
    """``{name: encoded hash}``; raises ``AuditError`` naming the line of a malformed entry."""
    path = Path(path)
    if not path.is_file():
        return {}
    entries: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, encoded = line.strip().partition(":")
        if not sep or not valid_name(name) or not encoded.startswith(f"{SCHEME}$"):
            raise AuditError(f"{path}:{number}: malformed reviewer entry; expected "
                             f"NAME:{SCHEME}$N$r$p$SALT$HASH as written by 'aigc-audit reviewer add'")
        entries[name] = encoded
    return entries


def read_keys(path: str | Path) -> list[ReviewerKey]:
    """Every key in the keys file beside the password file ``path`` (none when it is missing);
    raises ``AuditError`` naming the line of a malformed entry."""
    keys_file = keys_path(path)
    if not keys_file.is_file():
        return []
    keys: list[ReviewerKey] = []
    for number, line in enumerate(keys_file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.strip().split(":")
        try:
            if len(parts) not in (3, 4) or not valid_name(parts[0]) or parts[1] != KEY_SCHEME:
                raise ValueError
            public = _b64decode(parts[2])
            if len(public) != 32 or (len(parts) == 4 and not parts[3].startswith(f"{SCHEME}$")):
                raise ValueError
        except ValueError:  # binascii.Error included
            raise AuditError(f"{keys_file}:{number}: malformed reviewer key; expected "
                             f"NAME:{KEY_SCHEME}:PUBLIC[:{SCHEME}$N$r$p$SALT$NONCE$SEALED] as written by "
                             "'aigc-audit reviewer add'") from None
        if len(parts) == 4 and any(k.name == parts[0] and k.current for k in keys):
            raise AuditError(f"{keys_file}:{number}: a second current key for reviewer {parts[0]!r}; "
                             "a reviewer signs with one key (the others have no sealed part)")
        keys.append(ReviewerKey(parts[0], public, parts[3] if len(parts) == 4 else None))
    return keys


def public_keys(path: str | Path) -> dict[str, list[bytes]]:
    """``{name: [raw public key, ...]}``: every key, current or retired, that verifies a name's
    decisions (from the keys file beside the password file ``path``)."""
    found: dict[str, list[bytes]] = {}
    for key in read_keys(path):
        found.setdefault(key.name, []).append(key.public)
    return found


def current_key(path: str | Path, name: str) -> ReviewerKey | None:
    """The key ``name`` signs with now (the one with a sealed private part), or None."""
    return next((k for k in read_keys(path) if k.name == name and k.current), None)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written to a temporary file and renamed, so a reader never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write(path: Path, entries: dict[str, str]) -> None:
    _atomic_write(path, _HEADER + "".join(f"{n}:{e}\n" for n, e in sorted(entries.items())))


def _write_keys(path: Path, keys: list[ReviewerKey]) -> None:
    lines = [f"{k.name}:{KEY_SCHEME}:{_b64(k.public)}" + (f":{k.sealed}" if k.sealed else "") + "\n"
             for k in keys]
    _atomic_write(keys_path(path), _KEYS_HEADER + "".join(lines))


def _retire(keys: list[ReviewerKey], name: str) -> list[ReviewerKey]:
    return [ReviewerKey(k.name, k.public, None) if k.name == name else k for k in keys]


def add_reviewer(path: str | Path, name: str, password: str, *, replace: bool = False) -> None:
    """Add ``name`` with a salted scrypt hash of ``password`` and a new signing key sealed with it
    (or, with ``replace``, change the password: the old key is retired, a new one made)."""
    path = Path(path)
    _check_name(name)
    if len(password) < MIN_PASSWORD:
        raise AuditError(f"password must have at least {MIN_PASSWORD} characters; got "
                         f"{len(password)}")
    entries = read_reviewers(path)
    if name in entries and not replace:
        raise AuditError(f"reviewer {name!r} already exists in {path}; pass --replace to change "
                         "their password")
    private = Ed25519PrivateKey.generate()
    keys = _retire(read_keys(path), name)
    keys.append(ReviewerKey(name, _raw_public(private.public_key()), _seal(private, password, name)))
    # Keys first: the password file never names a reviewer whose new key is not written yet.
    _write_keys(path, keys)
    entries[name] = hash_password(password)
    _write(path, entries)


def remove_reviewer(path: str | Path, name: str) -> None:
    """Remove ``name``'s login and retire their key: their past decisions keep verifying."""
    path = Path(path)
    entries = read_reviewers(path)
    if name not in entries:
        raise AuditError(f"no reviewer {name!r} in {path}; reviewers are {sorted(entries)}")
    keys = read_keys(path)
    if any(k.name == name for k in keys):
        _write_keys(path, _retire(keys, name))
    del entries[name]
    _write(path, entries)


class LoginLimiter:
    """At most ``max_failures`` failed logins for one key (password file, name) within
    ``window_s`` seconds; then every attempt for that key is refused for ``lockout_s`` seconds.
    ``clock`` (seconds, monotonic) is injected so tests can move time."""

    def __init__(self, *, max_failures: int = 5, window_s: float = 300.0, lockout_s: float = 900.0,
                 clock: Callable[[], float] = time.monotonic):
        for label, value in (("max_failures", max_failures), ("window_s", window_s),
                             ("lockout_s", lockout_s)):
            if not value > 0:
                raise AuditError(f"login limit {label} must be positive; got {value!r}")
        self.max_failures, self.window_s, self.lockout_s = int(max_failures), window_s, lockout_s
        self.clock = clock
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._locked_until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> LoginLimiter:
        """The limiter ``$AIGC_AUDIT_LOGIN_LIMIT`` (``FAILURES/WINDOW_S/LOCKOUT_S``) asks for."""
        spec = os.environ.get(LOGIN_LIMIT_ENV, "").strip()
        if not spec:
            return cls()
        try:
            failures, window, lockout = spec.split("/")
            return cls(max_failures=int(failures), window_s=float(window), lockout_s=float(lockout))
        except ValueError:
            raise AuditError(f"${LOGIN_LIMIT_ENV} must be FAILURES/WINDOW_S/LOCKOUT_S, e.g. 5/300/900; "
                             f"got {spec!r}") from None

    def retry_after(self, key: tuple[str, str]) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        with self._lock:
            return max(0.0, self._locked_until.get(key, 0.0) - self.clock())

    def failed(self, key: tuple[str, str]) -> None:
        with self._lock:
            now = self.clock()
            self._prune(now)
            recent = [t for t in self._failures.get(key, []) if now - t < self.window_s] + [now]
            if len(recent) >= self.max_failures:
                self._locked_until[key] = now + self.lockout_s
                self._failures.pop(key, None)
            else:
                self._failures[key] = recent

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _prune(self, now: float) -> None:
        # Forget names whose failures and lockouts are over, so the tables do not grow without end.
        self._failures = {k: v for k, v in self._failures.items() if now - v[-1] < self.window_s}
        self._locked_until = {k: t for k, t in self._locked_until.items() if t > now}


_default_limiter: LoginLimiter | None = None
_default_limiter_lock = threading.Lock()


def default_limiter() -> LoginLimiter:
    """The process's login limiter, made on first use from ``$AIGC_AUDIT_LOGIN_LIMIT``."""
    global _default_limiter
    with _default_limiter_lock:
        if _default_limiter is None:
            _default_limiter = LoginLimiter.from_env()
        return _default_limiter


def authenticate(path: str | Path, name: str, password: str, *,
                 limiter: LoginLimiter | None = None) -> Reviewer | None:
    """The logged-in reviewer, with their signing key unsealed, or None when the name is unknown,
    the password wrong, or the name locked out after too many failed logins (see
    :class:`LoginLimiter`; ``limiter.retry_after`` says for how long).

    A reviewer added before signing keys existed logs in without a key (``can_sign`` is False)
    and cannot record decisions until ``aigc-audit reviewer add NAME --replace`` gives them one.
    """
    name = name.strip()
    limiter = limiter or default_limiter()
    attempt = (str(Path(path).resolve()), name)
    if limiter.retry_after(attempt) > 0:
        return None
    encoded = read_reviewers(path).get(name)
    if encoded is None:
        # Hash anyway so that an unknown name takes as long as a wrong password.
        check_password(password, hash_password("", salt=b"\0" * 16))
        limiter.failed(attempt)
        return None
    if not check_password(password, encoded):
        limiter.failed(attempt)
        return None
    limiter.succeeded(attempt)
    key = current_key(path, name)
    return Reviewer(name, str(path), None if key is None else _unseal(key, password))
