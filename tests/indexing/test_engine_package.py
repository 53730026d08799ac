"""``indexing/`` is a pure engine package: it imports nothing of the service but itself
and, where really needed, the base layer.

Domain code (records, contracts, audit, auth, the search use case) and the wiring
modules sit above it and import it, never the other way round; an import the other
way is how the old records <-> indexing cycle came about.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import records_service.indexing
from support.imports import ROOT_PACKAGE, package_imports, within

PACKAGE = "records_service.indexing"
INDEXING_DIR = Path(records_service.indexing.__file__).parent
# The base layer an engine may lean on; none is needed today.
BASE_LAYER = tuple(
    f"{ROOT_PACKAGE}.{name}" for name in ("settings", "errors", "clock", "bounds", "cpus", "dates")
)
ALLOWED = (PACKAGE, *BASE_LAYER)


def test_engine_modules_import_only_the_engine_package_and_the_base_layer() -> None:
    imports = package_imports(INDEXING_DIR, PACKAGE)
    assert len({line.path for line in imports}) >= 3, "the engine modules were not found"
    outside = [
        f"{line.path.name}:{line.line} imports {line.module}"
        for line in imports
        if within(line.module, (ROOT_PACKAGE,)) and not within(line.module, ALLOWED)
    ]
    assert outside == []


def test_importing_the_engine_package_loads_no_domain_module() -> None:
    # Catches what the syntax check cannot: a base module that pulls in a domain one.
    code = (
        "import sys, records_service.indexing; "
        "print('\\n'.join(m for m in sys.modules if m.startswith('records_service.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert [m for m in loaded if not within(m, ALLOWED)] == []
    assert PACKAGE in loaded


def test_relative_imports_out_of_the_package_are_caught(tmp_path: Path) -> None:
    engine = tmp_path / "indexing"
    engine.mkdir()
    (engine / "__init__.py").write_text("from . import base\n")
    (engine / "base.py").write_text("from ..records import models\nfrom .. import audit\n")
    modules = {line.module for line in package_imports(engine, PACKAGE)}
    assert modules == {
        f"{PACKAGE}.base",
        f"{ROOT_PACKAGE}.records.models",
        f"{ROOT_PACKAGE}.audit",
    }
