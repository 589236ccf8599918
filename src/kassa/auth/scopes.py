"""Access scopes, named as in the contract."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    openid = "openid"
    profile = "profile"
    email = "email"
    user_read = "user:read"
    user_write = "user:write"
    organizations_read = "organizations:read"
    organizations_write = "organizations:write"
    custom_fields_read = "custom_fields:read"
    custom_fields_write = "custom_fields:write"
    discounts_read = "discounts:read"
    discounts_write = "discounts:write"
    checkout_links_read = "checkout_links:read"
    checkout_links_write = "checkout_links:write"
    checkouts_read = "checkouts:read"
    checkouts_write = "checkouts:write"
    transactions_read = "transactions:read"
    transactions_write = "transactions:write"
    payouts_read = "payouts:read"
    payouts_write = "payouts:write"
    products_read = "products:read"
    products_write = "products:write"
    benefits_read = "benefits:read"
    benefits_write = "benefits:write"
    events_read = "events:read"
    events_write = "events:write"
    meters_read = "meters:read"
    meters_write = "meters:write"
    files_read = "files:read"
    files_write = "files:write"
    subscriptions_read = "subscriptions:read"
    subscriptions_write = "subscriptions:write"
    customers_read = "customers:read"
    customers_write = "customers:write"
    members_read = "members:read"
    members_write = "members:write"
    wallets_read = "wallets:read"
    wallets_write = "wallets:write"
    disputes_read = "disputes:read"
    disputes_write = "disputes:write"
    customer_meters_read = "customer_meters:read"
    customer_sessions_write = "customer_sessions:write"
    member_sessions_write = "member_sessions:write"
    customer_seats_read = "customer_seats:read"
    customer_seats_write = "customer_seats:write"
    orders_read = "orders:read"
    orders_write = "orders:write"
    refunds_read = "refunds:read"
    refunds_write = "refunds:write"
    payments_read = "payments:read"
    metrics_read = "metrics:read"
    metrics_write = "metrics:write"
    webhooks_read = "webhooks:read"
    webhooks_write = "webhooks:write"
    license_keys_read = "license_keys:read"
    license_keys_write = "license_keys:write"
    customer_portal_read = "customer_portal:read"
    customer_portal_write = "customer_portal:write"
    notifications_read = "notifications:read"
    notifications_write = "notifications:write"
    notification_recipients_read = "notification_recipients:read"
    notification_recipients_write = "notification_recipients:write"
    organization_access_tokens_read = "organization_access_tokens:read"
    organization_access_tokens_write = "organization_access_tokens:write"


# Scopes a token may be given through the API (the contract's AvailableScope). Managing tokens
# themselves is reserved to tokens issued by an operator with `kassa admin`.
TOKEN_MANAGEMENT_SCOPES = frozenset(
    {Scope.organization_access_tokens_read, Scope.organization_access_tokens_write}
)
AVAILABLE_SCOPES = frozenset(Scope) - TOKEN_MANAGEMENT_SCOPES
ALL_SCOPES = frozenset(Scope)
