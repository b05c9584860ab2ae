#!/usr/bin/env bash
# The whole suite N times in a row (default 10) with CI's settings, while a busy loop holds one
# core: a test that fails here for no bug is a flaky test to fix (docs/testing.md). Stops at the
# first failing run unless KEEP_GOING=1. Logs go to reports/repeat/ (one per run, plus summary.txt).
set -u
cd "$(dirname "$0")/.."
runs="${1:-10}"
out=reports/repeat
mkdir -p "$out"
export CI=true
npm run build >"$out/build.log" 2>&1 || { echo "build failed: $out/build.log"; exit 1; }
( while :; do :; done ) &
busy=$!
trap 'kill "$busy" 2>/dev/null' EXIT
summary="$out/summary.txt"
echo "commit $(git rev-parse --short HEAD), $runs runs, busy loop on one core, started $(date -u +%FT%TZ)" | tee "$summary"
# A count from mocha's last lines ("  12 passing"), 0 when absent.
count() { grep -Eo "^[[:space:]]+[0-9]+ $2" "$1" | grep -Eo '[0-9]+' || echo 0; }
failed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  npx mocha >"$out/run-$i.log" 2>&1
  rc=$?
  log="$out/run-$i.log"
  pending=$(count "$log" pending)
  echo "run $i/$runs: exit $rc, $(count "$log" passing) passing, $(count "$log" failing) failing, $pending pending, $(($(date +%s) - start)) s, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$summary"
  if [ "$rc" -ne 0 ] || [ "$pending" != 0 ]; then
    failed=$((failed + 1))
    [ "${KEEP_GOING:-0}" = 1 ] || { echo "stopped: see $out/run-$i.log" | tee -a "$summary"; exit 1; }
  fi
done
echo "$failed of $runs runs failed" | tee -a "$summary"
[ "$failed" -eq 0 ]
