"""The web face calls the same service functions as the API: no SQL, no audit writes.

A page that builds its own query or writes its own audit entry is a second copy of a
rule (who may see a record, what a read records) that can drift from the one the API
uses. So no module under ``web/`` selects, executes a statement or calls
``record_event``, and none imports the API: what both faces share lives below them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import records_service.web
from support.imports import ROOT_PACKAGE, package_imports, within

WEB_DIR = Path(records_service.web.__file__).parent
WEB = f"{ROOT_PACKAGE}.web"
# Calls that mean a module does the domain's work itself: building or running SQL,
# or writing the audit log.
FORBIDDEN_CALLS = frozenset({"select", "exec", "execute", "record_event"})
FORBIDDEN_IMPORTS = (f"{ROOT_PACKAGE}.api", f"{ROOT_PACKAGE}.audit.log.record_event")


def _called_name(call: ast.Call) -> str | None:
    """``f`` for ``f(...)`` and for ``anything.f(...)``."""
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def forbidden_calls(package_dir: Path) -> list[str]:
    """Where the modules under ``package_dir`` call one of ``FORBIDDEN_CALLS``."""
    found: list[str] = []
    for path in sorted(package_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called_name(node) in FORBIDDEN_CALLS:
                where = path.relative_to(package_dir)
                found.append(f"{where}:{node.lineno} calls {_called_name(node)}()")
    return found


def test_no_web_module_runs_sql_or_writes_the_audit_log() -> None:
    assert len(list(WEB_DIR.rglob("*.py"))) >= 10, "the web modules were not found"
    assert forbidden_calls(WEB_DIR) == []


def test_no_web_module_imports_the_api() -> None:
    imports = package_imports(WEB_DIR, WEB)
    assert imports, "no imports found in web/"
    upward = [
        f"{line.path.relative_to(WEB_DIR)}:{line.line} imports {line.module}"
        for line in imports
        if within(line.module, FORBIDDEN_IMPORTS)
    ]
    assert upward == []


def test_the_call_check_sees_each_kind_of_forbidden_call(tmp_path: Path) -> None:
    # The guard has teeth: each way a page could run SQL or audit by itself is caught.
    (tmp_path / "page.py").write_text(
        "rows = session.exec(select(Record).where(x))\n"
        "session.execute(statement)\n"
        "record_event(session, actor='a')\n"
        "log.record_event(session)\n"
        "ok = services.records(session)\n",
        encoding="utf-8",
    )
    assert sorted(forbidden_calls(tmp_path)) == [
        "page.py:1 calls exec()",
        "page.py:1 calls select()",
        "page.py:2 calls execute()",
        "page.py:3 calls record_event()",
        "page.py:4 calls record_event()",
    ]
