"""The audit service: the policy as an HTTP gate that a generator calls before it shows an output.

``create_app(config)`` builds a FastAPI application (served by uvicorn through ``aigc-audit
serve``):

- ``POST /v1/check``: one item (``text`` or ``image_base64``) or a batch (``items``); answers per
  item its findings with evidence and its verdict under the policy (``governance.item_check``).
- ``GET /v1/policy``: the policy in force and its sha256. ``GET /v1/keys``: the keys (admin).
- ``GET /metrics`` (Prometheus), ``/healthz``, ``/readyz``; OpenAPI at ``/docs`` and ``/openapi.json``.

Every ``/v1`` call needs an API key (``Authorization: Bearer KEY`` or ``X-API-Key: KEY``) with the
scope the route asks: 401 without a valid key, 403 with the wrong scope, 413 over the size limits,
429 over the key's rate limit (``governance.rate_limit``, shared by all workers). The log holds
one JSON line per request (worker process id, route, key id, status, item count, latency, rules
that flagged), never an item's content; with ``mask`` on, personal data in responses and in
logged error text is masked as well.
"""

import asyncio
import base64
import binascii
import contextlib
import functools
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aigc_audit.evaluators.privacy.detectors import mask
from aigc_audit.governance.api_keys import ADMIN, CHECK, ApiKey, KeyFile
from aigc_audit.governance.item_check import CheckResult, ItemChecker
from aigc_audit.governance.policy import Policy
from aigc_audit.governance.rate_limit import RateLimiter
from aigc_audit.sampleset import IMAGE, TEXT, Item, SampleSet

log = logging.getLogger("aigc_audit.service")
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's name for its multiprocess folder


@dataclass(frozen=True)
class ServiceConfig:
    policy: Policy
    keys: KeyFile
    reference: SampleSet | None = None
    max_request_bytes: int = 1 << 20
    max_items: int = 64
    max_text_chars: int = 50_000
    rate_per_minute: float = 600.0
    burst: int = 60
    mask: bool = False
    rate_limit_db: str | None = None  # shared by the workers of one service; None: in memory
    threads: int = 0  # torch's threads in the check thread (MiniLM, for the built-in heads); 0: as set


class CheckItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, max_length=200, description="your id for the item; default item-N")
    text: str | None = Field(None, description="a generated text")
    image_base64: str | None = Field(None, description="a generated image's file bytes, base64")

    @model_validator(mode="after")
    def _one_content(self) -> "CheckItem":
        if (self.text is None) == (self.image_base64 is None):
            raise ValueError("an item holds exactly one of 'text' and 'image_base64'")
        return self


class CheckRequest(BaseModel):
    """One item (``text`` or ``image_base64`` at the top level) or a batch (``items``)."""

    model_config = ConfigDict(extra="forbid")
    items: list[CheckItem] | None = None
    id: str | None = Field(None, max_length=200)
    text: str | None = None
    image_base64: str | None = None

    def all_items(self) -> list[CheckItem]:
        single = self.text is not None or self.image_base64 is not None
        if (self.items is not None) == single:
            raise ValueError("send either one item ('text' or 'image_base64') or a batch ('items'), not both")
        return self.items if self.items is not None else [
            CheckItem(id=self.id, text=self.text, image_base64=self.image_base64)]


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (one per application)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("aigc_audit_requests", "HTTP requests served", ["route", "status"],
                                registry=self.registry)
        self.latency = Histogram("aigc_audit_request_seconds", "request latency", ["route"],
                                 buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
                                 registry=self.registry)
        self.items = Counter("aigc_audit_items_checked", "items checked", ["verdict"], registry=self.registry)
        self.flagged = Counter("aigc_audit_items_flagged", "items flagged, per rule and level",
                               ["rule", "level"], registry=self.registry)
        self.errors = Counter("aigc_audit_errors", "requests that failed inside the service", ["route"],
                              registry=self.registry)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


