from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from kassa.auth.dependencies import Authorize
from kassa.auth.scopes import Scope
from kassa.auth.service import AuthSubject, organization_for
from kassa.customer import service
from kassa.customer.schemas import (
    Customer,
    CustomerCreate,
    CustomerListFilters,
    CustomerSortProperty,
    CustomerUpdate,
    CustomerUpdateExternalID,
)
from kassa.customer.serialize import customer_schema
from kassa.kit.db import DbSession
from kassa.kit.errors import not_found_response
from kassa.kit.filters import MetadataQuery
from kassa.kit.pagination import ListResource, PaginationQuery

router = APIRouter(prefix="/v1/customers", tags=["customers"])

CustomersRead = Annotated[
    AuthSubject, Depends(Authorize(Scope.customers_read, Scope.customers_write))
]
CustomersWrite = Annotated[AuthSubject, Depends(Authorize(Scope.customers_write))]
NOT_FOUND = not_found_response("Customer")
Anonymize = Annotated[
    bool,
    Query(description="Also replace the customer's personal data with pseudonyms (GDPR)."),
]


@router.get("/", summary="List Customers")
async def list_customers(
    subject: CustomersRead,
    session: DbSession,
    pagination: PaginationQuery,
    metadata: MetadataQuery,
    organization_id: Annotated[
        list[uuid.UUID] | None, Query(description="Filter by organization ID.")
    ] = None,
    email: Annotated[str | None, Query(description="Filter by exact email.")] = None,
    query: Annotated[
        str | None, Query(description="Filter by name, email, or external ID.")
    ] = None,
    active: Annotated[
        bool | None, Query(description="Only customers with a live subscription.")
    ] = None,
    sorting: Annotated[list[CustomerSortProperty] | None, Query()] = None,
) -> ListResource[Customer]:
    """List customers of the token's organization."""
    filters = CustomerListFilters(
        organization_id=organization_id, email=email, query=query, active=active, metadata=metadata
    )
    rows, total = await service.list_customers(
        session,
        subject.organization_id,
        filters,
        [str(s) for s in sorting or [CustomerSortProperty.created_at_desc]],
        pagination,
    )
    return ListResource.build([customer_schema(row) for row in rows], total, pagination)


@router.post("/", status_code=status.HTTP_201_CREATED, summary="Create Customer")
async def create_customer(
    body: CustomerCreate, subject: CustomersWrite, session: DbSession
) -> Customer:
    """Create a customer. Emails and external IDs are unique within an organization."""
    organization_id = organization_for(subject, body.organization_id)
    return customer_schema(await service.create_customer(session, organization_id, body))


@router.get(
    "/external/{external_id:path}", summary="Get Customer by External ID", responses=NOT_FOUND
)
async def get_customer_external(
    external_id: str, subject: CustomersRead, session: DbSession
) -> Customer:
    """Get a customer by the ID your system gave it."""
    customer = await service.get_customer_by_external_id(
        session, subject.organization_id, external_id
    )
    return customer_schema(customer)


@router.patch(
    "/external/{external_id:path}", summary="Update Customer by External ID", responses=NOT_FOUND
)
async def update_customer_external(
    external_id: str, body: CustomerUpdateExternalID, subject: CustomersWrite, session: DbSession
) -> Customer:
    """Update a customer found by external ID."""
    customer = await service.get_customer_by_external_id(
        session, subject.organization_id, external_id, lock=True
    )
    return customer_schema(await service.update_customer(session, customer, body))


@router.delete(
    "/external/{external_id:path}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete Customer by External ID",
    responses=NOT_FOUND,
)
async def delete_customer_external(
    external_id: str, subject: CustomersWrite, session: DbSession, anonymize: Anonymize = False
) -> None:
    """Delete a customer found by external ID."""
    customer = await service.get_customer_by_external_id(
        session, subject.organization_id, external_id, lock=True
    )
    await service.delete_customer(session, customer, anonymize=anonymize)


@router.get("/{id}", summary="Get Customer", responses=NOT_FOUND)
async def get_customer(id: uuid.UUID, subject: CustomersRead, session: DbSession) -> Customer:
    """Get a customer by ID."""
    return customer_schema(await service.get_customer(session, subject.organization_id, id))


@router.patch("/{id}", summary="Update Customer", responses=NOT_FOUND)
async def update_customer(
    id: uuid.UUID, body: CustomerUpdate, subject: CustomersWrite, session: DbSession
) -> Customer:
    """Update a customer."""
    customer = await service.get_customer(session, subject.organization_id, id, lock=True)
    return customer_schema(await service.update_customer(session, customer, body))


@router.delete(
    "/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete Customer",
    responses=NOT_FOUND,
)
async def delete_customer(
    id: uuid.UUID, subject: CustomersWrite, session: DbSession, anonymize: Anonymize = False
) -> None:
    """Delete a customer. Their orders and history are kept; the customer disappears from the
    API, and its email and external ID become free again."""
    customer = await service.get_customer(session, subject.organization_id, id, lock=True)
    await service.delete_customer(session, customer, anonymize=anonymize)
