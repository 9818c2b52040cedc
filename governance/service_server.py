"""Running the audit service (``aigc-audit serve``): what it loads once, its workers, its shutdown.

- :func:`load_service` reads the policy, the API keys, the reference set and its stored index
  (``aigc-audit index build``) and builds the :class:`~aigc_audit.governance.item_check.ItemChecker`.
  A stored index is memory-mapped, and checked against the reference set once, at start-up.
- :func:`serve` runs it on uvicorn, in this process or, with ``workers > 1``, in worker processes
  that uvicorn's supervisor spawns on one shared listening socket.

Workers hold no state of their own that a request depends on: each builds the same application
from the same :class:`ServeSettings` (passed in the environment, since spawned processes share no
memory). The stored index's arrays are memory-mapped read-only, so every worker reads the one copy
in the page cache instead of holding its own; the reference set's texts (needed to show matched
passages) and the classifiers are loaded per worker. A worker refuses to start if the policy file
changed since the service started, so all workers apply one policy.

Metrics with workers: each worker writes its counters and histograms to files in a private folder
(prometheus_client's multiprocess mode), and ``/metrics``, whichever worker answers, reports their
sums over all workers. The per-key rate limit is shared the same way: the token buckets live in a
SQLite file beside that folder (``governance.rate_limit``), so a key gets ``--rate-limit``
whichever worker answers, however many there are.

Threads: each worker judges one request at a time, and gives torch (MiniLM, under the built-in
harm heads) its share of the cores (``--threads``; by default the cores divided among the workers),
so that workers do not oversubscribe the machine.

Shutdown on SIGTERM or SIGINT: the listening socket is closed first (new connections are refused),
requests already received are answered (for up to ``graceful_seconds``), then the command exits 0.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from aigc_audit.errors import AuditError
from aigc_audit.governance.rate_limit import RateLimiter
from aigc_audit.governance.service import METRICS_ENV, set_torch_threads
from aigc_audit.threads import available_cores

if TYPE_CHECKING:
    from fastapi import FastAPI

    from aigc_audit.evaluators.copying.reference_index import ReferenceIndex
    from aigc_audit.governance.api_keys import KeyFile
    from aigc_audit.governance.item_check import ItemChecker
    from aigc_audit.governance.policy import Policy
    from aigc_audit.governance.service import ServiceConfig

SETTINGS_ENV = "AIGC_AUDIT_SERVE_SETTINGS"
WORKER_STARTUP_FAILURE = 3  # uvicorn's supervisor stops, instead of restarting, a worker exiting so


@dataclass(frozen=True)
class ServeSettings:
    """What a worker needs to build the service: paths and limits, as ``serve`` was given them."""

    policy: str
    keys: str
    reference: str | None = None
    index: str | None = None
    mask: bool = False
    rate_per_minute: float = 600.0
    burst: int = 60
    max_items: int = 64
    max_request_bytes: int = 1 << 20
    rate_limit_db: str | None = None  # set by serve with workers: the buckets they share
    policy_sha256: str = ""  # set once loaded: every worker must find the same policy
    threads: int = 0  # torch's threads per worker; 0: the machine's cores shared among the workers

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ServeSettings:
        return cls(**json.loads(text))


def _load_basics(settings: ServeSettings) -> tuple[Policy, KeyFile, ReferenceIndex | None, str | None]:
    """The policy, the keys, the index (memory-mapped: cheap) and the reference set's path."""
    from aigc_audit.governance.api_keys import KeyFile
    from aigc_audit.governance.cli_index import audit_index
    from aigc_audit.governance.policy import load_policy

    policy = load_policy(settings.policy)
    if settings.policy_sha256 and policy.sha256 != settings.policy_sha256:
        raise AuditError(f"the policy {settings.policy} changed since the service started (sha256 "
                         f"{settings.policy_sha256[:12]}, now {policy.sha256[:12]}); restart the service so "
                         "that every worker applies the same policy")
    keys = KeyFile(settings.keys)
    if not any(not k.revoked_at for k in keys.keys.values()):
        raise AuditError(f"the key file {settings.keys} holds no live key, so every request would be "
                         "refused; add one with 'aigc-audit serve keys add'")
    index, reference_path = audit_index(settings.index, settings.reference)
    if index is not None and not reference_path:
        raise AuditError(f"the index {settings.index} does not name the reference set it was built from; "
                         "pass it with --reference")
    return policy, keys, index, reference_path


def load_service(settings: ServeSettings) -> tuple[ServiceConfig, ItemChecker]:
    """The service's configuration and checker; refuses a key file without a live key, an index
    whose reference set is unknown or differs from the indexed one, and a changed policy."""
    from aigc_audit.governance.item_check import ItemChecker
    from aigc_audit.governance.service import ServiceConfig
    from aigc_audit.sampleset import REFERENCE, TEXT, load_sample_set

    policy, keys, index, reference_path = _load_basics(settings)
    reference = load_sample_set(reference_path, role=REFERENCE) if reference_path else None
    if index is not None and reference is not None:
        # Once here, so that a wrong reference set stops the start, not every request.
        index.check_reference_set(reference, reference.of_modality(TEXT))
    config = ServiceConfig(policy=policy, keys=keys, reference=reference,
                           max_request_bytes=settings.max_request_bytes, max_items=settings.max_items,
                           rate_per_minute=settings.rate_per_minute, burst=settings.burst, mask=settings.mask,
                           rate_limit_db=settings.rate_limit_db, threads=settings.threads)
    return config, ItemChecker(policy, reference, index)


