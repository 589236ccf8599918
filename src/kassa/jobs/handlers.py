"""The modules that define jobs and periodic tasks: the worker imports each one.

One explicit list, so a deployment runs exactly these. Add a domain's ``jobs`` module here.
``KASSA_JOB_MODULES`` (a JSON list) adds more at run time, e.g. for tests or plugins.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import kassa.checkout.jobs
import kassa.jobs.maintenance
import kassa.payments.jobs
import kassa.webhook.jobs  # noqa: F401


def load(extra: Iterable[str] = ()) -> None:
    for module in extra:
        importlib.import_module(module)
