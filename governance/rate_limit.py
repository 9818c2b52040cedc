"""The service's per-key rate limit: a token bucket per key, shared by every worker of one service.

Each key has ``burst`` tokens, refilled at ``per_minute``; a request takes one. The buckets live in
one SQLite database, so that a key's limit holds whichever worker answers: ``aigc-audit serve
--workers N`` makes the file in the service's private temporary folder, and each worker opens it.
A request reads and writes its key's row in one ``BEGIN IMMEDIATE`` transaction (the write lock
is taken before the read), so two workers never both spend the same token. Without a file (one
process) the database is in memory: the same code, with no other process to share with.

The file is scratch (made at start, removed at stop), so it is written without fsync.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

IN_MEMORY = ":memory:"
BUSY_TIMEOUT_SECONDS = 10.0  # how long a request waits for another worker's transaction
_SCHEMA = ("CREATE TABLE IF NOT EXISTS buckets "
           "(key_id TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_at REAL NOT NULL)")


class RateLimiter:
    """A token bucket per key: ``burst`` requests at once, refilled at ``per_minute``.

    ``path`` is the shared database (``None``: in memory, this process only). ``clock`` must be
    one that all sharing processes read alike; ``time.monotonic`` is system-wide on Linux, macOS
    and Windows.
    """

    def __init__(self, per_minute: float, burst: int, path: str | Path | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = per_minute / 60.0, burst, clock
        self.path = str(path) if path is not None else IN_MEMORY
        self._lock = threading.Lock()  # one connection per process, used by one thread at a time
        self._connection: sqlite3.Connection | None = None
        self._pid = 0

    def open(self) -> None:
        """Open the database now (making it if need be) rather than at the first request."""
        with self._lock:
            self._connect()

    def _connect(self) -> sqlite3.Connection:
        # Opened lazily and again after a fork: a connection must not cross processes.
        if self._connection is None or self._pid != os.getpid():
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                                         check_same_thread=False)
            if self.path != IN_MEMORY:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=OFF")
            connection.execute(_SCHEMA)
            self._connection, self._pid = connection, os.getpid()
        return self._connection

    def take(self, key_id: str) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        with self._lock:
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
            try:
                # The clock is read under the write lock, so the stored times only move forward.
                now = self.clock()
                row = db.execute("SELECT tokens, updated_at FROM buckets WHERE key_id = ?",
                                 (key_id,)).fetchone()
                tokens, last = row if row is not None else (float(self.burst), now)
                tokens = min(float(self.burst), tokens + max(0.0, now - last) * self.rate)
                wait = 0.0
                if tokens >= 1.0:
                    tokens -= 1.0
                else:
                    wait = (1.0 - tokens) / self.rate if self.rate > 0 else 60.0
                db.execute("INSERT INTO buckets (key_id, tokens, updated_at) VALUES (?, ?, ?) "
                           "ON CONFLICT(key_id) DO UPDATE SET tokens = excluded.tokens, "
                           "updated_at = excluded.updated_at",
                           (key_id, tokens, now))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            return wait

    def close(self) -> None:
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None
