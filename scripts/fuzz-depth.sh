#!/usr/bin/env bash
# Runs every cargo-fuzz target to depth, one after the other: each stops at 10 million
# executions or 30 minutes, whichever comes first (override with RUNS and SECONDS_PER).
# Prints one table row per target (executions, executions per second, new corpus units,
# outcome) and keeps each target's full libFuzzer output in OUT_DIR.
#
# Usage: scripts/fuzz-depth.sh [TARGET...]        (default: all targets, fastest first)
#   OUT_DIR=reports/fuzz-depth  RUNS=10000000  SECONDS_PER=1800  NICE=19
#
# One process at a time and at low priority (nice), so it can run beside a build on a
# 2-core machine; a full run of the nine targets takes up to 4.5 hours and stops by itself.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT_DIR:-$root/reports/fuzz-depth}"
runs="${RUNS:-10000000}"
seconds="${SECONDS_PER:-1800}"
nice_level="${NICE:-19}"
mkdir -p "$out"
cd "$root/fuzz"
[ -d corpus ] || ./seed.sh
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    # Fastest first (executions per second measured on a 2-core VM), so the quick ones
    # always finish even when the run is cut short.
    targets=(pcap sip_framing sdp rtp sip_message multipart metadata validate nodes)
fi
RUSTC_BOOTSTRAP=1 nice -n "$nice_level" cargo fuzz build -a >"$out/build.log" 2>&1
printf '| target | executions | exec/s | seconds | corpus units | outcome |\n'
printf '| --- | ---: | ---: | ---: | ---: | --- |\n'
for t in "${targets[@]}"; do
    log="$out/$t.log"
    start=$(date +%s)
    set +e
    RUSTC_BOOTSTRAP=1 nice -n "$nice_level" cargo fuzz run -a "$t" -- \
        -runs="$runs" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    elapsed=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    per_s=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    units=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
    outcome="no crash"
    [ "$rc" -eq 0 ] || outcome="FAILED (exit $rc, see $log)"
    printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "${execs:-?}" "${per_s:-?}" "$elapsed" \
        "${units:-?}" "$outcome"
done
