#!/usr/bin/env bash
# Set up, then run the quick pruning study on Multi30k de-en (prepare, dense baseline, every
# experiment, report): <= 25 min on 2 CPU cores. Rerunning resumes where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
DATA=${DATA:-../shared/data/multi30k}
nmtprune study --preset quick --data "$DATA" --out studies/quick
