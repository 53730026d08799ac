"""The files attached to an e-mail message (.eml or Outlook .msg), one by one.

Used by the records domain to make each attachment a record of its own. The parts are
read in the calling process (the background worker), not in the extraction worker, as
they must reach the blob store: both parsers are pure Python, and the message's size is
already bounded by the upload limit. At most ``MAX_PARTS`` attachments are taken from
one message. A message that cannot be parsed raises ``UnreadableMessage``.

Which parts count as attachments: in an .eml, every part with a file name except the
message itself, without descending into an attached message (that message becomes one
record, whose own attachments are then taken in turn); a whole attached message
without a file name counts too. In a .msg, every file attached by value that is not
hidden (see :func:`records_service.extraction.msg.attachment_files`), then every
Outlook item attached whole, written out as a .msg file of its own (its attachments
are taken in turn when it is captured). The files come first so that their places
among the parts are those they had before attached items were taken. Parts without
bytes (an attached item that cannot be written out) are passed over.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from records_service.extraction import media_types
from records_service.extraction._budget import describe
from records_service.extraction.msg import (
    attached_messages,
    attachment_files,
    embedded_bytes,
    open_message,
)

log = logging.getLogger(__name__)

MAX_PARTS = 200
"""Attachments taken from one message at most."""


class UnreadableMessage(Exception):
    """The message cannot be parsed; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MessagePart:
    """One attached file: its place among the message's attachments, name and bytes."""

    position: int
    filename: str
    data: bytes


def message_parts(path: Path, media_type: str) -> Iterator[MessagePart]:
    """The attachments of the message at ``path`` (``message/rfc822`` or Outlook)."""
    kind = media_types.normalise(media_type)
    if kind == media_types.EMAIL:
        yield from _numbered(_email_parts(path))
    elif kind == media_types.OUTLOOK_MSG:
        yield from _numbered(_outlook_parts(path))


def _numbered(found: Iterator[tuple[str, bytes]]) -> Iterator[MessagePart]:
    for position, (filename, data) in enumerate(found):
        if position >= MAX_PARTS:
            return
        if data:
            yield MessagePart(position, filename, data)


def _email_parts(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
        with path.open("rb") as stream:
            message = BytesParser(policy=policy.default).parse(stream)
        # Listed whole, so a part that breaks the parser half-way cannot leave the
        # caller with some attachments and an exception.
        found = list(_attached(message, top=True))
    except Exception as exc:  # the email package raises assorted errors on hostile input
        raise UnreadableMessage(f"malformed e-mail ({describe(exc)})") from exc
    yield from found


def _attached(part: Message, *, top: bool = False) -> Iterator[tuple[str, bytes]]:
    """The attachments under ``part``, in order, not descending into attached messages."""
    filename = None if top else part.get_filename()
    if not top and (filename or part.get_content_type() == "message/rfc822"):
        yield " ".join((filename or "").split()), _payload(part)
        return
    if part.is_multipart():
        for child in part.iter_parts() if isinstance(part, EmailMessage) else []:
            yield from _attached(child)


def _payload(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        message = inner[0] if isinstance(inner, list) and inner else None
        return message.as_bytes() if isinstance(message, Message) else b""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _outlook_parts(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
        with open_message(path) as message:
            files = [(name, attachment.data) for name, attachment in attachment_files(message)]
            files += [(name, _embedded(item)) for name, item in attached_messages(message)]
    except Exception as exc:  # extract-msg and olefile raise assorted errors
        raise UnreadableMessage(f"malformed Outlook message ({describe(exc)})") from exc
    yield from files


def _embedded(attachment: Any) -> bytes:
    """An attached Outlook item as a .msg file, or nothing (it keeps its place, and is
    passed over) when extract-msg cannot write it out."""
    try:
        return embedded_bytes(attachment)
    except Exception as exc:  # extract-msg raises assorted errors on damaged items
        log.warning("an attached Outlook item cannot be written out: %s", describe(exc))
        return b""
