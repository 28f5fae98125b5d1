#!/usr/bin/env bash
# Set up, then run the quick pruning study on Multi30k de-en (prepare, dense baseline, every
# experiment, report): 17 min on 2 CPU cores with native bf16 (AMX), ~28 min in fp32.
# Rerunning resumes where it stopped.
# Data: $DATA if set, else ../shared/data/multi30k when it exists, else the named corpus
# multi30k (fetched once into ~/.cache/nmtprune; NMTPRUNE_MIRROR replaces the upstream URL).
set -euo pipefail
cd "$(dirname "$0")/.."
SETUP_EXTRAS= bash scripts/setup.sh      # the study needs no test extras
. scripts/python.sh             # PY: the Python setup.sh installed into (.venv unless told)
if [ -z "${DATA:-}" ]; then
  if [ -d ../shared/data/multi30k ]; then DATA=../shared/data/multi30k; else DATA=multi30k; fi
fi
# Run the package with that Python, not the console script: the project's .venv is not
# on PATH unless activated.
# Runs side by side in worker processes, one thread each: a small model trains little faster on
# two threads than on one (docs/cluster.md), so this finishes sooner than one run at a time.
"$PY" -m nmtprune study --preset quick --data "$DATA" --out studies/quick --executor processes --run-cpus 1
