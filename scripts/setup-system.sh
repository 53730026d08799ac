#!/usr/bin/env bash
# Install the Debian packages the test suite needs, when they are missing.
#
#   postgresql        initdb and pg_ctl, for the throwaway test cluster
#   chromium          headless browser for the browser tests
#   fonts-dejavu-core fonts, so rendered pages have glyphs; the Panel's report's PDF
#                     embeds DejaVu Sans (the service uses it too)
#   tesseract-ocr     OCR of scanned pages and images (the service uses it too)
#   tesseract-ocr-eng its English language data
#
# Idempotent: when everything is present it changes nothing and needs no
# network. Runs as root, or through sudo otherwise. Set VERBOSE=1 to see
# apt's output.
#
# When another apt-get or dpkg holds the package manager's locks (unattended
# upgrades, another setup), this waits for them for up to LOCK_TIMEOUT seconds
# (default 600) instead of failing at once, and says so. apt-get waits for
# dpkg's lock itself (-o DPkg::Lock::Timeout), but `apt-get update` gives up on
# the package lists' lock at once, so a command that fails on a lock is run
# again every few seconds until the same deadline. Past it, the script fails
# naming the process that held the lock.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
LOCK_TIMEOUT="${LOCK_TIMEOUT:-600}"
LOCK_RETRY_SECONDS="${LOCK_RETRY_SECONDS:-5}"

# Each entry is "package:command-or-file that proves it is installed".
REQUIREMENTS=(
  "postgresql:initdb"
  "chromium:/usr/bin/chromium"
  "fonts-dejavu-core:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
  "tesseract-ocr:tesseract"
  "tesseract-ocr-eng:/usr/share/tesseract-ocr/*/tessdata/eng.traineddata"
)

is_present() {
  local probe="$1"
  if [[ "$probe" == /*'*'* ]]; then
    # A path with a version directory that varies between releases.
    compgen -G "$probe" >/dev/null
  elif [[ "$probe" == /* ]]; then
    [[ -e "$probe" ]]
  elif [[ "$probe" == lib:* ]]; then
    # A shared library, wherever the architecture keeps it (the linker's cache knows).
    # The cache is read whole first: under pipefail, grep -q stopping early would fail.
    local cache
    cache="$(/sbin/ldconfig -p)"
    [[ $'\n'"$cache" == *$'\n\t'"${probe#lib:} "* ]]
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

# Run `apt-get ARGS` as root, waiting for the package manager's locks (see above).
# Its output is shown when VERBOSE=1 or when it fails.
apt_get_waiting() {
  local deadline=$((SECONDS + LOCK_TIMEOUT)) log status said_waiting=0
  log="$(mktemp)"
  while true; do
    status=0
    if [[ "${VERBOSE:-0}" == 1 ]]; then
      as_root apt-get -o "DPkg::Lock::Timeout=${LOCK_TIMEOUT}" "$@" 2>&1 | tee "$log" || status=$?
    else
      as_root apt-get -o "DPkg::Lock::Timeout=${LOCK_TIMEOUT}" "$@" >"$log" 2>&1 || status=$?
    fi
    if [[ $status -eq 0 ]]; then
      rm -f "$log"
      return 0
    fi
    if ! grep -q "Could not get lock" "$log" || ((SECONDS >= deadline)); then
      break
    fi
    if [[ $said_waiting -eq 0 ]]; then
      echo "setup-system: $(lock_holder "$log") holds the package manager's lock;" \
        "waiting up to ${LOCK_TIMEOUT} s for it (apt-get $1)"
      said_waiting=1
    fi
    sleep "$LOCK_RETRY_SECONDS"
  done
  [[ "${VERBOSE:-0}" == 1 ]] || cat "$log" >&2
  if grep -q "Could not get lock" "$log"; then
    echo "setup-system: gave up after ${LOCK_TIMEOUT} s: $(lock_holder "$log") still holds" \
      "the package manager's lock. Let it finish, then run this script again" \
      "(LOCK_TIMEOUT=SECONDS waits longer)." >&2
  fi
  rm -f "$log"
  return 1
}

# Who holds the lock, as apt-get reported it ("process 1234 (apt-get)").
lock_holder() {
  local holder
  holder="$(grep -o 'held by process [0-9]* ([^)]*)' "$1" | tail -n 1 || true)"
  if [[ -n "$holder" ]]; then
    echo "${holder#held by }"
  else
    echo "another apt-get or dpkg"
  fi
}

main() {
  local missing=() entry package probe
  for entry in "${REQUIREMENTS[@]}"; do
    package="${entry%%:*}"
    probe="${entry#*:}"
    if ! is_present "$probe"; then
      missing+=("$package")
    fi
  done

  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi

  echo "setup-system: installing ${missing[*]}"
  apt_get_waiting update
  apt_get_waiting install -y --no-install-recommends "${missing[@]}"
  echo "setup-system: done"
}

# Sourced (by the tests), it only defines the functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main
fi
