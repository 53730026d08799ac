"""The complete table metadata for Alembic: every domain's models, gathered in one place.

Read by ``env.py`` (autogenerate) and by the test that the migrations build exactly
these tables. The API's request and response shapes are the ``schemas`` modules of
each domain package; this module is about database tables only.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlmodel import SQLModel

from records_service.audit import models as _audit_models
from records_service.auth import models as _auth_models
from records_service.contracts import models as _contract_models
from records_service.finance import models as _finance_models
from records_service.imports import models as _import_models
from records_service.notes import models as _note_models
from records_service.records import models as _record_models
from records_service.retention import models as _retention_models
from records_service.transparency import models as _transparency_models

MODEL_MODULES = (
    _auth_models,
    _contract_models,
    _record_models,
    _audit_models,
    _retention_models,
    _import_models,
    _finance_models,
    _transparency_models,
    _note_models,
)


def metadata() -> MetaData:
    """The metadata holding every table of the service."""
    return SQLModel.metadata
