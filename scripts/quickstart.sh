#!/usr/bin/env bash
# Set up, prepare Multi30k de-en, train the small preset (~1 h on 2 cores), evaluate it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
DATA=${DATA:-../shared/data/multi30k}
[ -f work/prep/prep.json ] || nmtprune prepare --data "$DATA" --src de --tgt en --out work/prep
if [ -f runs/small/state.pt ]; then RESUME=--resume; else RESUME=; fi
nmtprune train work/prep --preset small --out runs/small $RESUME
nmtprune evaluate runs/small --split test_2016_flickr --beam 5 --json
