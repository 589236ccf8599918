"""Prometheus collectors for background jobs (default registry, safe to import twice)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from kassa.observability.metrics import _collector

# From an immediate pick-up to a backlog of an hour.
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)
# From a no-op to a slow external call.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)

ENQUEUED = _collector(
    Counter,
    "kassa_jobs_enqueued_total",
    "Jobs enqueued, counted when the transaction that enqueued them commits.",
    ["entrypoint"],
)
STARTED = _collector(
    Counter, "kassa_jobs_started_total", "Job attempts started by a worker.", ["entrypoint"]
)
SUCCEEDED = _collector(
    Counter,
    "kassa_jobs_succeeded_total",
    "Job attempts whose handler returned and whose transaction committed.",
    ["entrypoint"],
)
FAILED = _collector(
    Counter,
    "kassa_jobs_failed_total",
    "Job attempts that raised; final=true when no attempt is left and the job is held failed.",
    ["entrypoint", "final"],
)
RETRIED = _collector(
    Counter,
    "kassa_jobs_retried_total",
    "Failed job attempts scheduled to run again after a backoff.",
    ["entrypoint"],
)
RUNNING = _collector(
    Gauge,
    "kassa_jobs_running",
    "Job handlers running now.",
    ["entrypoint"],
    multiprocess_mode="livesum",
)
QUEUE_LATENCY = _collector(
    Histogram,
    "kassa_job_queue_latency_seconds",
    "Time from a job becoming due (enqueued, or its retry delay over) to a worker starting it.",
    ["entrypoint"],
    buckets=LATENCY_BUCKETS,
)
DURATION = _collector(
    Histogram,
    "kassa_job_duration_seconds",
    "Time a job attempt took, handler and commit included.",
    ["entrypoint"],
    buckets=DURATION_BUCKETS,
)
QUEUE_DEPTH = _collector(
    Gauge,
    "kassa_jobs_in_queue",
    "Jobs in the queue table by status (queued, picked, failed), refreshed by every worker.",
    ["entrypoint", "status"],
    multiprocess_mode="livemax",
)
FEED_ROWS = _collector(
    Counter,
    "kassa_feed_rows_total",
    "Rows of a feed (a table drained as its own queue) processed in committed batches.",
    ["feed"],
)
FEED_BATCHES = _collector(
    Counter,
    "kassa_feed_batches_total",
    "Batches of a feed that took rows; outcome=failed when the batch raised and rolled back.",
    ["feed", "outcome"],
)
FEED_BATCH_DURATION = _collector(
    Histogram,
    "kassa_feed_batch_duration_seconds",
    "Time a feed's batch took, its commit included.",
    ["feed"],
    buckets=DURATION_BUCKETS,
)
FEED_BACKLOG = _collector(
    Gauge,
    "kassa_feed_backlog",
    "Rows of a feed waiting to be drained, refreshed by every worker with the queue depth.",
    ["feed"],
    multiprocess_mode="livemax",
)
FEED_OLDEST = _collector(
    Gauge,
    "kassa_feed_oldest_seconds",
    "Age of the oldest row of a feed waiting to be drained (0 when none waits).",
    ["feed"],
    multiprocess_mode="livemax",
)
