#!/usr/bin/env bash
# Provision the browser the UI tests drive: Debian's chromium at /usr/bin/chromium.
# Playwright uses it through executable_path; `playwright install` (which downloads a browser
# build of its own) is never run. Needs root (or sudo) and Debian's package archive.
set -euo pipefail

CHROMIUM=${LEDGERFLOW_TEST_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
    exit 0
fi

fail() {
    echo "Cannot run the browser tests: $1" >&2
    exit 1
}

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    fail "$CHROMIUM is missing and installing Debian's chromium package needs root (run 'apt-get install -y chromium' as root)."
fi
command -v apt-get >/dev/null 2>&1 \
    || fail "$CHROMIUM is missing and this machine has no apt-get to install Debian's chromium package."

echo "Installing Debian's chromium (for the UI tests) ..."
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq >/dev/null \
    || fail "'apt-get update' failed, so Debian's chromium package cannot be installed."
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null \
    || fail "'apt-get install chromium' failed; install Debian's chromium package by hand."
[ -x "$CHROMIUM" ] || fail "Debian's chromium package is installed but $CHROMIUM is missing."
echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo installed)"
