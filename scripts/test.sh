#!/usr/bin/env bash
# Set up from a fresh clone and run the whole test suite: lint, type check and
# pytest against SQLite, a real PostgreSQL, a real S3 server process and a real
# headless Chromium, all started by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-system.sh

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy src tests benchmarks

# Tests marked `minio` need a real MinIO (behaviour moto does not enforce); they
# run when RECORDS_TEST_MINIO_ENDPOINT is set, and are deselected otherwise.
marker="not minio"
if [ -n "${RECORDS_TEST_MINIO_ENDPOINT:-}" ]; then
    marker=""
fi
# Most of the suite waits on processes (PostgreSQL, S3, served apps, Chromium), so
# two pytest workers (pytest-xdist) finish it in well under the serial time, each
# with its own PostgreSQL cluster and S3 server. RECORDS_TEST_WORKERS=0 runs serially.
workers=${RECORDS_TEST_WORKERS:-2}
exec .venv/bin/python -m pytest -m "$marker" -n "$workers" "$@"
