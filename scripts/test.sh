#!/usr/bin/env bash
# The README's second command: runs every test suite against real parts
# (lint, unit, integration against the demo cluster and a real JupyterLab,
# browser tests in Debian's Chromium) and ends with "N passed, N failed".
#
#   bash scripts/test.sh                     # everything
#   bash scripts/test.sh unit integration    # some suites: lint unit python integration ui reliability
#   bash scripts/test.sh soak                # the long run under load (not in "everything")
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(lint unit python integration ui reliability)

RESULTS="$ROOT/.test-work/results"
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
cd "$ROOT" || exit 1

bash scripts/setup.sh --test || die "setup failed"
export PATH="$VENV/bin:$PATH"
ensure_node

needs_cluster=0
for s in "${suites[@]}"; do case "$s" in integration | ui | reliability | soak) needs_cluster=1 ;; esac; done
if [ "$needs_cluster" -eq 1 ]; then
  if is_root; then
    bash tests/cluster/demo-cluster.sh start || say "test: the demo cluster did not start; its tests will fail"
    bash tests/cluster/ssh-fixtures.sh start || say "test: the SSH fixtures did not start; their tests will fail"
  else
    say "test: not root, so the demo cluster and SSH fixtures cannot be started; their tests will fail"
  fi
fi

# run_check NAME CMD... — one lint check counted as one test.
run_check() {
  local name="$1"
  shift
  if "$@" >"$RESULTS/lint-$name.log" 2>&1; then
    echo "{\"name\":\"$name\",\"ok\":true}" >>"$RESULTS/lint.jsonl"
    say "  ok    $name"
  else
    echo "{\"name\":\"$name\",\"ok\":false}" >>"$RESULTS/lint.jsonl"
    say "  FAIL  $name (log: $RESULTS/lint-$name.log)"
    cat "$RESULTS/lint-$name.log" >&2
  fi
}

for suite in "${suites[@]}"; do
  say ""
  say "=== $suite ==="
  case "$suite" in
    lint)
      run_check eslint npx eslint --max-warnings 0 .
      run_check prettier npm run -s prettier:check
      run_check stylelint npx stylelint "style/**/*.css"
      run_check typecheck npm run -s typecheck
      run_check typecheck-tests npx tsc --noEmit -p tsconfig.test.json
      run_check shellcheck shellcheck -x scripts/*.sh tests/cluster/*.sh .ci/run \
        src/sidecar/*/*.sh src/sidecar/*/*/*.sh
      # The Python programs the sidecar runs on a cluster (the .pyc go to the results).
      run_check py-compile env PYTHONPYCACHEPREFIX="$RESULTS/pycache" \
        python3 -m py_compile src/sidecar/*/*.py jupyterlab_hpc/*.py tests/python/*.py
      ;;
    unit)
      npx jest --config jest.config.js --ci --json --outputFile="$RESULTS/unit.json"
      ;;
    python)
      # The server extension and the kernel provisioner (tests/python).
      "$VENV/bin/python" -m pytest -p no:cacheprovider -q \
        --junitxml="$RESULTS/python.xml"
      ;;
    integration)
      npx jest --config jest.integration.config.js --ci --runInBand \
        --json --outputFile="$RESULTS/integration.json"
      ;;
    ui)
      PW_JSON_OUTPUT="$RESULTS/ui.json" PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
        npx playwright test --config tests/ui/playwright.config.ts
      ;;
    reliability)
      # Faults, hostile input, secrets (tests/reliability); they regenerate RELIABILITY.md.
      npx jest --config jest.reliability.config.js --ci --runInBand \
        --json --outputFile="$RESULTS/reliability.json"
      ;;
    soak)
      JLHPC_SOAK=1 npx jest --config jest.reliability.config.js --ci --runInBand \
        --json --outputFile="$RESULTS/soak.json" tests/reliability/soak
      ;;
    *) die "unknown suite: $suite (lint unit python integration ui reliability soak)" ;;
  esac
done

say ""
node scripts/summarize-tests.mjs "$RESULTS" "${suites[@]}"
