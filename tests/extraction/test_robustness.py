"""Nothing raises: every sample read as every type, and damaged copies of the samples.

The damaged copies come from a seeded generator, so every run tests the same files.
Unexpected errors are caught by a safety net in the registry and reported as
"unexpected error"; these tests also prove the extractors never need that net.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from records_service.extraction import ExtractionLimits, ExtractionResult, supported_media_types
from records_service.extraction.registry import extract_in_process

SAMPLES = [
    "victim-services.pdf",
    "encrypted.pdf",
    "corrupt.pdf",
    "commissioning-plan.docx",
    "helpline-referral.eml",
    "monitoring-return.eml",
    "referrals.csv",
    "grant-note-cp1252.txt",
]
LIMITS = ExtractionLimits(max_seconds=10)


def _assert_well_formed(result: ExtractionResult) -> None:
    assert isinstance(result, ExtractionResult)
    assert result.status in ("extracted", "empty", "failed")
    if result.status == "failed":
        assert result.reason
        assert not result.reason.startswith("unexpected error"), result.reason
        assert result.text == ""
    else:
        assert result.reason is None
    if result.status == "extracted":
        assert result.text.strip()


@pytest.mark.parametrize("media_type", sorted(supported_media_types()))
@pytest.mark.parametrize("name", SAMPLES)
def test_any_sample_as_any_type_never_raises(sample: Path, name: str, media_type: str) -> None:
    _assert_well_formed(extract_in_process(sample / name, media_type, LIMITS))


def _damaged_copies(original: bytes, seed: int, count: int) -> list[bytes]:
    generator = random.Random(seed)
    copies = []
    for _ in range(count):
        data = bytearray(original)
        if generator.random() < 0.3:
            data = data[: generator.randrange(1, len(data))]
        for _ in range(generator.randrange(1, 20)):
            data[generator.randrange(len(data))] = generator.randrange(256)
        copies.append(bytes(data))
    return copies


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("victim-services.pdf", "application/pdf"),
        ("three-pages.pdf", "application/pdf"),
        (
            "commissioning-plan.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("helpline-referral.eml", "message/rfc822"),
        ("monitoring-return.eml", "message/rfc822"),
    ],
)
def test_damaged_documents_never_raise(
    sample: Path, tmp_path: Path, name: str, media_type: str
) -> None:
    original = (sample / name).read_bytes()
    for number, damaged in enumerate(_damaged_copies(original, seed=len(name), count=40)):
        path = tmp_path / f"{number}-{name}"
        path.write_bytes(damaged)
        _assert_well_formed(extract_in_process(path, media_type, LIMITS))


def test_random_bytes_never_raise(tmp_path: Path) -> None:
    generator = random.Random(2024)
    for number in range(20):
        path = tmp_path / f"noise-{number}"
        path.write_bytes(generator.randbytes(generator.randrange(0, 4096)))
        for media_type in supported_media_types():
            _assert_well_formed(extract_in_process(path, media_type, LIMITS))
