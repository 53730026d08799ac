"""Running the retention job in a test as the service itself runs it (as ``system``)."""

from __future__ import annotations

from typing import Any

from records_service.retention.job import RunReport, run_as_system
from records_service.runtime.services import Services


def run_retention_as_system(services: Services, **options: Any) -> RunReport:
    """One run on ``services``' database, store, schedule and clock; ``options`` as
    :func:`~records_service.retention.job.run_as_system` takes them."""
    return run_as_system(
        services.engine,
        services.store,
        services.schedule,
        services.settings,
        services.clock,
        **options,
    )
