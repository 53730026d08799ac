#!/usr/bin/env bash
# Install the Debian packages the test suite needs, when they are missing.
#
#   postgresql        initdb and pg_ctl, for the throwaway test cluster
#   chromium          headless browser for the browser tests
#   fonts-dejavu-core a font, so rendered pages and PDFs have glyphs
#
# Idempotent: when everything is present it changes nothing and needs no
# network. Runs as root, or through sudo otherwise. Set VERBOSE=1 to see
# apt's output.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# Each entry is "package:command-or-file that proves it is installed".
REQUIREMENTS=(
  "postgresql:initdb"
  "chromium:/usr/bin/chromium"
  "fonts-dejavu-core:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
)

is_present() {
  local probe="$1"
  if [[ "$probe" == /* ]]; then
    [[ -e "$probe" ]]
  elif [[ "$probe" == initdb ]]; then
    # Debian keeps initdb out of PATH, under /usr/lib/postgresql/<version>/bin.
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null
  else
    command -v "$probe" >/dev/null
  fi
}

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  else
    sudo --preserve-env=DEBIAN_FRONTEND "$@"
  fi
}

quietly() {
  if [[ "${VERBOSE:-0}" == 1 ]]; then
    "$@"
  else
    local log
    log="$(mktemp)"
    if ! "$@" >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$log"
      return 1
    fi
    rm -f "$log"
  fi
}

missing=()
for entry in "${REQUIREMENTS[@]}"; do
  package="${entry%%:*}"
  probe="${entry#*:}"
  if ! is_present "$probe"; then
    missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "setup-system: installing ${missing[*]}"
quietly as_root apt-get update
quietly as_root apt-get install -y --no-install-recommends "${missing[@]}"
echo "setup-system: done"
