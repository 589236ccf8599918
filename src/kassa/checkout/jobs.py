"""Expiring open checkouts whose time is up (checkout.expired, checkout.updated)."""

from __future__ import annotations

from kassa.checkout.repository import CheckoutRepository
from kassa.checkout.serialize import emit
from kassa.jobs.registry import JobContext, periodic
from kassa.kit.clock import utc_now
from kassa.webhook.schemas import WebhookEventType

BATCH = 500


@periodic("* * * * *")
async def expire_checkouts(ctx: JobContext) -> None:
    session = ctx.session
    repository = CheckoutRepository(session)
    count = 0
    for _ in range(10):  # at most 10 batches per run; the next minute takes the rest
        expired = await repository.expired_open(utc_now(), BATCH)
        for checkout in expired:
            checkout.status = "expired"
            await repository.save(checkout)
            await emit(session, WebhookEventType.checkout_expired, checkout)
            await emit(session, WebhookEventType.checkout_updated, checkout)
        count += len(expired)
        if len(expired) < BATCH:
            break
    if count:
        ctx.logger.info("checkouts_expired", count=count)
