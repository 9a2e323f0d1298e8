#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver from Debian's packages when missing, so the
# browser test (tests/e2e/tests/suite/browser.rs) can run. Idempotent; prints the chromedriver path
# on its last line so callers can do: export CHROMEDRIVER="$(infra/scripts/chromium.sh | tail -n1)".
set -euo pipefail

if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq >&2
    $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2
fi

chromium --version >&2
command -v chromedriver
