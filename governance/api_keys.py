"""API keys of the audit service: stored salted and hashed, each with its scopes.

A key reads ``aak_<id>_<secret>``. The file keeps, per key, its id, a name, its scopes, a random
salt and ``sha256(salt + secret)``; the secret itself is shown once, when the key is made, and is
not kept anywhere. Secrets are 32 random bytes, so a fast salted hash is enough: there is nothing
to guess from a dictionary. A revoked key stays in the file, marked, so its id is never reused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from aigc_audit.errors import AuditError, InputError

CHECK, ADMIN = "check", "admin"
SCOPES = (CHECK, ADMIN)
PREFIX = "aak"
_KEY = re.compile(rf"^{PREFIX}_(?P<id>[0-9a-f]{{8}})_(?P<secret>[A-Za-z0-9_-]{{20,100}})$")
_FIELDS = {"id", "name", "scopes", "salt", "sha256", "created_at", "revoked_at"}


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: tuple[str, ...]
    salt: str
    sha256: str
    created_at: str
    revoked_at: str = ""

    def allows(self, scope: str) -> bool:
        """``admin`` includes ``check``."""
        return not self.revoked_at and (scope in self.scopes or ADMIN in self.scopes)


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode("ascii")).hexdigest()


def parse_scopes(text: str) -> tuple[str, ...]:
    scopes = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes or unknown:
        raise AuditError(f"scopes must be a comma-separated list of {list(SCOPES)}; got {text!r}")
    return scopes


class KeyFile:
    """The keys in one JSON file; every change is written at once (atomically, mode 0600)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.keys: dict[str, ApiKey] = {}
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InputError(f"cannot read the key file: {error}; it is written by 'aigc-audit serve keys "
                             "add'", path=self.path) from None
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise InputError("a key file is a JSON object with a list 'keys'; got something else",
                             path=self.path)
        for n, entry in enumerate(data["keys"], 1):
            if (not isinstance(entry, dict) or set(entry) - _FIELDS
                    or not {"id", "salt", "sha256"} <= set(entry)):
                raise InputError(f"key entry {n} must hold the fields {sorted(_FIELDS)} and no others; got "
                                 f"{sorted(entry) if isinstance(entry, dict) else entry!r}", path=self.path)
            key = ApiKey(**{**entry, "scopes": tuple(entry.get("scopes", ()))})
            self.keys[key.id] = key

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        body = {"keys": [{**asdict(k), "scopes": list(k.scopes)} for k in self.keys.values()]}
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(body, handle, indent=2)
        os.replace(tmp, self.path)

    def add(self, name: str, scopes: tuple[str, ...]) -> tuple[ApiKey, str]:
        """Make a key; returns it and the full key text, which is shown once and not stored."""
        key_id = secrets.token_hex(4)
        while key_id in self.keys:
            key_id = secrets.token_hex(4)
        secret, salt = secrets.token_urlsafe(32), secrets.token_hex(16)
        key = ApiKey(key_id, name, scopes, salt, _digest(salt, secret),
                     datetime.now(UTC).isoformat(timespec="seconds"))
        self.keys[key_id] = key
        self._write()
        return key, f"{PREFIX}_{key_id}_{secret}"

    def revoke(self, key_id: str) -> ApiKey:
        if key_id not in self.keys:
            raise AuditError(f"no key with id {key_id!r} in {self.path}; 'aigc-audit serve keys list' "
                             "shows the ids")
        key = replace(self.keys[key_id], revoked_at=datetime.now(UTC).isoformat(timespec="seconds"))
        self.keys[key_id] = key
        self._write()
        return key

    def verify(self, text: str) -> ApiKey | None:
        """The live key ``text`` is, or None (malformed, unknown, wrong secret or revoked)."""
        match = _KEY.match(text or "")
        key = self.keys.get(match["id"]) if match else None
        if key is None or key.revoked_at:
            return None
        return key if hmac.compare_digest(key.sha256, _digest(key.salt, match["secret"])) else None
