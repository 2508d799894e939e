"""Composition root: builds the FastAPI app; the lifespan makes every engine and client."""

from __future__ import annotations

import asyncio
import gc
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.docs import install_docs
from app.models import install_listeners
from app.openapi import TAGS, declare_problems, operation_id
from app.worker import run_forever
from contracts.routers import ROUTERS as CONTRACTS_ROUTERS
from contracts.settings import PaymentSettings
from contracts.statistics.routers import ROUTERS as STATISTICS_ROUTERS
from core.characters import reject_invalid_characters
from core.db import Database
from core.egress import EgressPolicy
from core.errors import NotFound, ServiceUnavailable, Unauthorized
from core.http import build_http_client
from core.limits import BodySizeLimitMiddleware
from core.migrations import ensure_schema_current
from core.observability import PROCESS_METRICS, Metrics, RequestContextMiddleware, configure_logging, render_metrics
from core.problems import install_problem_handlers, problem_response
from core.settings import Settings
from core.storage import build_store
from core.visibility import VisibilityMiddleware
from market.attachments.endpoints import download_router as attachment_download_router
from market.attachments.kinds import MAX_BYTES as MAX_ATTACHMENT_BYTES
from market.attachments.listings import achievement_attachments_router, demand_attachments_router
from market.attachments.service import OBJECT_TOPIC
from market.identity.deps import declare_write_guard
from market.identity.endpoints import router as identity_router
from market.listings.endpoints import achievements_router, demands_router, imports_router
from market.listings.service import SEARCH_TOPIC
from market.notifications.email import Mailer
from market.notifications.endpoints import router as notifications_router
from market.reference.endpoints import describe_codes
from market.reference.endpoints import router as reference_router
from search.adapters import build_engine
from search.alerts.endpoints import router as alerts_router
from search.alerts.service import ALERT_TOPIC, WEBHOOK_TOPIC
from search.endpoints import router as search_router
from search.errors import SearchUnavailable
from search.matching.endpoints import router as matching_router
from search.matching.features import load_resources as load_matching_resources
from search.semantic.encoder import fingerprint

log = structlog.get_logger("techmarket.app")
OUTBOX_TOPICS = (SEARCH_TOPIC, ALERT_TOPIC, WEBHOOK_TOPIC, OBJECT_TOPIC)  # reported on /metrics even when empty


class NotReady(ServiceUnavailable):
    code = "not_ready"
    message = "服务未就绪"


class MetricsUnauthorized(Unauthorized):
    code = "metrics_unauthorized"
    message = "指标需要令牌 (Authorization: Bearer <TECHMARKET_METRICS_TOKEN>)"


class MetricsDisabled(NotFound):
    code = "metrics_disabled"
    message = "生产环境未设置 TECHMARKET_METRICS_TOKEN, 指标未开放"


