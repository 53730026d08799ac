"""The search page: query box with the syntax explained, filters, facets, highlighted
snippets, pagination and an all-versions toggle. The form is a GET, so every search
state has its own address that can be bookmarked or shared.

Searches go through :func:`records_service.search.service.search_records`, which
applies the user's visibility and records the search in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from records_service.bounds import Identifier, PageNumber, SearchText
from records_service.errors import ServiceUnavailable
from records_service.indexing.base import SearchQuery, SearchResult
from records_service.runtime.requests import ServicesDep
from records_service.search.service import InvalidQuery, search_records
from records_service.web.deps import SignedInUser
from records_service.web.pages._forms import (
    DATE_PARTS,
    date_parts,
    filter_day,
    known_classification,
    read_date,
)
from records_service.web.pages._listing import Chip, chip_without, filter_chips
from records_service.web.pages._rows import type_choices, type_label
from records_service.web.rendering import render

router = APIRouter()

PAGE_SIZE = 20


@dataclass(frozen=True)
class FacetLink:
    """One facet value: its label, count, the address that applies it, and whether it is on."""

    label: str
    count: int
    href: str
    active: bool


def _url(params: list[tuple[str, str]], **changes: str | None) -> str:
    """This search's address with ``changes`` applied (``None`` removes a parameter)."""
    kept = [(k, v) for k, v in params if k not in changes and k != "page" and v != ""]
    kept += [(k, v) for k, v in changes.items() if v is not None]
    return "/search?" + urlencode(kept)


def _facets(
    result: SearchResult, params: list[tuple[str, str]], services: ServicesDep
) -> dict[str, list[FacetLink]]:
    current = dict(params)
    links: dict[str, list[FacetLink]] = {}
    types = result.facets.get("record_type", {})
    links["Record type"] = [
        FacetLink(
            type_label(services.schedule, key),
            n,
            _url(params, record_type=key),
            current.get("record_type") == key,
        )
        for key, n in sorted(types.items(), key=lambda item: -item[1])
    ]
    contracts = result.facets.get("contract", {})
    links["Contract"] = [
        FacetLink(ref, n, _url(params, contract=ref), current.get("contract") == ref)
        for ref, n in sorted(contracts.items(), key=lambda item: -item[1])
    ]
    years = result.facets.get("year", {})
    links["Year"] = [
        FacetLink(
            year,
            n,
            _url(params, date_from=f"{year}-01-01", date_to=f"{year}-12-31"),
            current.get("date_from") == f"{year}-01-01",
        )
        for year, n in sorted(years.items(), reverse=True)
    ]
    return {name: items for name, items in links.items() if items}


