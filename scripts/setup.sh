#!/usr/bin/env bash
# Install nmtprune (editable) with its test extras into the project's Python (scripts/python.sh:
# PYTHON=..., else an active venv/conda env, else .venv in the clone, made on first use).
# Torch is installed first only when missing: 2.13.0 is the CPU build this project is developed
# on; on a CUDA machine install your own CUDA build of torch (>= 2.13, the floor CI tests) into
# that environment before running this.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/python.sh
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install -q "torch==2.13.0"
fi
# Extras: the test ones by default (pytest, and Ray and TensorBoard so their tests run);
# quickstart.sh asks for none (SETUP_EXTRAS=) since the study needs only the package.
EXTRAS=${SETUP_EXTRAS-test}
"$PY" -m pip install -q -e ".${EXTRAS:+[$EXTRAS]}"
