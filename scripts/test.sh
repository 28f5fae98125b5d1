#!/usr/bin/env bash
# Set up and run the whole test suite (what CI runs), with the Python scripts/python.sh picks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/python.sh
exec "$PY" -m pytest -q "$@"
