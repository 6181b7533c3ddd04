#!/usr/bin/env bash
# The test command (`npm test`): set-up if needed, then type-check, lint and the mocha suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== tsc --noEmit" >&2
npx --no-install tsc --noEmit
echo "== eslint" >&2
npx --no-install eslint .
echo "== mocha" >&2
npx --no-install mocha "$@"
