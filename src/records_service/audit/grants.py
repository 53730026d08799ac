"""The shipped PostgreSQL grants that leave the service's role unable to alter the log.

``postgres_grants.sql`` is written for the role ``records_app``; this renders it for
the role a deployment actually uses (``records-service audit grants --role``).
"""

from __future__ import annotations

import re
from importlib import resources

from records_service.errors import InvalidInput

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def postgres_grants(role: str) -> str:
    """The shipped PostgreSQL grants script, for the service role ``role``.

    ``InvalidInput`` unless ``role`` is a plain, unquoted PostgreSQL role name: the
    name is put into SQL as it is.
    """
    if not _ROLE_NAME.fullmatch(role):
        raise InvalidInput(f"{role!r} is not a plain PostgreSQL role name")
    script = resources.files("records_service.audit").joinpath("postgres_grants.sql")
    return script.read_text(encoding="utf-8").replace("records_app", role)
