#!/usr/bin/env bash
# Install everything the test suite needs into the current Python environment, then run
# the linters, the Python tests and the browser (Galata) tests.
#
#   bash scripts/test.sh            everything
#   GPUGUARD_SKIP_INSTALL=1 ...     reuse what is installed (fast local re-runs)
#   GPUGUARD_SKIP_UI=1 ...          no browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
log() { printf '\n==> %s\n' "$*"; }

chromium_path=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ "${GPUGUARD_SKIP_UI:-0}" != 1 ] && [ ! -x "$chromium_path" ]; then
  log "Installing Debian's chromium for the UI tests"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing at $chromium_path and cannot be installed without root" >&2
    exit 1
  fi
fi

if [ "${GPUGUARD_SKIP_INSTALL:-0}" != 1 ]; then
  log "Installing jupyter_gpuguard with its test dependencies (builds the frontend)"
  python -m pip install --upgrade --quiet pip
  python -m pip install --quiet ".[test]"
  # CPU tensors in the snapshot tests. Only the local CPU build is taken (its "+cpu" version
  # is not on PyPI), never a multi-GB CUDA download; without it those tests are skipped.
  python -m pip install --quiet "torch==2.13.0+cpu" 2>/dev/null ||
    echo "torch (CPU) not available here: the torch snapshot tests will be skipped"
fi

log "Checking the installation"
jupyter server extension list 2>&1 | grep -E "jupyter_gpuguard.*(OK|enabled)"
jupyter labextension list 2>&1 | grep -E "jupyter-gpuguard.*enabled.*OK"

log "Lint"
ruff check jupyter_gpuguard tests benchmarks frontend_build.py
ruff format --check jupyter_gpuguard tests benchmarks frontend_build.py
if [ -d node_modules ] || [ "${GPUGUARD_SKIP_INSTALL:-0}" != 1 ]; then
  jlpm install --silent >/dev/null 2>&1 || jlpm install
  jlpm lint:check
  jlpm test
fi

log "Python tests"
status=0
python -m pytest -q -p no:cacheprovider "$@" || status=$?
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
elif [ "$status" != 0 ]; then
  exit "$status"
fi

if [ "${GPUGUARD_SKIP_UI:-0}" != 1 ]; then
  log "UI tests (Galata on $chromium_path)"
  cd "$root/ui-tests"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 jlpm install --silent >/dev/null 2>&1 ||
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 jlpm install
  CI=${CI:-true} jlpm playwright test
fi
log "All tests passed"
