"""Imports between the search use case and the packages below it point down only.

``search`` imports ``records`` (the visibility rule, the ``index_tasks`` queue) and
``indexing`` (the engine); none of the packages it builds on may import it back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import records_service
from support.imports import ROOT_PACKAGE, package_imports, within

SOURCE_DIR = Path(records_service.__file__).parent
SEARCH = f"{ROOT_PACKAGE}.search"
BELOW_SEARCH = ("records", "contracts", "audit", "auth", "retention", "indexing", "storage")


def test_search_builds_on_records_and_the_engine_package() -> None:
    imported = {line.module for line in package_imports(SOURCE_DIR / "search", SEARCH)}
    for needed in ("records", "indexing"):
        assert any(within(m, (f"{ROOT_PACKAGE}.{needed}",)) for m in imported), needed


@pytest.mark.parametrize("package", BELOW_SEARCH)
def test_packages_below_search_do_not_import_it(package: str) -> None:
    imports = package_imports(SOURCE_DIR / package, f"{ROOT_PACKAGE}.{package}")
    assert imports, f"no modules found in {package}/"
    upward = [
        f"{line.path.name}:{line.line} imports {line.module}"
        for line in imports
        if within(line.module, (SEARCH,))
    ]
    assert upward == []
