#!/usr/bin/env bash
# Runs the benchmarks (all, or the sections named) after making sure the
# build they measure is current. Prints a table of side-by-side ratios and
# merges the figures into bench/results/latest.json.
#
#   bash scripts/bench.sh              # every section
#   bash scripts/bench.sh sidecar      # one section; --list shows them
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$ROOT/scripts/setup.sh"
export PATH="$VENV/bin:$PATH"
ensure_node
cd "$ROOT"
exec node bench/run.mjs "$@"
