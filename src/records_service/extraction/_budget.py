"""The budget one extraction runs under, and the failure every extractor raises.

Extractors feed text into a ``TextBudget`` piece by piece; the budget stops collecting
at ``max_chars`` and checks the cooperative deadline between pieces. Any failure an
extractor knows how to describe is an ``ExtractionFailure`` with a short reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from records_service.extraction.model import ExtractionLimits

MonotonicClock = Callable[[], float]
_MAX_DETAIL_CHARS = 160


class ExtractionFailure(Exception):
    """The document cannot be read; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DeadlineExceeded(ExtractionFailure):
    """The cooperative time budget ran out between two pieces of work."""


class TextBudget:
    """Collects extracted text up to ``max_chars`` before ``max_seconds`` run out."""

    def __init__(self, limits: ExtractionLimits, clock: MonotonicClock = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._deadline = clock() + limits.max_seconds
        self._parts: list[str] = []
        self._remaining = limits.max_chars
        self.ocr_pages = 0
        """Pages or images whose text was recognised by OCR and added."""
        self.ocr_attempts = 0
        """Pages or images sent to OCR (``max_ocr_pages`` bounds them)."""

    @property
    def full(self) -> bool:
        """Whether ``max_chars`` have been collected, so further work is wasted."""
        return self._remaining <= 0

    def check_time(self) -> None:
        """Raise ``DeadlineExceeded`` once the wall-clock budget is spent."""
        if self._clock() > self._deadline:
            raise DeadlineExceeded(f"time limit of {self.limits.max_seconds:g} s exceeded")

    def add(self, piece: str, separator: str = "\n") -> bool:
        """Append ``piece`` (truncated to what is left); return False once full.

        The time budget is checked first, so every extractor that feeds the budget per
        page, paragraph or chunk gets the deadline for free.
        """
        self.check_time()
        if self.full:
            return False
        if self._parts and separator:
            self._take(separator)
        self._take(piece)
        return not self.full

    def seconds_left(self) -> float:
        """Time left before the deadline (never negative)."""
        return max(0.0, self._deadline - self._clock())

    def add_recognised(self, piece: str) -> bool:
        """``add`` for text recognised by OCR, counted in ``ocr_pages`` when not blank."""
        if piece.strip():
            self.ocr_pages += 1
            return self.add(piece)
        return not self.full

    def text(self) -> str:
        """Everything collected so far."""
        return "".join(self._parts)

    def _take(self, piece: str) -> None:
        kept = _storable(piece)[: self._remaining]
        self._parts.append(kept)
        self._remaining -= len(kept)


def _storable(piece: str) -> str:
    """Drop what a database or a UTF-8 encoder would reject: NULs and lone surrogates."""
    piece = piece.replace("\x00", "")
    try:
        piece.encode("utf-8")
    except UnicodeEncodeError:
        piece = piece.encode("utf-8", errors="replace").decode("utf-8")
    return piece


def describe(exc: BaseException) -> str:
    """A one-line, bounded description of an exception for a failure reason."""
    detail = " ".join(str(exc).split())
    if len(detail) > _MAX_DETAIL_CHARS:
        detail = detail[: _MAX_DETAIL_CHARS - 1] + "…"
    name = type(exc).__name__
    return f"{name}: {detail}" if detail else name


@contextmanager
def failures_as(prefix: str) -> Iterator[None]:
    """Turn any exception from a third-party parser into an ``ExtractionFailure``.

    Parsers raise arbitrary exception types on hostile input (``KeyError``,
    ``struct.error``, ``RecursionError``...), so a broad catch at this boundary is the
    only way to keep the promise that extraction never raises.
    """
    try:
        yield
    except ExtractionFailure:
        raise
    except Exception as exc:
        raise ExtractionFailure(f"{prefix} ({describe(exc)})") from exc
