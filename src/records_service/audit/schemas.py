"""Response shapes of the audit API; hashes are lowercase hex."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from records_service.audit.checkpoint import Checkpoint
from records_service.audit.models import AuditCheckpoint
from records_service.audit.service import (
    ConsistencyProof,
    EntryFields,
    EntryView,
    InclusionProof,
)


class AuditEntryPublic(EntryFields):
    """One audit entry as recorded."""

    leaf_hash: str | None = Field(
        description="SHA-256(0x00 || canonical entry) recorded when the entry was written."
    )

    @classmethod
    def of(cls, view: EntryView) -> AuditEntryPublic:
        """Build from a service-layer entry view."""
        leaf_hash = view.leaf_hash.hex() if view.leaf_hash is not None else None
        return cls(**view.model_dump(exclude={"leaf_hash"}), leaf_hash=leaf_hash)


class CheckpointPublic(BaseModel):
    """The latest signed checkpoint: the note exactly as signed, and its parsed fields."""

    note: str = Field(description="The C2SP signed note; verify it with the public key.")
    origin: str
    tree_size: int
    root_hash: str
    timestamp: datetime | None
    key_names: list[str] = Field(description="Names of the keys that signed the note.")
    storage_key: str = Field(description="Where the write-once copy is stored.")

    @classmethod
    def of(cls, row: AuditCheckpoint, parsed: Checkpoint) -> CheckpointPublic:
        """Build from the stored row and its parsed note."""
        signatures = row.note[row.note.rindex("\n\n") + 2 :].splitlines()
        names = [line.split(" ")[1] for line in signatures if line.count(" ") >= 2]
        return cls(
            note=row.note,
            origin=parsed.origin,
            tree_size=parsed.tree_size,
            root_hash=parsed.root_hash.hex(),
            timestamp=parsed.timestamp,
            key_names=names,
            storage_key=row.storage_key,
        )


class InclusionProofPublic(BaseModel):
    """RFC 9162 inclusion proof: the audit path from the leaf up to the root."""

    index: int
    tree_size: int
    leaf_hash: str
    proof: list[str]
    root_hash: str

    @classmethod
    def of(cls, proof: InclusionProof) -> InclusionProofPublic:
        """Build from a service-layer proof."""
        return cls(
            index=proof.index,
            tree_size=proof.tree_size,
            leaf_hash=proof.leaf_hash.hex(),
            proof=[p.hex() for p in proof.path],
            root_hash=proof.root_hash.hex(),
        )


class ConsistencyProofPublic(BaseModel):
    """RFC 9162 consistency proof between two tree sizes."""

    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]

    @classmethod
    def of(cls, proof: ConsistencyProof) -> ConsistencyProofPublic:
        """Build from a service-layer proof."""
        return cls(
            first=proof.first,
            second=proof.second,
            first_root=proof.first_root.hex(),
            second_root=proof.second_root.hex(),
            proof=[p.hex() for p in proof.path],
        )


class PublicKeyPublic(BaseModel):
    """The verifier keys of the log, in C2SP ``name+keyid+base64`` form."""

    key: str = Field(description="The key that signs new checkpoints.")
    previous_keys: list[str] = Field(description="Retired keys that signed older checkpoints.")
    origin: str
