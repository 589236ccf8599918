"""Housekeeping of the queue's own tables."""

from __future__ import annotations

from datetime import timedelta

from kassa.jobs import repository
from kassa.jobs.registry import JobContext, periodic

LOG_RETENTION = timedelta(days=14)


@periodic("41 * * * *")
async def prune_job_log(ctx: JobContext) -> None:
    """Delete queue log and statistics rows older than ``LOG_RETENTION``, keeping the errors
    of jobs held failed. Idempotent: deleting what is already gone does nothing."""
    assert ctx.scheduled_for is not None
    deleted = await repository.prune_log(ctx.session, before=ctx.scheduled_for - LOG_RETENTION)
    ctx.logger.info("job_log_pruned", rows=deleted)
