#!/usr/bin/env bash
# Set up nertransfer on a fresh machine: a virtual environment in .venv holding the package,
# its pinned dependencies and the test tools. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# torch first, pinned: a bare `torch` requirement on a fresh machine pulls a CUDA build of
# several GB, while 2.13.0 (CPU) is what pyproject.toml pins. For a GPU machine install the
# CUDA build of the same version before running this script.
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install --quiet "torch==2.13.0"
.venv/bin/pip install --quiet --editable ".[test,bench,e5]"
.venv/bin/nertransfer --help > /dev/null
echo "nertransfer is set up in .venv (activate with: source .venv/bin/activate)"
