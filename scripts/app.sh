#!/usr/bin/env bash
# Set up .venv and start the app on http://127.0.0.1:7860 (extra arguments go to app.py,
# e.g. --share or --network PATH). With no flags it runs on the paper's VGG-19, installed by setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python app.py "$@"
