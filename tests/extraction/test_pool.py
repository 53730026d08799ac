"""The extraction pool: one worker for a trickle, several at once for a backlog.

A small stand-in worker (same line protocol) shows the spreading: for ``x/meet`` each
process leaves a mark and waits until another process has left one too, so a reply
says whether two processes were serving at the same moment, without any timing.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from records_service.extraction import ExtractionLimits, ExtractionPool

LIMITS = ExtractionLimits(max_seconds=20)

STAND_IN = textwrap.dedent(
    """
    import json, os, sys, time
    for line in sys.stdin:
        request = json.loads(line)
        marks = os.path.dirname(request["path"])
        text = str(os.getpid())
        if request["media_type"] == "x/meet":
            open(os.path.join(marks, f"{os.getpid()}.mark"), "w").close()
            deadline = time.monotonic() + 15
            while len([n for n in os.listdir(marks) if n.endswith(".mark")]) < 2:
                if time.monotonic() > deadline:
                    text = "alone"
                    break
                time.sleep(0.01)
        reply = {"status": "extracted", "text": text, "reason": None}
        print(json.dumps(reply), flush=True)
    """
)


@pytest.fixture
def pool() -> Iterator[ExtractionPool]:
    pool = ExtractionPool(2, command=[sys.executable, "-c", STAND_IN], spread_from=4)
    yield pool
    pool.close()


def _document(tmp_path: Path) -> Path:
    path = tmp_path / "document.txt"
    path.write_text("text")
    return path


def test_a_trickle_is_served_by_one_worker(tmp_path: Path, pool: ExtractionPool) -> None:
    path = _document(tmp_path)
    results = list(
        pool.extract_all(
            [1, 2, 3], lambda _: pool.extract(path, "text/plain", LIMITS), more=lambda: True
        )
    )
    assert len({result.text for _, result in results}) == 1
    assert pool.started == 1
    assert pool.pid is not None and pool.pids == [pool.pid]


def test_a_backlog_is_served_by_two_workers_at_once(tmp_path: Path, pool: ExtractionPool) -> None:
    path = _document(tmp_path)
    items = list(range(6))
    results = dict(
        pool.extract_all(items, lambda _: pool.extract(path, "x/meet", LIMITS), more=lambda: True)
    )
    assert sorted(results) == items
    assert "alone" not in {result.text for result in results.values()}
    assert len({result.text for result in results.values()}) == 2
    assert pool.started == 2


def test_no_item_starts_once_told_no_more(tmp_path: Path, pool: ExtractionPool) -> None:
    path = _document(tmp_path)
    asked: list[int] = []

    def more() -> bool:
        asked.append(1)
        return len(asked) < 3

    ran = [
        item
        for item, _ in pool.extract_all(
            list(range(10)), lambda _: pool.extract(path, "text/plain", LIMITS), more=more
        )
    ]
    # The first item always starts; then two more were allowed, and the third "no" ends it.
    assert sorted(ran) == [0, 1, 2]
    pool.close()
    assert pool.pids == []
