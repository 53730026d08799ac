"""Every web page route, grouped by area; all share the CSRF check on unsafe methods.

Order matters where paths overlap: the contract forms (``/contracts/new``,
``/contracts/{ref}/edit``) and known-gap forms (``/contracts/{ref}/gaps``) come before
the contract page, whose reference may contain a slash.
"""

from fastapi import APIRouter, Depends

from records_service.web.csrf import check_csrf
from records_service.web.pages import (
    account,
    admin,
    audit,
    contract_forms,
    contract_gaps,
    contracts,
    dashboard,
    disposal_approval,
    imports,
    login,
    money_forms,
    record_edit,
    record_list,
    records,
    reports,
    retention,
    search,
    transparency,
    upload,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
for _area in (
    login,
    account,
    dashboard,
    upload,
    search,
    record_list,
    records,
    record_edit,
    contract_forms,
    money_forms,
    contract_gaps,
    contracts,
    retention,
    disposal_approval,
    transparency,
    reports,
    audit,
    imports,
    admin,
):
    router.include_router(_area.router)

__all__ = ["router"]
