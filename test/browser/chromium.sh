#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser tests (test/browser, driven by playwright-core): installed
# with apt-get when missing, since Playwright's own browser download cannot reach its host from here.
# Run by `npm test` (pretest) and .ci/run; quick when Chromium is there. CHROMIUM_PATH names another browser.
set -euo pipefail
browser="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$browser" ]; then
  if [ -n "${CHROMIUM_PATH:-}" ]; then
    echo "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable" >&2
    exit 1
  fi
  sudo=''
  if [ "$(id -u)" != 0 ]; then
    if ! sudo -n true 2>/dev/null; then
      echo "Chromium is missing and installing it needs root: run 'sudo apt-get install -y chromium'" >&2
      exit 1
    fi
    sudo='sudo -n'
  fi
  echo '::: installing chromium (apt-get) for the browser tests'
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends chromium </dev/null >/dev/null \
    || { $sudo apt-get update </dev/null >/dev/null && $sudo apt-get install -y --no-install-recommends chromium </dev/null >/dev/null; }
fi
echo "::: browser for the browser tests: $("$browser" --version 2>/dev/null || echo "$browser")"