def _log_to_stderr() -> None:
    """The service's request log: one JSON line per request on stderr (see ``governance.service``)."""
    service_log = logging.getLogger("aigc_audit.service")
    if not service_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        service_log.addHandler(handler)
    service_log.setLevel(logging.INFO)


def worker_threads(workers: int, cores: int | None = None) -> int:
    """torch threads per worker: the cores this process may use, shared among the workers. Each
    worker judges one request at a time, so more threads than cores only compete: on 2 cores that
    other jobs also used, a text's check took 1.8 s at p50 with two torch threads and 0.33 s with
    one, in one process."""
    if cores is None:
        cores = available_cores()
    return max(1, cores // max(1, workers))


def build_app(settings: ServeSettings) -> FastAPI:
    """The application, with every classifier loaded (so the first request is as fast as the rest)."""
    from aigc_audit.governance.service import create_app

    config, checker = load_service(settings)
    checker.warm_up()
    set_torch_threads(settings.threads)
    _log_to_stderr()
    app = create_app(config, checker)
    # What is loaded now (the training set's items, the models: some 585,000 objects with the
    # default policy and 100,000 texts) lives as long as the service; a full garbage collection
    # walked it all, 0.4 s on the busy machine, stalling whichever request it fell in.
    gc.freeze()
    return app


def worker_app() -> FastAPI:
    """uvicorn's application factory in a worker process: the settings come from the environment."""
    try:
        return build_app(ServeSettings.from_json(os.environ[SETTINGS_ENV]))
    except AuditError as error:
        print(f"aigc-audit: error: worker {os.getpid()} could not start: {str(error).splitlines()[0]}",
              file=sys.stderr, flush=True)
        sys.exit(WORKER_STARTUP_FAILURE)


@contextlib.contextmanager
def _exit_quietly_after_signal() -> Iterator[None]:
    """uvicorn re-raises the signal that stopped it, once stopped, to the handler it found; make that
    handler one that returns, so a graceful stop exits 0 rather than dying by the signal."""
    handled = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve(settings: ServeSettings, *, host: str, port: int, workers: int = 1, graceful_seconds: float = 30.0,
          announce: Callable[[str], None] = print) -> int:
    """Serve until SIGTERM or SIGINT; 0 after a graceful stop."""
    import uvicorn
    from uvicorn.supervisors.multiprocess import Multiprocess

    # uvicorn's access log would print request lines; the service logs its own, content-free.
    common = {"host": host, "port": port, "log_level": "warning", "access_log": False,
              "timeout_graceful_shutdown": graceful_seconds}
    if not settings.threads:
        settings = ServeSettings(**{**asdict(settings), "threads": worker_threads(workers)})
    if workers == 1:
        app = build_app(settings)
        policy = app.state.config.policy
        announce(f"serving policy {policy.name} (sha256 {policy.sha256[:12]}) on http://{host}:{port}  "
                 "docs: /docs")
        with _exit_quietly_after_signal():
            uvicorn.Server(uvicorn.Config(app, **common)).run()
        return 0

    # Check the policy, the keys and the index here, so that bad input there stops the start with
    # one message instead of one per worker; the reference set is left to the workers, which
    # stop the service the same way if it cannot be read or is not the indexed one.
    policy = _load_basics(settings)[0]

    class Supervisor(Multiprocess):
        def terminate_all(self) -> None:
            # The workers close their copies of the listening socket as they stop; close this one
            # first, or new connections would queue on it unanswered until the last worker stopped.
            for sock in self.sockets:
                sock.close()
            super().terminate_all()

    with tempfile.TemporaryDirectory(prefix="aigc-audit-serve-") as private:
        # The buckets stay out of the metrics folder: prometheus_client reads every *.db file there.
        metrics_dir = os.path.join(private, "metrics")
        rate_limit_db = os.path.join(private, "rate-limit.sqlite")
        os.mkdir(metrics_dir)
        # Made here, before the workers start, so that they never race to create it.
        shared_buckets = RateLimiter(settings.rate_per_minute, settings.burst, rate_limit_db)
        shared_buckets.open()
        shared_buckets.close()
        settings = ServeSettings(**{**asdict(settings), "policy_sha256": policy.sha256,
                                    "rate_limit_db": rate_limit_db})
        os.environ[SETTINGS_ENV] = settings.to_json()
        os.environ[METRICS_ENV] = metrics_dir
        uv_config = uvicorn.Config(f"{__name__}:worker_app", factory=True, workers=workers, **common)
        supervisor = Supervisor(uv_config, sockets=[uv_config.bind_socket()])
        announce(f"serving policy {policy.name} (sha256 {policy.sha256[:12]}) on http://{host}:{port} "
                 f"with {workers} workers  docs: /docs")
        try:
            supervisor.run()
        finally:
            for name in (SETTINGS_ENV, METRICS_ENV):
                os.environ.pop(name, None)
    if any(p.exitcode == WORKER_STARTUP_FAILURE for p in supervisor.processes):
        raise AuditError("a worker could not start (its reason is printed above); fix it and start again")
    return 0
