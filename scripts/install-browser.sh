#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/browser, `make test-browser`).
#
# Playwright drives this system Chromium (executable_path=/usr/bin/chromium); it never downloads
# a browser of its own, so do not run `playwright install`. Safe to run again: it does nothing
# when /usr/bin/chromium is already there.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

say() { echo "[install-browser] $*"; }

if [ -x "$CHROMIUM" ]; then
  say "Chromium is already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  say "apt-get is not available: install Chromium with your system's package manager so that" >&2
  say "$CHROMIUM exists (or run the browser tests on Debian/Ubuntu)." >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  say "Installing Chromium needs root: run this script as root or install sudo." >&2
  exit 1
fi

say "Installing Debian's chromium package"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium

if [ ! -x "$CHROMIUM" ]; then
  say "The chromium package installed, but $CHROMIUM is missing." >&2
  exit 1
fi
say "Installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
