"""The e-mail extractor for .eml files (message/rfc822), via the standard library.

The text is the From, To, Cc, Date and Subject headers, a line naming every attached
file, then the text/plain body; when there is no plain body, the text/html body with
its tags stripped.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path

from records_service.extraction._budget import TextBudget, failures_as
from records_service.extraction._html_text import html_to_text
from records_service.extraction.plain import decode_text

_HEADERS = ("From", "To", "Cc", "Date", "Subject")


def extract_email(path: Path, budget: TextBudget) -> None:
    """Feed the message's main headers, attachment names and body into ``budget``."""
    with failures_as("malformed e-mail"):
        with path.open("rb") as stream:
            message = BytesParser(policy=policy.default).parse(stream)
        if not isinstance(message, EmailMessage):
            raise TypeError("parser did not return an EmailMessage")
        for name in _HEADERS:
            value = _header(message, name)
            if value and not budget.add(f"{name}: {value}"):
                return
        attachments = _attachment_names(message)
        if attachments and not budget.add("Attachments: " + ", ".join(attachments)):
            return
        budget.add(_body_text(message), separator="\n\n")


def _header(message: EmailMessage, name: str) -> str:
    """The decoded header, or its raw text when it is too malformed to parse."""
    try:
        value = message.get(name)
    except Exception:  # the email package can raise on malformed address headers
        value = next((raw for key, raw in message.raw_items() if key.lower() == name.lower()), "")
    return " ".join(str(value or "").split())


def _attachment_names(message: EmailMessage) -> list[str]:
    names = []
    for part in message.walk():
        filename = part.get_filename()
        if filename and part is not message:
            names.append(" ".join(filename.split()))
    return names


def _body_text(message: EmailMessage) -> str:
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None:
        return _part_text(plain)
    html = message.get_body(preferencelist=("html",))
    if html is not None:
        return html_to_text(_part_text(html))
    return ""


def _part_text(part: Message) -> str:
    """The decoded text of a body part, tolerating a wrong or unknown charset."""
    if isinstance(part, EmailMessage):
        try:
            content = part.get_content()
        except (LookupError, UnicodeError, ValueError):
            content = None
        if isinstance(content, str):
            return content.replace("\r\n", "\n")
    payload = part.get_payload(decode=True)
    return decode_text(payload) if isinstance(payload, bytes) else ""
