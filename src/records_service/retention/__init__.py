"""Retention: the schedule (as data), pure retention policy and completeness checks.

Re-exports the package's public API; the job, holds and dispositions build on it.
"""

from records_service.retention.completeness import Gap, RecordSummary, evaluate_contract
from records_service.retention.policy import (
    ContractFacts,
    Decision,
    RecordFacts,
    RetentionDate,
    disposal_decision,
    retain_until,
)
from records_service.retention.schedule import (
    STAGES,
    RecordTypeRule,
    RetentionSchedule,
    ScheduleError,
    UnknownRecordType,
    default_schedule_path,
    load_schedule,
    parse_schedule,
)

__all__ = [
    "STAGES",
    "ContractFacts",
    "Decision",
    "Gap",
    "RecordFacts",
    "RecordSummary",
    "RecordTypeRule",
    "RetentionDate",
    "RetentionSchedule",
    "ScheduleError",
    "UnknownRecordType",
    "default_schedule_path",
    "disposal_decision",
    "evaluate_contract",
    "load_schedule",
    "parse_schedule",
    "retain_until",
]
