#!/usr/bin/env bash
# Install Debian's headless-capable Chromium and its matching chromedriver for the
# report's browser test (tests/test_report_browser.py).
#
# Why Debian's packages: the browser and driver come from the same source package,
# so their versions always match, and nothing is downloaded outside the package
# registry (selenium's own driver download would need the open internet).
# Idempotent and non-interactive: does nothing when both are already installed.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)

if [ ${#missing[@]} -eq 0 ]; then
    echo "chromium and chromedriver already installed: $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-dejavu-core >/dev/null
echo "installed: ${missing[*]} ($(/usr/bin/chromium --version 2>/dev/null))"
