from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from kassa.kit.clock import utc_now
from kassa.models.base import Base


class JobPeriodicRun(Base):
    """One row per period a periodic task was started for: the primary key is what makes a
    period run once however many workers' schedulers fire for it (see ``kassa.jobs.periodic``).
    """

    __tablename__ = "job_periodic_runs"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    scheduled_for: Mapped[datetime] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