def _items(request: CheckRequest, folder: Callable[[], Path], config: ServiceConfig) -> list[Item]:
    try:
        given = request.all_items()
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    if len(given) > config.max_items:
        raise HTTPException(413, f"{len(given)} items in one request; at most {config.max_items} are "
                                 "allowed: split the batch")
    items, seen = [], set()
    for n, entry in enumerate(given, 1):
        item_id = entry.id or f"item-{n}"
        if item_id in seen:
            raise HTTPException(422, f"item id {item_id!r} appears twice; give each item its own id")
        seen.add(item_id)
        if entry.text is not None:
            if len(entry.text) > config.max_text_chars:
                raise HTTPException(413, f"item {item_id!r} holds {len(entry.text)} characters; at most "
                                         f"{config.max_text_chars} are allowed")
            items.append(Item(id=item_id, modality=TEXT, text=entry.text))
            continue
        try:
            data = base64.b64decode(entry.image_base64 or "", validate=True)
        except (binascii.Error, ValueError):
            raise HTTPException(422, f"item {item_id!r}: image_base64 is not valid base64") from None
        path = folder() / f"{n:05d}.img"
        path.write_bytes(data)
        items.append(Item(id=item_id, modality=IMAGE, path=path))
    return items


def set_torch_threads(threads: int) -> None:
    """Give torch ``threads`` intra-op threads in the calling thread, if a rule loaded it (a policy
    without MiniLM-based rules never imports torch). torch keeps the count per process, but its
    OpenMP team is per calling thread: setting it in the thread that runs the checks is what
    makes MiniLM's forward pass use it."""
    torch = sys.modules.get("torch")
    if torch is not None and threads > 0:
        torch.set_num_threads(threads)


def result_body(result: CheckResult, policy: Policy) -> dict[str, Any]:
    return {"verdict": result.verdict, "policy": {"name": policy.name, "sha256": policy.sha256},
            "items": [{"id": i.item_id, "verdict": i.verdict, "error": i.error,
                       "findings": [f.to_dict() for f in i.findings]} for i in result.items],
            "not_applicable": [{"rule_id": rule, "reason": why}
                               for rule, why in result.not_applicable.items()]}


