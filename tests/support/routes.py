"""The app's route table as tests need it: every path, its methods and its dependencies.

FastAPI keeps included routers as branches (``_IncludedRouter``), so ``app.routes`` no
longer lists every operation; :func:`operations` flattens them with the prefixes
applied, through FastAPI's own ``iter_route_contexts``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts


@dataclass(frozen=True)
class Operation:
    """One routed path with its methods and the dependency tree its handler runs."""

    path: str
    methods: frozenset[str]
    dependant: Dependant


def operations(app: FastAPI) -> list[Operation]:
    """Every route of ``app`` that runs FastAPI dependencies (API routes and web pages)."""
    found = []
    for context in iter_route_contexts(app.routes):
        dependant = getattr(context, "dependant", None)
        if isinstance(dependant, Dependant) and context.path is not None:
            methods = frozenset(context.methods or ())
            found.append(Operation(context.path, methods, dependant))
    return found
