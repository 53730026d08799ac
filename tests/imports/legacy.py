"""Legacy trees for the import tests: folders named as a shared drive names them, a
PDF with its own creation date, a Word document, e-mails, duplicates and junk."""

from __future__ import annotations

import io
from pathlib import Path

from click.testing import CliRunner, Result
from pypdf import PdfWriter

from records_service.cli import main
from records_service.settings import Settings

FIXTURES = Path(__file__).parents[1] / "fixtures"
HELPLINE = "Commissioning/2016-17/Victim Services/Helpline"
CONTRACT = "OPCC-2016-007"

MAPPING = """\
[defaults]
record_date = ["@metadata", "@modified"]
tags = ["legacy-import"]

[[rule]]
glob = "**/Thumbs.db"
skip = true

[[rule]]
regex = '''Commissioning/(?P<fy>\\d{4})-\\d\\d/Victim Services/Helpline/Monitoring/\
(?P<q>Q[1-4])[^/]*\\.pdf'''
contract = "OPCC-2016-007"
record_type = "monitoring_return"
record_date = ["@metadata", "{fy}-04-01"]
title = "Helpline monitoring return {q} {fy}"
tags = ["helpline", "fy-{fy}"]

[[rule]]
glob = "Commissioning/*/Victim Services/Helpline/*"
contract = "OPCC-2016-007"
record_type = "correspondence"
title = ["@metadata", "{stem}"]
"""


def pdf_bytes(created: str | None, text: str = "") -> bytes:
    """A one-page PDF; ``created`` (``YYYYMMDD``) is its CreationDate, ``text`` makes
    it unique."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    metadata = {"/Title": text or "blank"}
    if created:
        metadata["/CreationDate"] = f"D:{created}120000Z"
    writer.add_metadata(metadata)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write(root: Path, path: str, content: bytes) -> Path:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return target


def legacy_tree(root: Path) -> dict[str, str]:
    """A small legacy tree under ``root``; returns each path's expected outcome."""
    q2 = pdf_bytes("20161005", "Q2")
    write(root, f"{HELPLINE}/Monitoring/Q2 return.pdf", q2)
    write(root, f"{HELPLINE}/Monitoring/Q2 return (copy).pdf", q2)
    write(root, f"{HELPLINE}/Monitoring/Q3 return.pdf", pdf_bytes(None, "Q3"))
    write(root, f"{HELPLINE}/plan.docx", (FIXTURES / "commissioning-plan.docx").read_bytes())
    write(root, f"{HELPLINE}/referral.eml", (FIXTURES / "helpline-referral.eml").read_bytes())
    write(root, f"{HELPLINE}/empty.txt", b"")
    write(root, "Commissioning/Thumbs.db", b"\x00thumbs")
    write(root, "Personal/holiday.txt", b"not a record\n")
    return {
        f"{HELPLINE}/Monitoring/Q2 return (copy).pdf": "captured",
        f"{HELPLINE}/Monitoring/Q2 return.pdf": "duplicate",
        f"{HELPLINE}/Monitoring/Q3 return.pdf": "captured",
        f"{HELPLINE}/empty.txt": "failed",
        f"{HELPLINE}/plan.docx": "captured",
        f"{HELPLINE}/referral.eml": "captured",
        "Commissioning/Thumbs.db": "skipped",
        "Personal/holiday.txt": "unmatched",
    }


def run_import(settings: Settings, *args: str) -> Result:
    """``records-service import ...`` in this process, on ``settings``' database."""
    env = {
        "RECORDS_DATA_DIR": str(settings.data_dir),
        "RECORDS_DATABASE_URL": settings.resolved_database_url,
        "RECORDS_MAX_UPLOAD_BYTES": str(settings.max_upload_bytes),
    }
    return CliRunner().invoke(main, ["import", *args, "--quiet"], env=env)
