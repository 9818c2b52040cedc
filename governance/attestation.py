"""The release record: a signed statement that a release passed its audit, and on what.

``aigc-audit attest`` turns a passing ``report.json`` into ``release.json``: the sha256 of the
report file, of the samples and the reference set (the content hashes the audit computed over the
manifest and every file it names), of the policy (as ``load_policy`` hashes it: the file, or every
file of an ``extends`` chain), and of the model checkpoint when one is named; the verdict, each
rule's status, and the reviewers' waivers the audit applied. The record is signed with an Ed25519
key over its canonical JSON (the ledger's :func:`~aigc_audit.governance.ledger.canonical`), so
changing any field, or any file it names, is detected by :func:`verify_record`.

A record is refused for a failing audit (and, under ``strict``, a warning one); a file given at
signing time that does not hash to what the report audited is refused too, so a record never
vouches for something the audit did not see.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

import aigc_audit
from aigc_audit.errors import AuditError, InputError
from aigc_audit.governance.ledger import canonical
from aigc_audit.governance.report import Report
from aigc_audit.governance.reviewers import verify_signature
from aigc_audit.governance.status import FAIL, WARN
from aigc_audit.sampleset import REFERENCE, SAMPLES, load_sample_set, sha256_file

RELEASE_SCHEMA = "aigc-audit/release/v1"
# Signed before the canonical JSON, so a signature over a record is never valid for anything else.
SIGNING_CONTEXT = b"aigc-audit release record v1\n"
PUBLIC_SUFFIX = ".pub"
# What a record can name, in the order a check reports them.
SUBJECTS = ("report", "policy", "samples", "reference", "model")


class NotReleasable(AuditError):
    """The audit did not pass: no record is written (the CLI exits 1, like a failed policy)."""


# -- keys ------------------------------------------------------------------------------------------
def generate_key(path: str | Path) -> tuple[Path, Path]:
    """A fresh Ed25519 key: the private key (PEM, mode 0600) at ``path`` and the public key at
    ``path.pub``; refuses to overwrite either."""
    path = Path(path)
    public_path = path.with_name(path.name + PUBLIC_SUFFIX)
    for existing in (path, public_path):
        if existing.exists():
            raise AuditError(f"{existing} exists; choose another path or remove it first (a signing "
                             "key is never overwritten)")
    private = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    public_path.write_bytes(public)
    return path, public_path


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} not found; create one with 'aigc-audit attest keygen --out KEY'",
                         path=path) from None
    except OSError as error:
        raise InputError(f"{what} cannot be read: {error.strerror or error}", path=path) from None


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    path = Path(path)
    try:
        key = load_pem_private_key(_read_key_file(path, "signing key"), password=None)
    except (ValueError, TypeError) as error:
        raise InputError(f"is not an unencrypted PEM private key ({error}); pass the file "
                         "'aigc-audit attest keygen' wrote", path=path) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"holds a {type(key).__name__}, not an Ed25519 key; pass the file "
                         "'aigc-audit attest keygen' wrote", path=path)
    return key


def load_public_key(path: str | Path) -> bytes:
    """The raw 32 bytes of the Ed25519 public key in the PEM file ``path``."""
    path = Path(path)
    try:
        key = load_pem_public_key(_read_key_file(path, "public key"))
    except (ValueError, TypeError) as error:
        raise InputError(f"is not a PEM public key ({error}); pass the .pub file 'aigc-audit attest "
                         "keygen' wrote", path=path) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"holds a {type(key).__name__}, not an Ed25519 key", path=path)
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public: bytes) -> str:
    """A short name for a public key: the first 16 hex digits of its sha256."""
    return hashlib.sha256(public).hexdigest()[:16]


# -- hashing what a record names --------------------------------------------------------------------
def subject_sha256(kind: str, path: str | Path) -> str:
    """The sha256 of ``path`` as a record of ``kind`` hashes it: a sample or reference set by its
    content hash (manifest and files), a policy as ``load_policy`` does, other files by their bytes."""
    if kind in (SAMPLES, REFERENCE):
        return load_sample_set(path, role=kind).sha256
    if kind == "policy":
        from aigc_audit.governance.policy import load_policy

        return load_policy(path).sha256
    try:
        return sha256_file(path)
    except FileNotFoundError:
        raise InputError(f"{kind} file not found", path=path) from None
    except OSError as error:
        raise InputError(f"{kind} file cannot be read: {error.strerror or error}", path=path) from None


def read_report(path: str | Path) -> tuple[Report, str]:
    """The report at ``path`` and the sha256 of its bytes."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("report not found; pass the report.json an audit wrote", path=path) from None
    except OSError as error:
        raise InputError(f"report cannot be read: {error.strerror or error}", path=path) from None
    try:
        report = Report.from_dict(json.loads(data))
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f"is not an aigc-audit report.json ({type(error).__name__}: {error})",
                         path=path) from None
    return report, hashlib.sha256(data).hexdigest()


# -- the record ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verification:
    """The outcome of :func:`verify_record`: ``problem`` names the first thing that does not match."""

    ok: bool
    problem: str = ""
    checked: tuple[str, ...] = ()


def _subject(path: str | Path, sha256: str) -> dict[str, str]:
    return {"path": str(path), "sha256": sha256}


