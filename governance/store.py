"""The run store: every audit's run, rule results, findings and item errors, in SQL.

SQLite by default (a file, in WAL mode with a busy timeout so that concurrent writers wait rather
than fail), or another database through its SQLAlchemy URL and driver. The dashboard reads runs
from here and nothing else.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from aigc_audit.errors import AuditError
from aigc_audit.governance.report import Finding, Report

DEFAULT_STORE = ".aigc-audit/runs.sqlite"
STORE_ENV = "AIGC_AUDIT_STORE"

metadata = MetaData()
runs = Table(
    "runs", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("created_at", String(40), nullable=False, index=True),
    Column("verdict", String(8), nullable=False, index=True),
    Column("policy_name", String(200), nullable=False),
    Column("policy_sha256", String(64), nullable=False),
    Column("samples_path", Text, nullable=False),
    Column("samples_sha256", String(64), nullable=False, index=True),
    Column("reference_path", Text),
    Column("reference_sha256", String(64)),
    Column("n_items", Integer, nullable=False),
    Column("tool_version", String(40), nullable=False),
    Column("report_json", Text, nullable=False),
)
rule_results = Table(
    "rule_results", metadata,
    Column("run_id", String(64), ForeignKey("runs.run_id"), primary_key=True),
    Column("rule_id", String(200), primary_key=True),
    Column("evaluator", String(100), nullable=False),
    Column("metric", String(100), nullable=False),
    Column("value", Float),
    Column("comparator", String(3), nullable=False),
    Column("limit", Float, nullable=False),
    Column("level", String(8), nullable=False),
    Column("status", String(8), nullable=False),
    Column("n_flagged", Integer, nullable=False),
)
findings = Table(
    "findings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), ForeignKey("runs.run_id"), nullable=False, index=True),
    Column("rule_id", String(200), nullable=False),
    Column("item_id", String(200), nullable=False, index=True),
    Column("level", String(8), nullable=False),
    Column("status", String(8), nullable=False),
    Column("score", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("evidence_json", Text, nullable=False),
)
item_errors = Table(
    "item_errors", metadata,
    Column("run_id", String(64), ForeignKey("runs.run_id"), primary_key=True),
    Column("item_id", String(200), primary_key=True),
    Column("reason", Text, nullable=False),
)


def default_url() -> str:
    return os.environ.get(STORE_ENV) or f"sqlite:///{DEFAULT_STORE}"


def store_url(store: str | None = None) -> str:
    """``store`` (a SQLAlchemy URL or a SQLite file's path; the default store when None) as a URL
    that means the same from any working directory."""
    url = store or default_url()
    if "://" not in url:
        return f"sqlite:///{Path(url).resolve()}"
    path = url.removeprefix("sqlite:///")
    # A plain file path becomes absolute; ":memory:" and SQLite URI forms ("file:...?mode=ro")
    # are passed on as written.
    if url.startswith("sqlite:///") and path != ":memory:" and not path.startswith("file:"):
        return f"sqlite:///{Path(path).resolve()}"
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_read_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


# user:password@ in a URL SQLAlchemy cannot parse; up to the last "@", so that a password holding
# an "@" is masked whole.
_USER_PASSWORD = re.compile(r"^([^:/?#]*://[^:/@]*:).*@", re.S)


def display_url(url: str) -> str:
    """``url`` with any password masked: the form every message and log line shows, even for a
    URL that does not parse (a port that is not a number, say)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _USER_PASSWORD.sub(r"\1***@", url)


class RunStore:
    """Write and read audit runs. ``url`` is a SQLAlchemy URL or a plain path to a SQLite file.

    ``must_exist`` opens only a store that is already there (a SQLite file that exists), for
    commands that read: a mistyped path is then an error, not a new empty store.

    ``read_only`` opens it for viewing: no table, folder or file is created (a SQLite file is
    opened with ``mode=ro``), and a store or table that is not there reads as empty.
    """

    def __init__(self, url: str | None = None, *, must_exist: bool = False, read_only: bool = False):
        url = store_url(url)
        self.url = url
        self.display_url = display_url(url)
        plain = url.removeprefix("sqlite:///")
        sqlite_path = (Path(plain) if url.startswith("sqlite:///") and plain != ":memory:"
                       and not plain.startswith("file:") else None)
        self.read_only = read_only
        self._absent = read_only and sqlite_path is not None and not sqlite_path.exists()
        if sqlite_path is not None:
            if must_exist and not sqlite_path.is_file():
                raise AuditError(f"no run store at {sqlite_path}: check the path (give --store, or set "
                                 f"${STORE_ENV})")
            if sqlite_path.exists() and not sqlite_path.is_file():
                raise AuditError(f"cannot open run store {sqlite_path}: it is not a file")
            try:
                if not read_only:
                    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise AuditError(f"cannot create the run store's folder {sqlite_path.parent}: "
                                 f"{error.strerror or error}") from None
        connect_args: dict[str, Any] = {"timeout": 30} if url.startswith("sqlite") else {}
        if read_only and sqlite_path is not None:
            # A URI connection in mode=ro: SQLite itself refuses any write to the file.
            connect_args["uri"] = True
            url = f"sqlite:///file:{quote(str(sqlite_path))}?mode=ro&uri=true"
        try:
            self.engine: Engine = create_engine(url, connect_args=connect_args)
        except (ArgumentError, ImportError) as error:
            raise AuditError(f"cannot open run store {self.display_url!r}: {error}") from None
        except ValueError as error:  # a URL SQLAlchemy half-parsed: a port that is not a number, say
            raise AuditError(f"cannot open run store {self.display_url!r}: it is not a valid URL ({error}); "
                             f"write it as dialect+driver://user:password@host:port/database") from None
        if self.engine.dialect.name == "sqlite":
            # Read-only: no journal_mode pragma either (it would rewrite a non-WAL file's header).
            event.listen(self.engine, "connect", _sqlite_read_pragmas if read_only else _sqlite_pragmas)
        if not read_only:
            self._create_tables()

    def has_table(self, name: str) -> bool:
        """Whether table ``name`` exists (always true for a store opened to write)."""
        if self._absent:
            return False
        if not self.read_only:
            return True
        try:
            return inspect(self.engine).has_table(name)
        except DBAPIError as error:
            raise AuditError(f"cannot read run store {self.display_url!r}: {error.orig}") from None

    def _create_tables(self) -> None:
        # Two processes creating a new store at once can both see a table missing and both create
        # it; the loser's "already exists" means that table (or index) is there now, so look again.
        # Each such loss is a different object, so one more try than there are objects suffices.
        attempts = sum(1 + len(table.indexes) for table in metadata.tables.values()) + 1
        for attempt in range(attempts):
            try:
                metadata.create_all(self.engine)
                return
            except OperationalError as error:
                if "already exists" in str(error.orig) and attempt < attempts - 1:
                    continue
                raise AuditError(f"cannot open run store {self.display_url!r}: {error.orig}") from None
            except DBAPIError as error:  # not a database, a driver refusing to connect, ...
                raise AuditError(f"cannot open run store {self.display_url!r}: {error.orig}") from None

    def check_writable(self) -> None:
        """Raise ``AuditError`` unless a run can be written now: called before an audit's long work,
        so a read-only store fails at once rather than after the audit."""
        # A row written and rolled back: the one probe every database answers the same way.
        probe = {column.name: "" for column in runs.columns} | {"n_items": 0}
        try:
            with self.engine.connect() as conn:
                transaction = conn.begin()
                try:
                    conn.execute(insert(runs).values(**probe))
                finally:
                    transaction.rollback()
        except DBAPIError as error:
            raise AuditError(f"cannot write to run store {self.display_url!r}: {error.orig}") from None

    def record(self, report: Report) -> None:
        """Store one audit report in one transaction."""
        if self.read_only:
            raise AuditError(f"run store {self.display_url!r} was opened read-only; open it with "
                             "RunStore(url) to record a run")
        reference = report.reference
        with self.engine.begin() as conn:
            conn.execute(insert(runs).values(
                run_id=report.run_id, created_at=report.created_at, verdict=report.verdict,
                policy_name=report.policy.name, policy_sha256=report.policy.sha256,
                samples_path=report.samples.path, samples_sha256=report.samples.sha256,
                reference_path=reference and reference.path, reference_sha256=reference and reference.sha256,
                n_items=report.samples.n_items, tool_version=report.tool_version,
                report_json=json.dumps(report.to_dict())))
            conn.execute(insert(rule_results), [
                {"run_id": report.run_id, "rule_id": r.rule_id, "evaluator": r.evaluator,
                 "metric": r.metric, "value": r.value, "comparator": r.comparator,
                 "limit": r.limit, "level": r.level, "status": r.status,
                 "n_flagged": r.n_flagged} for r in report.rules])
            if report.findings or report.waived:
                conn.execute(insert(findings), [
                    {"run_id": report.run_id, "rule_id": f.rule_id, "item_id": f.item_id,
                     "level": f.level, "status": f.status, "score": f.score,
                     "message": f.message, "evidence_json": json.dumps(dict(f.evidence))}
                    for f in report.findings + report.waived])
            if report.item_errors:
                conn.execute(insert(item_errors), [
                    {"run_id": report.run_id, "item_id": e.item_id, "reason": e.reason}
                    for e in report.item_errors])

    def list_runs(self, *, verdict: str | None = None, samples: str | None = None,
                  with_rules: bool = False) -> list[dict[str, Any]]:
        """Stored runs, newest first; ``with_rules`` adds each run's ``rules``: rule id ->
        ``{"status", "n_flagged"}``."""
        if not self.has_table("runs"):
            return []
        query = select(runs.c.run_id, runs.c.created_at, runs.c.verdict, runs.c.policy_name,
                       runs.c.policy_sha256, runs.c.samples_path, runs.c.samples_sha256,
                       runs.c.reference_path, runs.c.n_items).order_by(runs.c.created_at.desc(),
                                                                        runs.c.run_id.desc())
        if verdict:
            query = query.where(runs.c.verdict == verdict)
        if samples:
            query = query.where(runs.c.samples_path.contains(samples))
        with self.engine.connect() as conn:
            listed = [dict(row._mapping) for row in conn.execute(query)]
            if not with_rules:
                return listed
            per_run: dict[str, dict[str, dict[str, Any]]] = {}
            for row in conn.execute(select(rule_results.c.run_id, rule_results.c.rule_id,
                                           rule_results.c.status, rule_results.c.n_flagged)):
                per_run.setdefault(row.run_id, {})[row.rule_id] = {"status": row.status,
                                                                   "n_flagged": row.n_flagged}
        return [{**run, "rules": per_run.get(run["run_id"], {})} for run in listed]

    def report(self, run_id: str) -> Report:
        row = None
        if self.has_table("runs"):
            with self.engine.connect() as conn:
                row = conn.execute(select(runs.c.report_json).where(runs.c.run_id == run_id)).first()
        if row is None:
            raise AuditError(f"no run {run_id!r} in store {self.display_url}; list runs with "
                             "'aigc-audit runs'")
        return Report.from_dict(json.loads(row.report_json))

    def findings(self, run_id: str, *, rule_id: str | None = None,
                 status: str | None = None) -> list[Finding]:
        """The run's findings, waived ones included, worst first."""
        if not self.has_table("findings"):
            return []
        query = select(findings).where(findings.c.run_id == run_id).order_by(
            findings.c.score.desc(), findings.c.rule_id, findings.c.item_id)
        if rule_id:
            query = query.where(findings.c.rule_id == rule_id)
        if status:
            query = query.where(findings.c.status == status)
        with self.engine.connect() as conn:
            return [Finding(r.rule_id, r.item_id, r.level, r.status, r.message, r.score,
                            json.loads(r.evidence_json)) for r in conn.execute(query)]
