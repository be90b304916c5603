#!/usr/bin/env bash
# Side by side on this machine: SIPp 3.6 and `recproof load`, stepping the load up, and
# for each step whether it was clean. Prints a table per comparison and, at the end, the
# highest clean concurrency (with media) and rate (without) of each tool and their ratio.
#
#   1. media, no platform: SIPp `uac_pcap` against `uas -rtp_echo` (8 s of G.711 per call,
#      nothing analysed) vs `recproof load --direct` (media both ways, every frame decoded,
#      calls held 9 s); concurrency ~ rate x 9 s.
#   2. signalling only: SIPp `uac` against `uas` (BYE right after the ACK) vs `recproof
#      load --direct --no-media --hold 0`.
#   3. recproof through its embedded platform with recording (no SIPp equivalent): every
#      call recorded and judged by the suite's checks.
#
# Clean: SIPp: no failed call. recproof: every call passed AND the harness was healthy
# (no kernel drops on its sockets, send lateness p99 within 5 ms, no loop saturated) AND,
# for the direct runs, its send lateness p99 over the run was under 2 ms (the target for
# a baseline generator); a step where every call passed but the harness was not healthy
# is shown as such.
#
# Usage: scripts/bench-load.sh [RECPROOF_BINARY]   (default: the release build)
# Environment: MEDIA_RATES, NOMEDIA_RATES, RECORDED_RATES (space-separated calls/s),
#   STEP_SECONDS (how long each step places calls, default 20).
# Bounded: every step has a call count and a timeout; only processes this script started
# are ended, by their PID; everything is on loopback.
set -euo pipefail
BIN=${1:-${CARGO_TARGET_DIR:-target}/release/recproof}
[ -x "$BIN" ] || { echo "no recproof binary at $BIN (cargo build --release)" >&2; exit 2; }
command -v sipp >/dev/null || { echo "sipp is not installed (scripts/setup-debian.sh)" >&2; exit 2; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
STEP=${STEP_SECONDS:-20}
MEDIA_RATES=${MEDIA_RATES:-"50 100 150 200 250 300 400"}
NOMEDIA_RATES=${NOMEDIA_RATES:-"1000 2000 4000 6000 8000 10000"}
RECORDED_RATES=${RECORDED_RATES:-"2 4 6 8 10 15"}
HOLD=9
# SIPp's uac_pcap plays pcap/g711a.pcap relative to its working directory.
mkdir -p "$OUT/sipp"
ln -s /usr/share/sip-tester "$OUT/sipp/pcap"

# A field of a recproof results.json (python expression on `d`).
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# The verdict of a recproof run directory: "clean", "passed-unhealthy" or "failed".
recproof_verdict() {
  python3 - "$1/results.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
t = d["totals"]
failed = sum(t["failed_by_class"].values())
def p99(hist):
    vals = sorted(hist, key=lambda b: b[0]); n = sum(c for _, c in vals); k = 0
    for v, c in vals:
        k += c
        if k >= 0.99 * n: return v / 1000
    return 0.0
late_ok = d["target"]["mode"] != "direct" or p99(t["send_lateness_us"]) < 2.0
if failed or t["ended"] == 0:
    print("failed")
elif d["health"]["healthy"] and late_ok:
    print("clean")
else:
    print("passed-unhealthy")
EOF
}

recproof_row() {
  local dir=$1
  [ -f "$dir/results.json" ] || { echo "no results"; return; }
  python3 - "$dir/results.json" "$(recproof_verdict "$dir")" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); verdict = sys.argv[2]
t = d["totals"]; h = d["harness"]
def q(hist, p):
    vals = sorted(hist, key=lambda b: b[0]); n = sum(c for _, c in vals)
    if not n: return "-"
    k = 0
    for v, c in vals:
        k += c
        if k >= p * n: return f"{v/1000:.2f}"
    return "-"
drops = sum((l["receive_drops"] or 0) for l in h["loops"])
cpu = sum(l["cpu_s"] for l in h["loops"]) / max(h["elapsed_s"], 1e-9)
print(f"{h['peak_active']:>6} {t['started']:>7} {t['passed']:>7} {sum(t['failed_by_class'].values()):>6} "
      f"{q(t['send_lateness_us'],0.99):>9} {drops:>6} {cpu*100:>6.0f}% {verdict}")
EOF
}