def create_app(config: ServiceConfig, checker: ItemChecker | None = None) -> FastAPI:
    """The application; ``checker`` defaults to one built from ``config`` (loads evaluators once)."""
    checker = checker if checker is not None else ItemChecker(config.policy, config.reference)
    metrics, limiter = Metrics(), RateLimiter(config.rate_per_minute, config.burst,
                                                 config.rate_limit_db)
    # Checks run one at a time (the checker's lock) in one thread of their own, so that torch's
    # OpenMP team stays with that thread and the event loop never waits behind a check. That thread
    # gives MiniLM the service's cores (``threads``): one check at a time has them to itself.
    checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aigc-audit-check",
                                initializer=set_torch_threads, initargs=(config.threads,))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        checks.shutdown(wait=True)

    app = FastAPI(title="aigc-audit", description="The audit policy as a gate for generated content.",
                  version="1", lifespan=lifespan)
    app.state.ready, app.state.config = True, config
    # With several workers (aigc-audit serve --workers) prometheus_client keeps every worker's values
    # in files in this folder, and /metrics reports their sums, whichever worker answers.
    shared_metrics = os.environ.get(METRICS_ENV)

    def emit(record: dict[str, Any]) -> None:
        if config.mask:
            record = _masked(record)
        log.info(json.dumps(record, sort_keys=True))

    async def observe(scope: Scope, receive: Receive, send: Send, call_next: ASGIApp) -> None:
        """Limits on the declared size, then metrics and one log line per request. Plain ASGI:
        Starlette's ``@app.middleware("http")`` runs every request through a task of its own and a
        memory stream, which cost a request 0.3 to 0.6 ms on this machine."""
        started = time.perf_counter()
        route = scope["path"] if scope["path"] in _ROUTES else "other"
        size = dict(scope["headers"]).get(b"content-length", b"").decode("latin-1")
        # The handlers write the key's id and what to log here (``request.state``).
        state = scope.setdefault("state", {})
        status = [0]                                # the answer's, once it begins

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        if scope["method"] == "POST" and not size.isdigit():
            # Without a declared length the size limit could only be applied after reading it all.
            await JSONResponse({"detail": "send a Content-Length header (chunked bodies are refused)"},
                               status_code=411)(scope, receive, send_observed)
        elif size.isdigit() and int(size) > config.max_request_bytes:
            await JSONResponse({"detail": f"request body of {size} bytes; at most "
                                          f"{config.max_request_bytes} are allowed"},
                               status_code=413)(scope, receive, send_observed)
        else:
            try:
                await call_next(scope, receive, send_observed)
            except Exception as error:  # noqa: BLE001 - counted, logged, answered as 500
                metrics.errors.labels(route).inc()
                emit({"event": "error", "route": route, "error": f"{type(error).__name__}: {error}"})
                if status[0]:                   # the answer had begun: nothing can replace it now
                    raise
                await JSONResponse({"detail": "internal error; see the service log"},
                                   status_code=500)(scope, receive, send_observed)
        seconds = time.perf_counter() - started
        metrics.requests.labels(route, str(status[0])).inc()
        metrics.latency.labels(route).observe(seconds)
        emit({"event": "request", "worker": os.getpid(), "route": route, "method": scope["method"],
              "status": status[0], "ms": round(seconds * 1000, 2), "key": state.get("key_id"),
              **state.get("log", {})})

    app.add_middleware(_Observed, observe=observe)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        # Pydantic's messages quote the input; name the place and the problem only.
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
        return JSONResponse({"detail": problems}, status_code=422)

    def need(scope: str) -> Callable[[Request], Any]:
        # async: the key's hash and the token bucket take microseconds, less than a hop to a thread.
        async def check_key(request: Request) -> ApiKey:
            header = request.headers.get("authorization", "")
            text = header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get(
                "x-api-key", "")
            key = config.keys.verify(text)
            if key is None:
                raise HTTPException(401, "a valid API key is required: send 'Authorization: Bearer KEY'; "
                                         "make one with 'aigc-audit serve keys add'",
                                    headers={"WWW-Authenticate": "Bearer"})
            request.state.key_id = key.id
            if not key.allows(scope):
                raise HTTPException(403, f"key {key.id} has scopes {list(key.scopes)}; this route needs "
                                         f"{scope!r}")
            wait = limiter.take(key.id)
            if wait:
                raise HTTPException(429, f"key {key.id} is over its rate limit of {config.rate_per_minute:g} "
                                         f"requests per minute; retry in {wait:.1f} s",
                                    headers={"Retry-After": str(max(1, round(wait)))})
            return key
        return check_key

    check_key = Annotated[ApiKey, Depends(need(CHECK))]
    admin_key = Annotated[ApiKey, Depends(need(ADMIN))]

    def judge(payload: CheckRequest) -> tuple[list[Item], CheckResult]:
        with contextlib.ExitStack() as cleanup:
            # The folder for images' bytes is made on the first image: a request of texts needs none,
            # and making and removing one cost it 0.2 ms of system calls.
            @functools.cache
            def folder() -> Path:
                return Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="aigc-audit-")))

            items = _items(payload, folder, config)
            return items, checker.check(items)

    @app.post("/v1/check", summary="Judge one item or a batch under the policy", response_class=JSONResponse)
    async def check(payload: CheckRequest, request: Request, key: check_key) -> JSONResponse:
        items, result = await asyncio.get_running_loop().run_in_executor(checks, judge, payload)
        for item in result.items:
            metrics.items.labels(item.verdict).inc()
            for finding in item.findings:
                metrics.flagged.labels(finding.rule_id, finding.level).inc()
        request.state.log = {"items": len(items), "verdict": result.verdict,
                             "flagged_rules": sorted({f.rule_id for i in result.items for f in i.findings})}
        body_out = result_body(result, config.policy)
        # The body is plain JSON already: no response model to validate it against again.
        return JSONResponse(_masked(body_out) if config.mask else body_out)

    @app.get("/v1/policy", summary="The policy in force and its sha256")
    def policy(key: check_key) -> dict[str, Any]:
        return {**config.policy.to_dict(), "per_item_rules": [r.id for r in checker.rules],
                "not_applicable": checker.not_applicable}

    @app.get("/v1/keys", summary="The API keys (ids, names, scopes; never secrets)")
    def keys(key: admin_key) -> list[dict[str, Any]]:
        return [{"id": k.id, "name": k.name, "scopes": list(k.scopes), "created_at": k.created_at,
                 "revoked_at": k.revoked_at} for k in config.keys.keys.values()]

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> PlainTextResponse:
        registry = metrics.registry
        if shared_metrics:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=shared_metrics)
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        ready = app.state.ready
        return JSONResponse({"status": "ready" if ready else "not ready"}, status_code=200 if ready else 503)

    return app


class _Observed:
    """Runs ``observe(scope, receive, send, app)`` around every HTTP request to ``app``."""

    def __init__(self, app: ASGIApp, observe: Callable[..., Any]):
        self.app, self.observe = app, observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.observe(scope, receive, send, self.app)


_ROUTES = {"/v1/check", "/v1/policy", "/v1/keys", "/metrics", "/healthz", "/readyz", "/docs", "/openapi.json"}
