#!/usr/bin/env bash
# The demo (`npm run demo`): set-up if needed, then process the bundled sample (a 12 s
# CCTV clip and three photos) with a master and one local slave per this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/master.js run samples --out demo-results.jsonl --overwrite "$@"