sipp_step() {
  # $1 scenario, $2 rate, $3 calls, $4 port base; prints "peak success failed"
  local scen=$1 rate=$2 calls=$3 base=$4 uas_pid
  local uas_args=(-sn uas -i 127.0.0.1 -p "$base" -bg -nostdin)
  [ "$scen" = uac_pcap ] && uas_args+=(-rtp_echo -mp $((base + 1000)))
  uas_pid=$(cd "$OUT/sipp" && sipp "${uas_args[@]}" 2>&1 | sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p' || true)
  (cd "$OUT/sipp" && timeout $((STEP + 60)) sipp -sn "$scen" -i 127.0.0.1 -p $((base + 2)) \
      -mp $((base + 2000)) 127.0.0.1:"$base" -r "$rate" -m "$calls" -l 100000 -nostdin \
      -trace_stat -stf "stat-$scen-$rate.csv" -fd 1 >/dev/null 2>&1) || true
  [ -n "$uas_pid" ] && kill "$uas_pid" 2>/dev/null || true
  python3 - "$OUT/sipp/stat-$scen-$rate.csv" <<'EOF'
import csv, sys
try:
    rows = list(csv.DictReader(open(sys.argv[1]), delimiter=';'))
except FileNotFoundError:
    print("- - -"); sys.exit()
peak = max((int(r["CurrentCall"]) for r in rows), default=0)
last = rows[-1] if rows else {}
print(peak, last.get("SuccessfulCall(C)", "-"), last.get("FailedCall(C)", "-"))
EOF
}

# The best of a tool is its highest step with every step up to it clean: a step that
# fails ends the tool's count, even if a higher one happens to pass.
best_sipp_media=0; best_recproof_media=0; best_sipp_rate=0; best_recproof_rate=0
sipp_media_ok=1; recproof_media_ok=1; sipp_rate_ok=1; recproof_rate_ok=1; recorded_ok=1

echo "== 1. media, no platform (calls ~${HOLD} s; concurrency ~ rate x ${HOLD}) =="
printf '%-6s | %-30s | %s\n' "rate" "SIPp uac_pcap / uas -rtp_echo" "recproof load --direct (every frame decoded)"
printf '%6s   %6s %8s %7s       %6s %7s %7s %6s %9s %6s %7s\n' "" peak success failed peak started passed failed late_p99 drops cpu
for r in $MEDIA_RATES; do
  calls=$(( r * STEP ))
  read -r sp ss sf < <(sipp_step uac_pcap "$r" "$calls" 26000)
  dir="$OUT/direct-media-$r"
  timeout $((STEP + HOLD + 120)) "$BIN" load --direct -r "$r" -m "$calls" --hold "$HOLD" \
      -l $(( r * (HOLD + 3) )) --out "$dir" --evidence none >/dev/null 2>&1 || true
  printf '%6s   %6s %8s %7s    ' "$r" "$sp" "$ss" "$sf"
  recproof_row "$dir"
  if [ "$sipp_media_ok" = 1 ] && [ "$sf" = "0" ]; then
    [ "$sp" -gt "$best_sipp_media" ] && best_sipp_media=$sp
  else sipp_media_ok=0; fi
  if [ "$recproof_media_ok" = 1 ] && [ "$(recproof_verdict "$dir" 2>/dev/null || true)" = clean ]; then
    p=$(field "$dir/results.json" "d['harness']['peak_active']")
    [ "$p" -gt "$best_recproof_media" ] && best_recproof_media=$p
  else recproof_media_ok=0; fi
done

echo
echo "== 2. signalling only, BYE right after the ACK =="
printf '%6s   %8s %7s       %6s %7s %7s %6s %9s %6s %7s\n' rate success failed peak started passed failed late_p99 drops cpu
for r in $NOMEDIA_RATES; do
  calls=$(( r * 10 ))
  read -r _ ss sf < <(sipp_step uac "$r" "$calls" 27000)
  dir="$OUT/direct-nomedia-$r"
  timeout 200 "$BIN" load --direct --no-media -r "$r" -m "$calls" --hold 0 -l 20000 \
      --out "$dir" --evidence none >/dev/null 2>&1 || true
  printf '%6s   %8s %7s    ' "$r" "$ss" "$sf"
  recproof_row "$dir"
  if [ "$sipp_rate_ok" = 1 ] && [ "$sf" = "0" ]; then best_sipp_rate=$r; else sipp_rate_ok=0; fi
  if [ "$recproof_rate_ok" = 1 ] && [ "$(recproof_verdict "$dir" 2>/dev/null || true)" = clean ]; then
    best_recproof_rate=$r
  else recproof_rate_ok=0; fi
done

echo
echo "== 3. recproof through its embedded platform, every call recorded and judged (hold 20 s) =="
printf '%6s   %6s %7s %7s %6s %9s %6s %7s\n' rate peak started passed failed late_p99 drops cpu
best_recorded=0
for r in $RECORDED_RATES; do
  dir="$OUT/recorded-$r"
  timeout $((STEP + 200)) "$BIN" load -r "$r" -m $(( r * STEP )) --hold 20 --out "$dir" \
      --evidence none >/dev/null 2>&1 || true
  printf '%6s   ' "$r"
  recproof_row "$dir"
  if [ "$recorded_ok" = 1 ] && [ "$(recproof_verdict "$dir" 2>/dev/null || true)" = clean ]; then
    p=$(field "$dir/results.json" "d['harness']['peak_active']")
    [ "$p" -gt "$best_recorded" ] && best_recorded=$p
  else recorded_ok=0; fi
done

echo
echo "== highest step with it and every step below it clean =="
ratio() { python3 -c "import sys; a,b=map(float,sys.argv[1:]); print(f'{a/b:.2f}x' if b else '-')" "$1" "$2"; }
echo "media, concurrent calls:  SIPp $best_sipp_media, recproof $best_recproof_media ($(ratio "$best_recproof_media" "$best_sipp_media"))"
echo "no media, calls/s:        SIPp $best_sipp_rate, recproof $best_recproof_rate ($(ratio "$best_recproof_rate" "$best_sipp_rate"))"
echo "recorded through the embedded platform, concurrent calls: $best_recorded"
