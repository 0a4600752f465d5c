#!/usr/bin/env bash
# Set up .venv and run the whole test suite (unit, app through gradio_client, browser).
# The browser tests use Debian's chromium when it is installed (apt-get install -y chromium)
# and are skipped, saying so, when it is not.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export GRADIO_ANALYTICS_ENABLED=False
exec .venv/bin/python -m pytest "$@"
