"""Changing many records at once: adding tags to them, or moving them to a contract.

Each record goes through :func:`records_service.records.service.update_record`, the
function a single edit uses, so each keeps its own history rows and gets its own
audit entry. The whole batch is one transaction: a record that cannot be changed
(not found, not visible, disposed of) refuses the batch and nothing is written.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlmodel import Session

from records_service.auth.models import User
from records_service.bounds import MAX_TAGS, Identifier, Reason, RecordIds, Tags
from records_service.clock import Clock
from records_service.contracts.service import get_contract
from records_service.errors import InvalidInput
from records_service.records.schemas import RecordUpdate
from records_service.records.service import record_tags, update_record


class BulkEdit(BaseModel):
    """One change for several records: ``tag`` adds ``tags``, ``move`` sets ``contract``."""

    model_config = ConfigDict(extra="forbid")

    record_ids: RecordIds
    action: Literal["tag", "move"]
    tags: Tags = Field(default_factory=list, description="For tag: tags to add.")
    contract: Identifier | None = Field(None, description="For move: a contract reference.")
    reason: Reason

    @model_validator(mode="after")
    def _what_the_action_needs(self) -> Self:
        if self.action == "tag" and not self.tags:
            raise ValueError("give the tags to add")
        if self.action == "move" and not (self.contract or "").strip():
            raise ValueError("give the reference of the contract to move the records to")
        return self


class BulkOutcome(BaseModel):
    """Which records changed, and which already had what was asked."""

    changed: list[str]
    unchanged: list[str]


def bulk_edit(
    session: Session,
    *,
    request: BulkEdit,
    actor: User,
    record_types: frozenset[str],
    clock: Clock,
) -> BulkOutcome:
    """Apply ``request`` to each record in it, in the caller's transaction."""
    if request.action == "move":
        assert request.contract is not None
        get_contract(session, request.contract)  # a wrong reference refuses the batch at once
    outcome = BulkOutcome(changed=[], unchanged=[])
    for record_id in dict.fromkeys(request.record_ids):
        if request.action == "tag":
            update = _with_tags(session, record_id, request)
        else:
            update = RecordUpdate(reason=request.reason, contract=request.contract)
        _, changed = update_record(
            session,
            record_id=record_id,
            data=update,
            actor=actor,
            record_types=record_types,
            clock=clock,
        )
        (outcome.changed if changed else outcome.unchanged).append(record_id)
    return outcome


def _with_tags(session: Session, record_id: str, request: BulkEdit) -> RecordUpdate:
    tags = [*record_tags(session, record_id), *request.tags]
    try:
        return RecordUpdate(reason=request.reason, tags=tags)
    except ValidationError:
        # The only check the added tags can newly fail is the number a record may have.
        raise InvalidInput(f"record {record_id} would have more than {MAX_TAGS} tags") from None
