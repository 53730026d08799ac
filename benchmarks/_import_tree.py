"""The generated legacy tree of the import benchmark and its mapping file.

A shared drive's layout (``Commissioning/<year>/<area>/<service>/<kind>/...``) holding
PDFs, Word documents, text notes and e-mails in the proportions 40/20/20/20, sized
around a mean so that the tree holds about the bytes asked for, with one file in ten
a byte-for-byte copy of an earlier one under another name. Everything is seeded, so
the same arguments always make the same tree.
"""

from __future__ import annotations

import io
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.capture import make_pdf

SEED = 20161005
CONTRACT_REF = "OPCC-IMPORT-001"
FIXTURE_DOCX = (
    Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "commissioning-plan.docx"
)
YEARS = ("2015-16", "2016-17", "2017-18", "2018-19", "2019-20", "2020-21")
SERVICES = ("Helpline", "Advocacy", "Refuge", "Counselling")
KINDS = (
    ("Monitoring", "pdf"),
    ("Contract", "pdf"),
    ("Contract", "docx"),
    ("Notes", "txt"),
    ("Mail", "eml"),
    ("Mail", "eml"),
    ("Monitoring", "pdf"),
    ("Notes", "docx"),
    ("Notes", "txt"),
    ("Monitoring", "pdf"),
)
# The vocabulary of the generated text.
WORDS = (
    "contract provider helpline referral quarter victim service grant outcome review",
    "commissioner performance advocate funding assessment evidence safeguarding",
)
_VOCABULARY = [word for line in WORDS for word in line.split(" ")]

MAPPING = f"""\
[defaults]
contract = "{CONTRACT_REF}"
tags = ["legacy-import"]

[[rule]]
regex = '''Commissioning/(?P<fy>\\d{{4}})-\\d\\d/Victim Services/\
(?P<service>[^/]+)/Monitoring/[^/]+\\.pdf'''
record_type = "monitoring_return"
record_date = ["@metadata", "{{fy}}-07-01"]
title = "{{service}} monitoring {{stem}}"
tags = ["{{service}}", "fy-{{fy}}"]

[[rule]]
regex = '''Commissioning/(?P<fy>\\d{{4}})-\\d\\d/Victim Services/\
(?P<service>[^/]+)/Contract/[^/]+'''
record_type = "contract"
record_date = ["@metadata", "{{fy}}-04-01"]
tags = ["{{service}}"]

[[rule]]
regex = '''Commissioning/(?P<fy>\\d{{4}})-\\d\\d/Victim Services/\
(?P<service>[^/]+)/(Mail|Notes)/[^/]+'''
record_type = "correspondence"
record_date = ["@metadata", "{{fy}}-10-01"]
title = ["@metadata", "{{stem}}"]
tags = ["{{service}}"]
"""


@dataclass(frozen=True)
class Tree:
    """A generated tree: its root, how many files and bytes, how many are copies."""

    root: Path
    files: int
    size: int
    duplicates: int


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(_VOCABULARY) for _ in range(count))


def _docx(rng: random.Random, size: int, title: str) -> bytes:
    """The fixture's Word document with its own text and title and a stored part of
    seeded noise (as embedded images are) to reach ``size``."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(FIXTURE_DOCX) as base,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new,
    ):
        for item in base.infolist():
            data = base.read(item)
            if item.filename == "word/document.xml":
                data = data.replace(
                    b"</w:body>",
                    f"<w:p><w:r><w:t>{_words(rng, 60)}</w:t></w:r></w:p></w:body>".encode(),
                )
            if item.filename == "docProps/core.xml":
                data = data.replace(b"Commissioning plan", title.encode())
            new.writestr(item, data)
        new.writestr(
            zipfile.ZipInfo("word/media/scan.bin"),
            rng.randbytes(max(size - 40_000, 1)),
            zipfile.ZIP_STORED,
        )
    return out.getvalue()


def _email(rng: random.Random, size: int, index: int) -> bytes:
    day = rng.randint(1, 28)
    body = "\n".join(_words(rng, 12) for _ in range(max(size // 90, 1)))
    return (
        f"From: provider{index % 7}@example.org\nTo: commissioning@example.gov.uk\n"
        f"Subject: Referral figures {index}\nDate: Mon, {day:02d} Jun 2019 10:00:00 +0100\n"
        f"Message-ID: <{index}@example.org>\n\n{body}\n"
    ).encode()


def _content(rng: random.Random, kind: str, size: int, index: int, title: str) -> bytes:
    if kind == "pdf":
        return make_pdf(size, seed=SEED + index)
    if kind == "docx":
        return _docx(rng, size, title)
    if kind == "eml":
        return _email(rng, size, index)
    return "\n".join(_words(rng, 12) for _ in range(max(size // 90, 1))).encode()


def _size(rng: random.Random, mean: int) -> int:
    """Sizes spread from a tenth to twice the mean (PDFs need about 20 KB at least)."""
    return max(int(rng.uniform(0.1, 1.9) * mean), 24_000)


def make_tree(root: Path, files: int, total_bytes: int) -> Tree:
    """Write ``files`` files of about ``total_bytes`` under ``root``; 10% are copies."""
    rng = random.Random(SEED)
    unique = files - files // 10
    mean = total_bytes // files
    written: list[Path] = []
    size = 0
    for index in range(unique):
        folder, ext = KINDS[index % len(KINDS)]
        year, service = YEARS[index % len(YEARS)], SERVICES[(index // 3) % len(SERVICES)]
        name = f"{folder.lower()} {index:05d}"
        path = (
            root / "Commissioning" / year / "Victim Services" / service / folder / f"{name}.{ext}"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _content(rng, ext, _size(rng, mean), index, name)
        path.write_bytes(data)
        written.append(path)
        size += len(data)
    for copy in range(files - unique):
        original = written[rng.randrange(len(written))]
        target = original.with_name(f"{original.stem} (copy {copy}){original.suffix}")
        target.write_bytes(original.read_bytes())
        size += target.stat().st_size
    return Tree(root, files, size, files - unique)
