#!/usr/bin/env bash
# Set up from a fresh clone and run the service on the embedded default
# (SQLite + local blobs + index under ./data). Extra arguments go to `serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
.venv/bin/records-service init --first-admin admin
exec .venv/bin/records-service serve "$@"
