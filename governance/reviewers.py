"""Reviewer logins: a password file of salted scrypt hashes, one reviewer a line.

::

    # aigc-audit reviewers: NAME:scrypt$N$r$p$SALT$HASH (salt and hash in base64)
    alice:scrypt$16384$8$1$9xK...$Qm4...

The file is written by ``aigc-audit reviewer add NAME`` (mode 0600) and read by the dashboard's
login. Only a reviewer who logged in can record a decision, so every ledger entry names a person
who proved they hold that name's password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aigc_audit.errors import AuditError

DEFAULT_REVIEWERS = ".aigc-audit/reviewers"
REVIEWERS_ENV = "AIGC_AUDIT_REVIEWERS"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 8
SCHEME = "scrypt"
# scrypt cost: 2**14 x 8 x 1 uses 16 MiB and about 50 ms a login on one core (OWASP's minimum
# recommendation for interactive logins).
COST_N, COST_R, COST_P = 2 ** 14, 8, 1
_HEADER = "# aigc-audit reviewers: NAME:scrypt$N$r$p$SALT$HASH (salt and hash in base64)\n"


@dataclass(frozen=True)
class Reviewer:
    """A reviewer who logged in. Only :func:`authenticate` makes one."""

    name: str
    via: str  # the password file that vouched for the name


def default_path() -> Path:
    return Path(os.environ.get(REVIEWERS_ENV) or DEFAULT_REVIEWERS)


def hash_password(password: str, *, salt: bytes | None = None, n: int = COST_N, r: int = COST_R,
                  p: int = COST_P) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 << 20,
                            dklen=32)
    return "$".join([SCHEME, str(n), str(r), str(p), base64.b64encode(salt).decode(),
                     base64.b64encode(digest).decode()])


def check_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded`` (a :func:`hash_password` string); constant time."""
    try:
        scheme, n, r, p, salt, expected = encoded.split("$")
        if scheme != SCHEME:
            return False
        digest = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n),
                                r=int(r), p=int(p), maxmem=64 << 20, dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, base64.b64decode(expected))


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
        if not sep or not NAME.match(name) or not encoded.startswith(f"{SCHEME}$"):
            raise AuditError(f"{path}:{number}: malformed reviewer entry; expected "
                             f"NAME:{SCHEME}$N$r$p$SALT$HASH as written by 'aigc-audit reviewer add'")
        entries[name] = encoded
    return entries


def _write(path: Path, entries: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written to a temporary file and renamed, so a reader never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(_HEADER + "".join(f"{n}:{e}\n" for n, e in sorted(entries.items())))
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def add_reviewer(path: str | Path, name: str, password: str, *, replace: bool = False) -> None:
    """Add ``name`` with a salted scrypt hash of ``password`` (or change it, with ``replace``)."""
    path = Path(path)
    if not NAME.match(name):
        raise AuditError(f"reviewer name must be 1-64 letters, digits, '.', '_', '@' or '-', "
                         f"starting with a letter or digit; got {name!r}")
    if len(password) < MIN_PASSWORD:
        raise AuditError(f"password must have at least {MIN_PASSWORD} characters; got "
                         f"{len(password)}")
    entries = read_reviewers(path)
    if name in entries and not replace:
        raise AuditError(f"reviewer {name!r} already exists in {path}; pass --replace to change "
                         "their password")
    entries[name] = hash_password(password)
    _write(path, entries)


def remove_reviewer(path: str | Path, name: str) -> None:
    path = Path(path)
    entries = read_reviewers(path)
    if name not in entries:
        raise AuditError(f"no reviewer {name!r} in {path}; reviewers are {sorted(entries)}")
    del entries[name]
    _write(path, entries)


def authenticate(path: str | Path, name: str, password: str) -> Reviewer | None:
    """The logged-in reviewer, or None when the name is unknown or the password wrong."""
    encoded = read_reviewers(path).get(name.strip())
    if encoded is None:
        # Hash anyway so that an unknown name takes as long as a wrong password.
        check_password(password, hash_password("", salt=b"\0" * 16))
        return None
    return Reviewer(name.strip(), str(path)) if check_password(password, encoded) else None
