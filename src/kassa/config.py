"""Settings from the environment: prefix ``KASSA_``, plus ``DATABASE_URL`` and ``REDIS_URL``."""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KASSA_", extra="ignore")

    env: Environment = Environment.development
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "KASSA_DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "KASSA_REDIS_URL")
    )
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("kassa")))
    secret_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    log_level: str = "INFO"
    log_json: bool = True
    # A steady pool: a connection opened beyond it for a burst is closed when it returns, and
    # each costs a server process, a TLS probe, type introspection and preparing every
    # statement again. Requests wait up to ``database_pool_timeout_seconds`` for one (then 503).
    database_pool_size: int = 20
    database_max_overflow: int = 0
    database_pool_timeout_seconds: float = 10.0
    database_statement_timeout_ms: int = 30_000
    idempotency_key_ttl_hours: int = 24
    demo_organization: bool = True
    worker_concurrency: int = 50
    worker_batch_size: int = 25
    job_heartbeat_timeout_seconds: float = 30.0
    job_poll_interval_seconds: float = Field(default=1.0, gt=0)
    job_modules: list[str] = Field(default_factory=list)  # extra modules defining jobs
    webhooks_allow_private: bool = False
    webhooks_timeout_seconds: float = 10.0
    webhooks_disable_after_failed_events: int = 10
    payment_processor: Literal["sandbox", "stripe"] = "sandbox"
    checkout_ttl_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = None  # tests point the SDK at a local fake Stripe

    @field_validator(
        "database_url",
        "redis_url",
        "public_url",
        "stripe_secret_key",
        "stripe_webhook_secret",
        "stripe_api_base",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def resolved_secret_key(self) -> bytes:
        """The key for token hashes: ``KASSA_SECRET_KEY``, else one kept in the data directory."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()
