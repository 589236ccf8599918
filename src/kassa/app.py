"""The FastAPI application: middleware and routers are assembled here, in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.middleware import Middleware

from kassa import __version__
from kassa.auth.endpoints import router as access_tokens_router
from kassa.checkout.endpoints import router as checkouts_router
from kassa.checkout.link_endpoints import open_router as checkout_link_open_router
from kassa.checkout.link_endpoints import router as checkout_links_router
from kassa.config import Settings
from kassa.customer.endpoints import router as customers_router
from kassa.discount.endpoints import router as discounts_router
from kassa.health.endpoints import router as health_router
from kassa.idempotency.middleware import IdempotencyMiddleware
from kassa.kit.db import create_engine, create_sessionmaker
from kassa.kit.errors import install_error_handlers
from kassa.kit.input_guard import InputGuardMiddleware
from kassa.kit.transaction import TransactionMiddleware
from kassa.observability.metrics import metrics_endpoint
from kassa.observability.middleware import RequestContextMiddleware
from kassa.order.endpoints import router as orders_router
from kassa.organization.endpoints import router as organizations_router
from kassa.payments.sandbox_endpoints import router as sandbox_router
from kassa.payments.stripe_endpoints import router as stripe_router
from kassa.product.endpoints import router as products_router
from kassa.web.endpoints import router as web_router
from kassa.web.static_files import static_files
from kassa.webhook.endpoints import router as webhooks_router

API_DESCRIPTION = (
    "Kassa serves the Polar API (version 2026-10) for the resources it implements, so the "
    "official Polar SDKs work against it unchanged. Operations marked as Kassa extensions "
    "are not part of Polar's API."
)


def create_app(settings: Settings, database_url: str) -> FastAPI:
    engine = create_engine(database_url, settings)
    sessionmaker = create_sessionmaker(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        from kassa.payments.stripe import close_clients

        await close_clients()
        await engine.dispose()

    app = FastAPI(
        title="Kassa API",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        middleware=[
            Middleware(RequestContextMiddleware),
            Middleware(InputGuardMiddleware),
            Middleware(TransactionMiddleware, sessionmaker=sessionmaker),
            Middleware(
                IdempotencyMiddleware, ttl=timedelta(hours=settings.idempotency_key_ttl_hours)
            ),
        ],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    app.state.secret_key = settings.resolved_secret_key()
    install_error_handlers(app)

    # Requests are matched against the routes in this order: checkouts, most of the traffic,
    # first.
    for router in (
        checkouts_router,
        health_router,
        organizations_router,
        access_tokens_router,
        products_router,
        customers_router,
        discounts_router,
        webhooks_router,
        checkout_links_router,
        checkout_link_open_router,
        orders_router,
        sandbox_router,
        stripe_router,
        web_router,
    ):
        app.include_router(router)
    app.mount("/static", static_files(), name="static")
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