def build_record(report_path: str | Path, key: Ed25519PrivateKey, *, samples: str | Path | None = None,
                 reference: str | Path | None = None, policy: str | Path | None = None,
                 model: str | Path | None = None, strict: bool = False) -> dict[str, Any]:
    """The signed release record of the passing audit in ``report_path``. Raises
    :class:`NotReleasable` for a failing audit, ``AuditError`` for a given file that is not the
    one the report audited."""
    report, report_sha = read_report(report_path)
    if report.verdict == FAIL or (strict and report.verdict == WARN):
        failed = [r.rule_id for r in report.rules if r.failed]
        raise NotReleasable(f"run {report.run_id} did not pass (verdict {report.verdict}; failed rules "
                            f"{failed}); only a passing audit gets a release record")
    subjects = {"report": _subject(report_path, report_sha)}
    audited = {"policy": (policy, report.policy.path, report.policy.sha256),
               SAMPLES: (samples, report.samples.path, report.samples.sha256)}
    if report.reference is not None:
        audited[REFERENCE] = (reference, report.reference.path, report.reference.sha256)
    elif reference is not None:
        raise AuditError(f"run {report.run_id} had no reference set, but --reference {reference} was "
                         "given; leave it out or attest a run that read it")
    for kind, (given, audited_path, audited_sha) in audited.items():
        if given is not None:
            actual = subject_sha256(kind, given)
            if actual != audited_sha:
                raise AuditError(f"the {kind} at {given} (sha256 {actual[:12]}) is not what run "
                                 f"{report.run_id} audited (sha256 {audited_sha[:12]} at {audited_path}); "
                                 "audit it again or pass the audited one")
        subjects[kind] = _subject(given if given is not None else audited_path, audited_sha)
    if model is not None:
        subjects["model"] = _subject(model, subject_sha256("model", model))
    waived = [{"rule_id": f.rule_id, "item_id": f.item_id,
               "item_sha256": report.item_sha256.get(f.item_id, ""), "decision": f.message}
              for f in report.waived]
    record: dict[str, Any] = {
        "schema": RELEASE_SCHEMA,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tool": {"name": "aigc-audit", "version": aigc_audit.__version__},
        "run_id": report.run_id,
        "audited_at": report.created_at,
        "verdict": report.verdict,
        "strict": strict,
        "subjects": subjects,
        "rules": [{"rule_id": r.rule_id, "level": r.level, "status": r.status,
                   "value": r.value, "limit": r.limit_text} for r in report.rules],
        "waived": waived,
    }
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    signature = key.sign(SIGNING_CONTEXT + canonical(record))
    record["signature"] = {"algorithm": "Ed25519", "key_id": key_id(public),
                           "public_key": base64.b64encode(public).decode("ascii"),
                           "value": base64.b64encode(signature).decode("ascii")}
    return record


def write_record(record: Mapping[str, Any], path: str | Path) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as error:
        raise AuditError(f"cannot write {path}: {error.strerror or error}") from None
    return path


def read_record(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("release record not found", path=path) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"release record cannot be read: {error}", path=path) from None
    except json.JSONDecodeError as error:
        raise InputError(f"is not JSON: {error.msg}", path=path, line=error.lineno) from None
    if not isinstance(record, dict) or record.get("schema") != RELEASE_SCHEMA:
        got = record.get("schema") if isinstance(record, dict) else type(record).__name__
        raise InputError(f"is not a release record (schema {got!r}, expected {RELEASE_SCHEMA!r}); pass "
                         "the file 'aigc-audit attest' wrote", path=path)
    return record


def verify_record(record: Mapping[str, Any], public: bytes,
                  files: Mapping[str, str | Path | None] | None = None) -> Verification:
    """Check the signature of ``record`` with the raw public key ``public``, then that each given
    file (``{"report": path, "samples": path, ...}``) still hashes as the record says."""
    signature = record.get("signature")
    body = {k: v for k, v in record.items() if k != "signature"}
    try:
        value = base64.b64decode(str(signature["value"]).encode("ascii"), validate=True)
    except (TypeError, KeyError, ValueError):
        return Verification(False, "the record carries no readable signature")
    if not verify_signature(public, value, SIGNING_CONTEXT + canonical(body)):
        return Verification(False, f"the signature does not verify with public key {key_id(public)} (the "
                                   f"record was changed after signing, or signed by key "
                                   f"{signature.get('key_id', '?')})")
    subjects = body.get("subjects") or {}
    checked = ["signature"]
    for kind in SUBJECTS:
        given = (files or {}).get(kind)
        if given is None:
            continue
        if kind not in subjects:
            return Verification(False, f"the record names no {kind}, but {given} was given to check")
        try:
            actual = subject_sha256(kind, given)
        except AuditError as error:
            return Verification(False, f"{kind} changed: {given} cannot be read as it was ({error})")
        recorded = subjects[kind]["sha256"]
        if actual != recorded:
            return Verification(False, f"{kind} changed: {given} has sha256 {actual[:12]}, the record "
                                       f"says {recorded[:12]}")
        checked.append(kind)
    return Verification(True, checked=tuple(checked))


__all__ = ["NotReleasable", "RELEASE_SCHEMA", "Verification", "build_record", "generate_key", "key_id",
           "load_private_key", "load_public_key", "read_record", "read_report", "subject_sha256",
           "verify_record", "write_record"]
