"""Transactional background jobs on pgqueuer.

Declare jobs with ``kassa.jobs.registry.job`` / ``batch_job`` / ``periodic``, enqueue them with
``kassa.jobs.queue.enqueue`` inside the transaction of their cause, run them with ``kassa
worker`` (``kassa.jobs.worker.Worker``). See the module docstrings of ``runner`` (attempts,
failed state, batches), ``batching`` (how batches form) and ``worker`` (stalled jobs, periodic
tasks) for the guarantees.
"""
