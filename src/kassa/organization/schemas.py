from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from kassa.kit.schemas import IDSchema, TimestampedSchema


class OrganizationSortProperty(StrEnum):
    created_at = "created_at"
    created_at_desc = "-created_at"
    slug = "slug"
    slug_desc = "-slug"
    name = "name"
    name_desc = "-name"


class OrganizationFeatureSettings(BaseModel):
    issue_funding_enabled: bool = False
    seat_based_pricing_enabled: bool = False
    wallets_enabled: bool = False
    member_model_enabled: bool = False
    checkout_localization_enabled: bool = False
    overview_metrics: list[str] | None = None
    reset_proration_behavior_enabled: bool = False
    off_session_charges_enabled: bool = False
    meter_cycling_enabled: bool = False
    slack_benefit_enabled: bool = False
    preview_access_enabled: bool = False
    disputes_enabled: bool = False
    sso_enabled: bool = False
    dispute_auto_accept_enabled: bool = False
    compass_enabled: bool = False
    merchant_migration_enabled: bool = False


class OrganizationSubscriptionSettings(BaseModel):
    allow_multiple_subscriptions: bool = False
    proration_behavior: Literal["invoice", "prorate", "next_period"] = "prorate"
    benefit_revocation_grace_period: int = 0
    prevent_trial_abuse: bool = False
    allow_customer_updates: bool = True


class OrganizationCustomerEmailSettings(BaseModel):
    order_confirmation: bool = True
    payment_method_expiration_reminder: bool = True
    subscription_cancellation: bool = True
    subscription_confirmation: bool = True
    subscription_cycled: bool = True
    subscription_cycled_after_trial: bool = True
    subscription_past_due: bool = True
    subscription_paused: bool = True
    subscription_resumed: bool = True
    subscription_renewal_reminder: bool = True
    subscription_revoked: bool = True
    subscription_trial_conversion_reminder: bool = True
    subscription_uncanceled: bool = True
    subscription_updated: bool = True


class CustomerPortalUsageSettings(BaseModel):
    show: bool = True


class CustomerPortalSubscriptionSettings(BaseModel):
    update_seats: bool = True
    update_plan: bool = True
    pause: bool = False


class CustomerPortalCustomerSettings(BaseModel):
    allow_email_change: bool = True


class OrganizationCustomerPortalSettings(BaseModel):
    usage: CustomerPortalUsageSettings = Field(default_factory=CustomerPortalUsageSettings)
    subscription: CustomerPortalSubscriptionSettings = Field(
        default_factory=CustomerPortalSubscriptionSettings
    )
    customer: CustomerPortalCustomerSettings = Field(default_factory=CustomerPortalCustomerSettings)


class OrganizationDisputeSettings(BaseModel):
    auto_accept_below_amount: int | None = None


class OrganizationCapabilities(BaseModel):
    checkout_payments: bool = True
    subscription_renewals: bool = True
    payouts: bool = True
    refunds: bool = True
    api_access: bool = True
    dashboard_access: bool = True


class OrganizationSocialLink(BaseModel):
    platform: str
    url: str


class OrganizationSettings(BaseModel):
    """What an organization stores in its ``settings`` JSON; defaults fill the rest."""

    proration_behavior: Literal["invoice", "prorate", "next_period", "reset"] = "prorate"
    allow_customer_updates: bool = True
    socials: list[OrganizationSocialLink] = Field(default_factory=list)
    feature_settings: OrganizationFeatureSettings = Field(
        default_factory=OrganizationFeatureSettings
    )
    subscription_settings: OrganizationSubscriptionSettings = Field(
        default_factory=OrganizationSubscriptionSettings
    )
    customer_email_settings: OrganizationCustomerEmailSettings = Field(
        default_factory=OrganizationCustomerEmailSettings
    )
    customer_portal_settings: OrganizationCustomerPortalSettings = Field(
        default_factory=OrganizationCustomerPortalSettings
    )
    dispute_settings: OrganizationDisputeSettings = Field(
        default_factory=OrganizationDisputeSettings
    )
    embed_hosts: list[str] = Field(default_factory=list)
    embed_hosts_enforced: bool = False
    capabilities: OrganizationCapabilities = Field(default_factory=OrganizationCapabilities)


class Organization(IDSchema, TimestampedSchema, OrganizationSettings):
    name: str
    slug: str
    avatar_url: str | None
    email: str | None
    website: str | None
    status: str
    details_submitted_at: datetime | None = None
    onboarding_resubmission_requested_at: datetime | None = None
    sso_enforced: bool = False
    default_presentment_currency: str
    default_tax_behavior: Literal["location", "inclusive", "exclusive"]
    country: str | None
    account_id: str | None = None
    payout_account_id: str | None = None


def organization_schema(row: object) -> Organization:
    from kassa.models import Organization as OrganizationModel

    assert isinstance(row, OrganizationModel)
    settings = OrganizationSettings.model_validate(row.settings or {})
    return Organization.model_validate(
        {
            **settings.model_dump(),
            "id": row.id,
            "created_at": row.created_at,
            "modified_at": row.modified_at,
            "name": row.name,
            "slug": row.slug,
            "avatar_url": row.avatar_url,
            "email": row.email,
            "website": row.website,
            "status": row.status,
            "default_presentment_currency": row.default_presentment_currency,
            "default_tax_behavior": row.default_tax_behavior,
            "country": row.country,
        }
    )