def _check_metrics_token(settings: Settings, authorization: str | None) -> None:
    """Token set: only its bearer. Unset: open outside production, closed in production."""
    if settings.metrics_token is None:
        if settings.env == "production":
            raise MetricsDisabled()
        return
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.metrics_token.encode()):
        raise MetricsUnauthorized()


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    """``database`` lets tests hand in one bound to their own transaction; it is then not disposed."""
    settings = settings or Settings()
    install_listeners()
    configure_logging(json_logs=settings.json_logs, level=settings.log_level)
    metrics = Metrics()

    if settings.env == "production":
        app_payment_settings = PaymentSettings(env=settings.env)  # refuse default payment secrets before serving
    else:
        app_payment_settings = None  # read on first use, so tests and development need no payment secrets

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # which model's listing vectors matching reads: a folder that is no model fails the start,
        # before anything is opened
        model = settings.embedding_model
        app.state.vector_model = await asyncio.to_thread(fingerprint, model) if model else None
        owned = database is None
        db = database or Database.from_settings(settings)
        try:
            await ensure_schema_current(db)
        except BaseException:
            if owned:
                await db.dispose()
            raise
        app.state.database = db
        app.state.http = build_http_client(settings)
        app.state.search = engine = build_engine(settings, db)
        app.state.store = store = build_store(settings)
        try:
            await engine.ensure_ready()
        except SearchUnavailable:
            log.warning("search_engine_unavailable_at_start")  # /readyz says so; the relay catches up later
        await asyncio.to_thread(load_matching_resources)
        if settings.env != "test":  # a test process starts hundreds of apps; freezing each would pile up
            # Everything loaded so far (jieba's dictionary, IDF and pinyin tables, the app) lives as
            # long as the process: keep it out of the collector, so a full collection scans what
            # requests allocate (~0.1 ms) instead of ~320k start-up objects (~120 ms, a spike each time).
            gc.collect()
            gc.freeze()
        stop = asyncio.Event()
        egress = EgressPolicy.from_settings(settings)
        worker = (
            asyncio.create_task(
                run_forever(
                    db,
                    engine,
                    app.state.http,
                    stop,
                    egress_policy=egress,
                    metrics=metrics.search_index,
                    mailer=Mailer.from_settings(settings) or False,
                    store=store,
                )
            )
            if settings.runs_worker_in_process
            else None
        )
        log.info(
            "started", profile=settings.profile, database=db.dialect, search=engine.name, worker=worker is not None
        )
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            await engine.aclose()
            await store.aclose()
            await app.state.http.aclose()
            if owned:
                await db.dispose()
            log.info("stopped")

    app = FastAPI(
        title="techmarket 科技成果网络交易平台",
        version="0.1.0",
        description="科技成果与技术需求发布、匹配、技术合同登记与交易统计。错误统一为 RFC 9457 problem+json。",
        lifespan=lifespan,
        openapi_tags=TAGS,
        generate_unique_id_function=operation_id,
        dependencies=[Depends(reject_invalid_characters)],  # every route, before its own dependencies and validation
        docs_url=None,  # /docs and /redoc come from app.docs, with their assets served from the package
        redoc_url=None,
    )
    app.state.settings = settings
    if app_payment_settings is not None:
        app.state.payment_settings = app_payment_settings
    app.state.metrics = metrics
    install_problem_handlers(app)
    app.add_middleware(VisibilityMiddleware)  # innermost: each request renders for its own caller
    app.add_middleware(
        BodySizeLimitMiddleware,
        default_bytes=1024 * 1024,
        per_prefix={"/api/v1/imports": 51 * 1024 * 1024},
        # uploads: each file type's own limit is enforced while the bytes stream in (413 file_too_large)
        per_suffix={"/attachments": MAX_ATTACHMENT_BYTES + 1024 * 1024},
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)  # outermost: ids and logs cover every reply
    app.include_router(identity_router)
    app.include_router(achievements_router)
    app.include_router(demands_router)
    app.include_router(imports_router)
    app.include_router(reference_router)
    app.include_router(search_router)
    app.include_router(matching_router)
    app.include_router(alerts_router)
    app.include_router(notifications_router)
    app.include_router(achievement_attachments_router)
    app.include_router(demand_attachments_router)
    app.include_router(attachment_download_router)
    for contracts_router in CONTRACTS_ROUTERS:
        app.include_router(contracts_router)
    for statistics_router in STATISTICS_ROUTERS:
        app.include_router(statistics_router)
    declare_write_guard(app)  # after every router: documents the suspension guard on each write route
    describe_codes(app)  # each enum of codes documented with its Chinese labels
    declare_problems(app)  # last: every error response declared as problem+json

    install_docs(app)

    @app.get("/healthz", tags=["ops"], summary="进程存活")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="依赖就绪 (数据库, 搜索引擎)", responses={503: {"description": "未就绪"}})
    async def readyz(request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(request.app.state.database.ping(), timeout=settings.db_timeout_seconds)
            checks["database"] = "ok"
        except Exception as exc:  # any failure means not ready; the reason goes to the log
            log.warning("readiness_database_failed", error=repr(exc))
            checks["database"] = "unavailable"
        checks["search"] = "ok" if await request.app.state.search.health() else "unavailable"
        ready = all(value == "ok" for value in checks.values())
        if not ready:
            problem = NotReady(detail="、".join(k for k, v in checks.items() if v != "ok") + " 不可用", checks=checks)
            return problem_response(problem.to_problem(instance="/readyz"))
        return JSONResponse({"status": "ready", "checks": checks})

    @app.get("/metrics", tags=["ops"], summary="Prometheus 指标", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        _check_metrics_token(settings, request.headers.get("authorization"))
        try:  # the outbox backlog is read now; without the database the rest still answers
            refresh = metrics.outbox.refresh(request.app.state.database, OUTBOX_TOPICS)
            await asyncio.wait_for(refresh, timeout=settings.db_timeout_seconds)
        except Exception as exc:
            log.warning("metrics_outbox_unavailable", error=repr(exc))
        return Response(render_metrics(metrics.registry, PROCESS_METRICS.registry), media_type=CONTENT_TYPE_LATEST)

    return app
