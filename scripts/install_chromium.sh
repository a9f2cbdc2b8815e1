#!/usr/bin/env bash
# Installs headless Chromium and its driver (Debian packages) for the report test
# (tests/python/test_report.py). Does nothing when /usr/bin/chromium is already there.
# Needs root (or sudo) and the Debian package mirror; no other download.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install_chromium.sh: /usr/bin/chromium is missing and this is not root; run as root:" >&2
        echo "  apt-get update && apt-get install -y chromium chromium-driver" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium chromium-driver fonts-liberation
/usr/bin/chromium --version
