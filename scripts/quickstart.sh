#!/usr/bin/env bash
# Set up, then run the quick pruning study on Multi30k de-en (prepare, dense baseline, every
# experiment, report): about 25 min on 2 CPU cores. Rerunning resumes where it stopped.
# Data: $DATA if set, else ../shared/data/multi30k when it exists, else the named corpus
# multi30k (fetched once into ~/.cache/nmtprune; NMTPRUNE_MIRROR replaces the upstream URL).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}           # the Python setup.sh installs into (same default)
SETUP_EXTRAS= bash scripts/setup.sh      # the study needs no test extras
if [ -z "${DATA:-}" ]; then
  if [ -d ../shared/data/multi30k ]; then DATA=../shared/data/multi30k; else DATA=multi30k; fi
fi
# Run the package with that Python, not the console script: a --user or venv install
# may not have put `nmtprune` on PATH.
"$PY" -m nmtprune study --preset quick --data "$DATA" --out studies/quick
