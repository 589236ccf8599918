"""A periodic task every 2 seconds, loaded only by the workers of the multi-worker test."""

from __future__ import annotations

from kassa.jobs.registry import JobContext, periodic
from tests.jobs.handlers import record_effect


@periodic("* * * * * */2")
async def tick(ctx: JobContext) -> None:
    assert ctx.scheduled_for is not None
    await record_effect(ctx, f"tick:{ctx.scheduled_for.isoformat()}")
