"""The Outlook message extractor for .msg files (application/vnd.ms-outlook), via extract-msg.

The text is laid out as the .eml extractor's: the From, To, Cc, Date and Subject
headers, a line naming every attached file, then the plain body; when the message has
no plain body, its HTML body with the tags stripped. Other Outlook items saved as .msg
(appointments, tasks) give what they have of the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from records_service.extraction._budget import TextBudget, failures_as
from records_service.extraction._html_text import html_to_text
from records_service.extraction.plain import decode_text

_HEADERS = (
    ("From", "sender"),
    ("To", "to"),
    ("Cc", "cc"),
    ("Date", "date"),
    ("Subject", "subject"),
)


@contextmanager
def open_message(path: Path) -> Iterator[Any]:
    """The Outlook item in the file at ``path``, closed afterwards.

    Raises whatever extract-msg raises for a file that is not a readable message.
    """
    import extract_msg

    message = extract_msg.openMsg(str(path), strict=False)
    try:
        yield message
    finally:
        message.close()


def extract_outlook_message(path: Path, budget: TextBudget) -> None:
    """Feed the message's main headers, attachment names and body into ``budget``."""
    with failures_as("malformed Outlook message"), open_message(path) as message:
        for name, attribute in _HEADERS:
            value = " ".join(str(getattr(message, attribute, None) or "").split())
            if value and not budget.add(f"{name}: {value}"):
                return
        names = [name for name, _ in attachment_files(message)]
        names += [name for name, _ in attached_messages(message)]
        if names and not budget.add("Attachments: " + ", ".join(names)):
            return
        budget.add(_body_text(message), separator="\n\n")


def attachment_files(message: Any) -> list[tuple[str, Any]]:
    """``(file name, attachment)`` for every file attached by value.

    Attachments that are other Outlook items (an embedded message: see
    :func:`attached_messages`) or links to files elsewhere have no bytes of their own
    here, and hidden ones (pictures inside the HTML body) are part of the body: neither
    is listed.
    """
    files = []
    for attachment in getattr(message, "attachments", None) or []:
        if getattr(attachment, "hidden", False) or not isinstance(attachment.data, bytes):
            continue
        name = attachment.longFilename or attachment.shortFilename or attachment.displayName
        files.append((" ".join(str(name or "").split()), attachment))
    return files


def attached_messages(message: Any) -> list[tuple[str, Any]]:
    """``(file name, attachment)`` for every Outlook item attached whole (a forwarded
    message, say), named after its display name (its subject, as Outlook shows it)
    with ``.msg``; :func:`embedded_bytes` makes it a .msg file of its own."""
    found = []
    for attachment in getattr(message, "attachments", None) or []:
        if getattr(attachment, "hidden", False) or not _is_message(attachment.data):
            continue
        name = " ".join(str(attachment.displayName or attachment.longFilename or "").split())
        if name and not name.lower().endswith(".msg"):
            name = f"{name}.msg"
        found.append((name, attachment))
    return found


def embedded_bytes(attachment: Any) -> bytes:
    """The Outlook item attached whole as a standalone .msg file (extract-msg writes it
    out as a compound file of its own). Raises what extract-msg raises."""
    data: bytes = attachment.data.exportBytes()
    return data


def _is_message(data: object) -> bool:
    from extract_msg.msg_classes.msg import MSGFile

    return isinstance(data, MSGFile)


def _body_text(message: Any) -> str:
    body = getattr(message, "body", None)
    if isinstance(body, str) and body.strip():
        return body.replace("\r\n", "\n").replace("\x00", "")
    html = getattr(message, "htmlBody", None)
    if isinstance(html, bytes):
        return html_to_text(decode_text(html))
    return ""
