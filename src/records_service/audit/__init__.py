"""The tamper-evident audit log: Merkle tree, signed checkpoints and offline bundles.

Re-exports the pure core; database-backed parts live in their own modules.
"""

from records_service.audit.bundle import BundleReport, verify_bundle, write_bundle
from records_service.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    VerifierKey,
    generate_signing_key,
    load_private_key,
    open_checkpoint,
    parse_verifier_key,
    public_key_text,
    save_private_key,
    sign_checkpoint,
    sign_note,
    verify_note,
)
from records_service.audit.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    NodeReader,
    RootAccumulator,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    new_nodes_for_leaf,
    node_hash,
    root,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "BundleReport",
    "Checkpoint",
    "CheckpointError",
    "MemoryNodeStore",
    "NodeReader",
    "RootAccumulator",
    "VerifierKey",
    "consistency_proof",
    "generate_signing_key",
    "inclusion_proof",
    "leaf_hash",
    "load_private_key",
    "new_nodes_for_leaf",
    "node_hash",
    "open_checkpoint",
    "parse_verifier_key",
    "public_key_text",
    "root",
    "root_from_leaf_hashes",
    "save_private_key",
    "sign_checkpoint",
    "sign_note",
    "verify_bundle",
    "verify_consistency",
    "verify_inclusion",
    "verify_note",
    "write_bundle",
]
