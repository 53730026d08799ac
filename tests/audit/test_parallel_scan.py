"""Spreading verification over processes: the ranges, and the same verdicts as one process."""

from __future__ import annotations

import itertools
import os

import pytest

from records_service.audit._parallelscan import CALLER_SHARE, split
from records_service.audit.keys import trusted_keys
from records_service.audit.verify import verify_log, verify_processes
from records_service.audit.writer import build_checkpoint_store
from records_service.runtime.services import Services
from records_service.settings import Settings

from .conftest import append_reads, sign_now, verify


@pytest.mark.parametrize("size", [4, 5, 12, 1000, 1_000_000, 1_000_003])
@pytest.mark.parametrize("processes", [2, 3, 4])
def test_split_covers_every_index_once_in_order(size: int, processes: int) -> None:
    ranges = split(size, processes)
    assert len(ranges) == processes
    assert ranges[0][0] == 0 and ranges[-1][1] == size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert all(lo < hi for lo, hi in ranges)


def test_the_caller_takes_the_smaller_share() -> None:
    (lo, hi), *workers = split(1_000_000, 3)
    assert hi - lo == int(1_000_000 * CALLER_SHARE / (CALLER_SHARE + 2))
    assert all(hi - lo < w_hi - w_lo for w_lo, w_hi in workers)


@pytest.mark.parametrize(("size", "processes"), [(0, 2), (1, 2), (5, 1), (2, 3)])
def test_one_range_when_there_is_nothing_to_spread(size: int, processes: int) -> None:
    assert split(size, processes) == [(0, size)]


def test_zero_processes_means_one_per_usable_core() -> None:
    settings = Settings()
    assert settings.audit.verify_processes == 0
    assert verify_processes(settings) == len(os.sched_getaffinity(0))
    pinned = settings.model_copy(
        update={"audit": settings.audit.model_copy(update={"verify_processes": 3})}
    )
    assert verify_processes(pinned) == 3


def test_a_spread_verification_reports_what_one_process_reports(audit_services: Services) -> None:
    for _ in range(5):
        append_reads(audit_services, 7)
        sign_now(audit_services)
    single = verify(audit_services)
    spread_settings = audit_services.settings.model_copy(
        update={"audit": audit_services.settings.audit.model_copy(update={"verify_processes": 2})}
    )
    seen: list[int] = []
    spread = verify_log(
        audit_services.engine,
        checkpoint_store=build_checkpoint_store(spread_settings, audit_services.store),
        trusted_keys=trusted_keys(spread_settings),
        origin=spread_settings.audit.origin,
        progress=seen.append,
        processes=2,
        parallel_min_entries=0,
    )
    assert sum(seen) == 35
    assert single.ok and spread.ok, (single.problems, spread.problems)
    assert (spread.entries_checked, spread.checkpoints_checked, spread.latest_checkpoint) == (
        single.entries_checked,
        single.checkpoints_checked,
        single.latest_checkpoint,
    )
    assert spread.entries_checked == 35
