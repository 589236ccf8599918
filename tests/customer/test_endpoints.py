from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import Tenant, TenantFactory
from tests.customer.support import (
    JSON,
    assert_invalid,
    create_customer,
    customer_count,
    delete,
    get,
    patch,
    post_customer,
    read_row,
)

# Create


async def test_create_individual(client: httpx.AsyncClient, tenant: Tenant) -> None:
    customer = await create_customer(
        client,
        tenant,
        email="jane@example.com",
        name="Jane Doe",
        external_id="user_1",
        locale="en-US",
        metadata={"plan": "pro", "seats": 2},
    )

    uuid.UUID(customer["id"])
    assert customer["type"] == "individual"
    assert customer["email"] == "jane@example.com"
    assert customer["email_verified"] is False
    assert customer["name"] == "Jane Doe"
    assert customer["external_id"] == "user_1"
    assert customer["locale"] == "en-US"
    assert customer["metadata"] == {"plan": "pro", "seats": 2}
    assert customer["organization_id"] == str(tenant.organization_id)
    assert customer["billing_address"] is None
    assert customer["tax_id"] is None
    assert customer["deleted_at"] is None
    assert customer["modified_at"] is None
    assert (await get(client, tenant, customer["id"])).json() == customer


async def test_individual_requires_an_email(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await post_customer(client, tenant, name="No Email")

    assert_invalid(response, ["body", "email"])
    assert await customer_count(client, tenant) == 0


async def test_create_team_without_email(client: httpx.AsyncClient, tenant: Tenant) -> None:
    customer = await create_customer(client, tenant, type="team", email=None, name="Acme")

    assert customer["type"] == "team"
    assert customer["email"] is None
    assert customer["name"] == "Acme"


async def test_create_team_with_email(client: httpx.AsyncClient, tenant: Tenant) -> None:
    customer = await create_customer(client, tenant, type="team", email="billing@acme.com")
    assert (customer["type"], customer["email"]) == ("team", "billing@acme.com")


@pytest.mark.parametrize("other", ["jane@example.com", "JANE@example.com", "Jane@EXAMPLE.com"])
async def test_duplicate_email_is_refused_case_insensitively(
    client: httpx.AsyncClient, tenant: Tenant, other: str
) -> None:
    await create_customer(client, tenant, email="jane@example.com")

    assert_invalid(await post_customer(client, tenant, email=other), ["body", "email"])
    assert await customer_count(client, tenant) == 1


async def test_same_email_in_two_organizations(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    first, second = await make_tenant(), await make_tenant()
    await create_customer(client, first, email="jane@example.com", external_id="u1")
    await create_customer(client, second, email="jane@example.com", external_id="u1")


async def test_duplicate_external_id_is_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await create_customer(client, tenant, email="a@example.com", external_id="user_1")

    response = await post_customer(client, tenant, email="b@example.com", external_id="user_1")

    assert_invalid(response, ["body", "external_id"])
    assert await customer_count(client, tenant) == 1


@pytest.mark.parametrize(
    "email", ["not-an-email", "jane@", "@example.com", "jane@example", "", "a b@example.com"]
)
async def test_invalid_email(client: httpx.AsyncClient, tenant: Tenant, email: str) -> None:
    assert_invalid(await post_customer(client, tenant, email=email), ["body", "email"])
    assert await customer_count(client, tenant) == 0


async def test_billing_address(client: httpx.AsyncClient, tenant: Tenant) -> None:
    address = {"line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "de"}

    customer = await create_customer(client, tenant, billing_address=address)

    assert customer["billing_address"] == {
        "line1": "1 Main St",
        "line2": None,
        "postal_code": "10115",
        "city": "Berlin",
        "state": None,
        "country": "DE",
    }


@pytest.mark.parametrize("country", ["XX", "Germany", "", "ZZZ"])
async def test_billing_address_with_unknown_country(
    client: httpx.AsyncClient, tenant: Tenant, country: str
) -> None:
    response = await post_customer(
        client, tenant, email="jane@example.com", billing_address={"country": country}
    )

    assert_invalid(response, ["body", "billing_address", "country"])
    assert await customer_count(client, tenant) == 0


@pytest.mark.parametrize("tax_id", ["DE136695976", "DE 136 695 976", "136695976"])
async def test_valid_tax_id(client: httpx.AsyncClient, tenant: Tenant, tax_id: str) -> None:
    customer = await create_customer(
        client, tenant, tax_id=tax_id, billing_address={"country": "DE"}
    )
    assert customer["tax_id"] == ["DE136695976", "eu_vat"]


@pytest.mark.parametrize("tax_id", ["DE136695977", "DE123", "hello", "FR61954506077"])
async def test_invalid_tax_id(client: httpx.AsyncClient, tenant: Tenant, tax_id: str) -> None:
    response = await post_customer(
        client, tenant, email="jane@example.com", tax_id=tax_id, billing_address={"country": "DE"}
    )

    assert_invalid(response, ["body", "tax_id"])
    assert await customer_count(client, tenant) == 0


async def test_organization_id_of_another_organization(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    tenant, other = await make_tenant(), await make_tenant()

    response = await post_customer(
        client, tenant, email="jane@example.com", organization_id=str(other.organization_id)
    )

    assert_invalid(response, ["body", "organization_id"])
    assert await customer_count(client, tenant) == 0
    assert await customer_count(client, other) == 0


# Get, update and delete by id and by external id


async def test_get_by_external_id(client: httpx.AsyncClient, tenant: Tenant) -> None:
    customer = await create_customer(client, tenant, external_id="user_42")

    response = await get(client, tenant, "external/user_42")

    assert response.status_code == 200
    assert response.json() == customer


async def test_get_by_external_id_with_spaces_and_unicode(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    customer = await create_customer(client, tenant, external_id="user 42 ü")

    response = await get(client, tenant, "external/user%2042%20%C3%BC")

    assert response.json()["id"] == customer["id"]


async def test_get_by_external_id_containing_a_slash(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    customer = await create_customer(client, tenant, external_id="team/42")

    for path in ("external/team%2F42", "external/team/42"):
        response = await get(client, tenant, path)
        assert response.status_code == 200, path
        assert response.json()["id"] == customer["id"]
    renamed = await patch(client, tenant, "external/team/42", name="Team 42")
    assert renamed.json()["name"] == "Team 42"
    assert (await delete(client, tenant, "external/team/42")).status_code == 204
    assert (await get(client, tenant, customer["id"])).status_code == 404


async def test_unknown_customer_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for path in (str(uuid.uuid4()), "external/nobody"):
        response = await get(client, tenant, path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "ResourceNotFound"


async def test_customer_of_another_organization_is_404(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    owner, stranger = await make_tenant(), await make_tenant()
    customer = await create_customer(client, owner, external_id="user_1")

    for path in (customer["id"], "external/user_1"):
        assert (await get(client, stranger, path)).status_code == 404
        assert (await patch(client, stranger, path, name="Mallory")).status_code == 404
        assert (await delete(client, stranger, path)).status_code == 404
    assert (await get(client, owner, customer["id"])).json() == customer


async def test_update_by_id(client: httpx.AsyncClient, tenant: Tenant) -> None:
    customer = await create_customer(client, tenant, name="Jane", metadata={"a": "1"})

    response = await patch(
        client,
        tenant,
        customer["id"],
        email="jane.doe@example.com",
        name="Jane Doe",
        metadata={"b": True},
        locale="de",
    )

    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["email"] == "jane.doe@example.com"
    assert updated["name"] == "Jane Doe"
    assert updated["metadata"] == {"b": True}
    assert updated["locale"] == "de"
    assert updated["modified_at"] is not None
    assert updated["email_verified"] is False
    assert (await get(client, tenant, customer["id"])).json() == updated


async def test_update_by_external_id(client: httpx.AsyncClient, tenant: Tenant) -> None:
    customer = await create_customer(client, tenant, external_id="user_1")

    response = await patch(client, tenant, "external/user_1", name="Renamed")

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Renamed"
    assert (await get(client, tenant, customer["id"])).json()["name"] == "Renamed"


async def test_update_billing_address_and_tax_id(client: httpx.AsyncClient, tenant: Tenant) -> None:
    customer = await create_customer(client, tenant)

    response = await patch(
        client, tenant, customer["id"], billing_address={"country": "DE"}, tax_id="136695976"
    )

    assert response.status_code == 200, response.text
    assert response.json()["tax_id"] == ["DE136695976", "eu_vat"]
    assert response.json()["billing_address"]["country"] == "DE"


async def test_update_with_invalid_tax_id(client: httpx.AsyncClient, tenant: Tenant) -> None:
    customer = await create_customer(client, tenant)

    response = await patch(client, tenant, customer["id"], tax_id="DE000")

    assert_invalid(response, ["body", "tax_id"])
    assert (await get(client, tenant, customer["id"])).json() == customer


async def test_update_email_to_another_customers_email(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await create_customer(client, tenant, email="taken@example.com")
    customer = await create_customer(client, tenant, email="mine@example.com")

    response = await patch(client, tenant, customer["id"], email="TAKEN@example.com")

    assert_invalid(response, ["body", "email"])
    assert (await get(client, tenant, customer["id"])).json()["email"] == "mine@example.com"


async def test_update_with_invalid_email(client: httpx.AsyncClient, tenant: Tenant) -> None:
    customer = await create_customer(client, tenant)
    assert_invalid(await patch(client, tenant, customer["id"], email="nope"), ["body", "email"])


async def test_external_id_cannot_be_changed_once_set(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    customer = await create_customer(client, tenant, external_id="user_1")

    response = await patch(client, tenant, customer["id"], external_id="user_2")

    assert_invalid(response, ["body", "external_id"])
    assert (await get(client, tenant, customer["id"])).json()["external_id"] == "user_1"
    assert (await get(client, tenant, "external/user_2")).status_code == 404


async def test_external_id_can_be_repeated_unchanged(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    customer = await create_customer(client, tenant, external_id="user_1")
    response = await patch(client, tenant, customer["id"], external_id="user_1", name="Jane")
    assert response.status_code == 200, response.text


async def test_external_id_can_be_set_when_null(client: httpx.AsyncClient, tenant: Tenant) -> None:
    customer = await create_customer(client, tenant)

    response = await patch(client, tenant, customer["id"], external_id="user_9")

    assert response.status_code == 200, response.text
    assert response.json()["external_id"] == "user_9"
    assert (await get(client, tenant, "external/user_9")).json()["id"] == customer["id"]


async def test_setting_an_external_id_already_in_use(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await create_customer(client, tenant, email="a@example.com", external_id="user_1")
    customer = await create_customer(client, tenant, email="b@example.com")

    response = await patch(client, tenant, customer["id"], external_id="user_1")

    assert_invalid(response, ["body", "external_id"])
    assert (await get(client, tenant, customer["id"])).json()["external_id"] is None


async def test_individual_can_become_a_team_but_not_back(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    customer = await create_customer(client, tenant)

    team = await patch(client, tenant, customer["id"], type="team")
    assert team.json()["type"] == "team"
    assert_invalid(await patch(client, tenant, customer["id"], type="individual"), ["body", "type"])


@pytest.mark.parametrize("by", ["id", "external_id"])
async def test_delete(client: httpx.AsyncClient, tenant: Tenant, by: str) -> None:
    customer = await create_customer(client, tenant, external_id="user_1")
    path = customer["id"] if by == "id" else "external/user_1"

    response = await delete(client, tenant, path)

    assert response.status_code == 204
    assert response.content == b""
    assert (await get(client, tenant, customer["id"])).status_code == 404
    assert (await get(client, tenant, "external/user_1")).status_code == 404
    assert (await delete(client, tenant, path)).status_code == 404
    assert await customer_count(client, tenant) == 0


async def test_email_and_external_id_are_free_again_after_delete(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    old = await create_customer(client, tenant, email="jane@example.com", external_id="user_1")
    assert (await delete(client, tenant, old["id"])).status_code == 204

    new = await create_customer(client, tenant, email="JANE@example.com", external_id="user_1")

    assert new["id"] != old["id"]
    assert (await get(client, tenant, "external/user_1")).json()["id"] == new["id"]


async def test_delete_keeps_the_row(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    customer = await create_customer(client, tenant, name="Jane", billing_address={"country": "FR"})
    assert (await delete(client, tenant, customer["id"])).status_code == 204

    row = await read_row(sessionmaker, customer["id"])

    assert row.deleted_at is not None
    assert (row.email, row.name) == ("jane@example.com", "Jane")
    assert row.billing_address is not None


@pytest.mark.parametrize("by", ["id", "external_id"])
async def test_delete_with_anonymize_scrubs_personal_data(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    by: str,
) -> None:
    customer = await create_customer(
        client,
        tenant,
        email="Jane.Doe@example.com",
        name="Jane Doe",
        external_id="user_1",
        billing_address={"line1": "1 Rue de Rivoli", "city": "Paris", "country": "FR"},
    )
    path = customer["id"] if by == "id" else "external/user_1"

    assert (await delete(client, tenant, path, anonymize="true")).status_code == 204

    row = await read_row(sessionmaker, customer["id"])
    assert row.deleted_at is not None
    assert row.email is not None and row.email.endswith("@anonymized.invalid")
    assert "jane" not in row.email.lower()
    assert row.name is not None and "Jane" not in row.name
    assert row.billing_address is None
    assert (await get(client, tenant, customer["id"])).status_code == 404


async def test_anonymize_keeps_a_team_name(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    customer = await create_customer(client, tenant, type="team", name="Acme GmbH")
    assert (await delete(client, tenant, customer["id"], anonymize="true")).status_code == 204

    row = await read_row(sessionmaker, customer["id"])
    assert row.name == "Acme GmbH"
    assert row.email is not None and row.email.endswith("@anonymized.invalid")


@pytest.mark.parametrize("path", ["not-a-uuid", "123"])
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_invalid_uuid_in_path(
    client: httpx.AsyncClient, tenant: Tenant, method: str, path: str
) -> None:
    kwargs: JSON = {"json": {"name": "x"}} if method == "PATCH" else {}
    response = await client.request(
        method, f"/v1/customers/{path}", headers=tenant.headers, **kwargs
    )
    assert_invalid(response, ["path", "id"])