def _pages(result: SearchResult, params: list[tuple[str, str]]) -> dict[str, Any]:
    last = max(1, -(-result.total // result.page_size))

    def link(number: int) -> str:
        return _url(params, page=str(number))

    return {
        "page": result.page,
        "last": last,
        "total": result.total,
        "previous": link(result.page - 1) if result.page > 1 else None,
        "next": link(result.page + 1) if result.page < last else None,
    }


@dataclass(frozen=True)
class SearchForm:
    """The search form's values as typed; blank fields mean no filter."""

    q: str = ""
    contract: str = ""
    record_type: str = ""
    tag: str = ""
    date_from: str = ""
    date_to: str = ""
    classification: str = ""
    all_versions: bool = False
    sort: Literal["relevance", "date"] = "relevance"
    page: int = 1

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing to search for (no words and no filter)."""
        fields = (self.q, self.contract, self.record_type, self.tag, self.date_from, self.date_to)
        return not any(value.strip() for value in fields)

    def to_query(self, errors: dict[str, str]) -> SearchQuery:
        """The index query; unreadable dates are noted in ``errors``."""
        tag = self.tag.strip().lower()
        return SearchQuery(
            text=self.q.strip(),
            contract_ref=self.contract.strip() or None,
            record_types=(self.record_type,) if self.record_type else (),
            tags=(tag,) if tag else (),
            date_from=filter_day(self.date_from, "date_from", errors),
            date_to=filter_day(self.date_to, "date_to", errors),
            classification=known_classification(self.classification),
            all_versions=self.all_versions,
            sort=self.sort,
            page=self.page,
            page_size=PAGE_SIZE,
        )


_DATE_LABELS = {"date_from": "Dated from", "date_to": "Dated to"}


def _dates(
    given: dict[str, str], errors: dict[str, str], wrong: dict[str, tuple[str, ...]]
) -> dict[str, str]:
    """Each date filter as ``YYYY-MM-DD`` (blank for none), from its three boxes or from
    the one value a facet link carries; what cannot be read is noted per field."""
    days: dict[str, str] = {}
    for name, label in _DATE_LABELS.items():
        entry = read_date(given, name, label)
        if entry.error:
            errors[name], wrong[name] = entry.error, entry.wrong
        days[name] = entry.day.isoformat() if entry.day else ""
    return days


def _one_value_dates(params: list[tuple[str, str]], days: dict[str, str]) -> list[tuple[str, str]]:
    """The search's parameters with each date as one value, for its links (facets, pages)."""
    boxes = {f"{name}_{part}" for name in days for part in DATE_PARTS} | set(days)
    kept = [(k, v) for k, v in params if k not in boxes]
    return kept + [(name, day) for name, day in days.items() if day]


def _with_date_boxes(form: dict[str, str], days: dict[str, str]) -> dict[str, str]:
    """The form's values, with a date given as one value (a facet link) in its boxes."""
    for name, day in days.items():
        if day and name in form and not form.get(f"{name}_day"):
            form |= date_parts(name, date.fromisoformat(day))
    return form


SEARCH_FILTERS = {"contract": "Contract", "record_type": "Record type", "tag": "Tag"}


def _chips(params: list[tuple[str, str]], types: dict[str, str]) -> list[Chip]:
    """A removable chip for each filter narrowing this search (the words stay)."""
    given = dict(params)
    chips = filter_chips("/search", given, SEARCH_FILTERS, {"record_type": types})
    for name, label in _DATE_LABELS.items():
        if given.get(name):
            day = date.fromisoformat(given[name])
            chips.append(chip_without("/search", given, (name,), f"{label}: {day:%-d %B %Y}"))
    if given.get("all_versions") in ("true", "1", "on"):
        chips.append(chip_without("/search", given, ("all_versions",), "Earlier versions included"))
    return chips


@router.get("/search")
def search_page(
    request: Request,
    services: ServicesDep,
    user: SignedInUser,
    q: Annotated[SearchText, Query()] = "",
    contract: Identifier = "",
    record_type: Identifier = "",
    tag: Identifier = "",
    date_from: Identifier = "",
    date_to: Identifier = "",
    date_from_day: Identifier = "",
    date_from_month: Identifier = "",
    date_from_year: Identifier = "",
    date_to_day: Identifier = "",
    date_to_month: Identifier = "",
    date_to_year: Identifier = "",
    classification: Identifier = "",
    all_versions: bool = False,
    sort: Literal["relevance", "date"] = "relevance",
    page: Annotated[PageNumber, Query(le=10_000)] = 1,
) -> Response:
    """Search records; with no query and no filter, show the form and how to search."""
    given = [(k, v) for k, v in request.query_params.multi_items() if v != ""]
    errors: dict[str, str] = {}
    wrong: dict[str, tuple[str, ...]] = {}
    days = _dates(dict(given), errors, wrong)
    params = given if errors else _one_value_dates(given, days)
    form = SearchForm(
        q, contract, record_type, tag, days["date_from"], days["date_to"], classification,
        all_versions, sort, page,
    )  # fmt: skip
    query = form.to_query(errors)
    context: dict[str, Any] = {
        "form": _with_date_boxes(dict(params), days),
        "date_wrong": wrong,
        "record_types": type_choices(services.schedule),
        "type_labels": dict(type_choices(services.schedule)),
        "result": None,
        "searched": not form.is_empty,
        "clear_filters": "/search?" + urlencode({"q": q}) if q else "/search",
        "errors": errors,
    }
    if errors or form.is_empty:
        return render(
            request, "search.html", context, user=user, status_code=422 if errors else 200
        )
    if services.index is None:
        raise ServiceUnavailable("the search index is not open; try again shortly")
    try:
        result = search_records(
            engine=services.engine,
            index=services.index,
            query=query,
            actor=user,
            clock=services.clock,
        )
    except InvalidQuery as exc:
        context["errors"] = {"q": exc.detail[:1].upper() + exc.detail[1:]}
        return render(request, "search.html", context, user=user, status_code=422)
    context |= {
        "result": result,
        "facets": _facets(result, params, services),
        "pages": _pages(result, params),
        "chips": _chips(params, dict(type_choices(services.schedule))),
    }
    return render(request, "search.html", context, user=user)
