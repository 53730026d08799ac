"""axe-core in the browser tests: every page state a test reaches is checked, once.

Pages opened through ``web.test_browser._new_page`` are watched: each document they
load is noted, and :func:`check_page` runs axe-core (shipped inside the
``axe-playwright-python`` package) on the page as it is at that moment, at the WCAG 2.2
AA rule tags, and fails on any violation with a readable report. A state reached
without loading a document (an error summary the script shows, a wider or narrower
screen) is checked by naming it. The autouse fixture in ``tests/web/conftest.py``
fails a browser test that loaded a document it never checked, so no state is missed.
To keep the suite's time down a state is checked once: the same document (less its
one-time form tokens) at the same width is not checked again, whichever test or
server reached it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from playwright.sync_api import Page

# WCAG 2.0, 2.1 and 2.2, levels A and AA.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
_SCRIPT = (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
# The document as axe sees it, less each form's one-time token, and the window's width.
_FINGERPRINT = """() => innerWidth + " " + document.documentElement.outerHTML
    .replace(/name="csrf_token" value="[^"]*"/g, "").replace(/csrf_token=[^"&]*/g, "")"""
_RUN = """(tags) => axe.run(document, {
    runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]
})"""


@dataclass
class _Watched:
    page: Page
    loaded: list[str] = field(default_factory=list)
    checked: set[tuple[str, str]] = field(default_factory=set)


_WATCHED: list[_Watched] = []
# Fingerprints of the states checked in this run, across tests and servers.
_SEEN: set[str] = set()


def watch(page: Page) -> None:
    """Note every document ``page`` loads, so the test must check each one."""
    watched = _Watched(page)
    page.on("load", lambda loaded: watched.loaded.append(loaded.url))
    _WATCHED.append(watched)


def _watched(page: Page) -> _Watched:
    for watched in _WATCHED:
        if watched.page is page:
            return watched
    watch(page)
    return _WATCHED[-1]


def _report(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {', '.join(map(str, node['target']))}: {node['failureSummary']}")
    return "\n".join(lines)


def check_page(page: Page, state: str = "") -> None:
    """Run axe-core on ``page`` as it is now and fail on any WCAG 2.2 AA violation."""
    watched = _watched(page)
    page.wait_for_load_state("load")
    key = (page.url, state)
    if key in watched.checked:
        return
    watched.checked.add(key)
    seen = hashlib.sha256(page.evaluate(_FINGERPRINT).encode()).hexdigest()
    if seen in _SEEN:
        return  # the same document at the same width was checked already
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_SCRIPT)
    result = page.evaluate(_RUN, TAGS)
    _SEEN.add(seen)
    where = f"{page.url} {state}".strip()
    assert not result["violations"], f"axe-core on {where}:\n{_report(result['violations'])}"


def unchecked_loads() -> list[str]:
    """Documents the watched pages loaded and no check covered; forgets every page."""
    missed: list[str] = []
    for watched in _WATCHED:
        done = {url for url, _ in watched.checked}
        missed.extend(url for url in dict.fromkeys(watched.loaded) if url not in done)
    _WATCHED.clear()
    return missed
