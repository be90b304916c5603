#!/usr/bin/env bash
# SIP over TCP at rate: SIPp's caller (`-t t1`: all calls on one connection, or `-t tn`:
# one connection per call) places calls through `recproof platform`, which records each
# to `recproof srs` over TCP (the provider's `transport: tcp`); SIPp's callee answers
# over UDP. Prints SIPp's successful and failed calls, the platform's and the SRS's CPU
# time and peak RSS, the RS INVITEs the SRS took over TCP, and the TCP findings (any
# connection closed for a bound) in both logs.
#
# Usage: scripts/bench-tcp.sh [RECPROOF_BINARY]   (default: the release build)
# Environment: RATE (calls/s, default 50), CALLS (default 1000), MODE (t1 | tn, default t1),
#              HOLD_MS (call length, default 2000).
# Bounded: CALLS calls at most; every process runs for a fixed duration and only the
# processes this script started are ended, by their PIDs; everything is on loopback.
set -euo pipefail
BIN=${1:-${CARGO_TARGET_DIR:-target}/release/recproof}
[ -x "$BIN" ] || { echo "no recproof binary at $BIN (cargo build --release -p recproof)" >&2; exit 2; }
command -v sipp >/dev/null || { echo "sipp not installed (scripts/setup-debian.sh)" >&2; exit 2; }
RATE=${RATE:-50}
CALLS=${CALLS:-1000}
MODE=${MODE:-t1}
HOLD_MS=${HOLD_MS:-2000}
RUN_S=$(( CALLS / RATE + HOLD_MS / 1000 + 60 ))
OUT=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PLATFORM=$(free_port); SRS=$(free_port); UAS=$(free_port); UAC=$(free_port)
cat > "$OUT/policy.yaml" <<YAML
organization:
  name: TCP bench
  callRecording: { vendor: Dubber }
providers:
  Dubber: { srs: "sip:dubber@127.0.0.1:$SRS", transport: tcp }
locations:
  - id: hq
people:
  - extension: "2001"
    location: hq
    callRecording: { enabled: true, record: Always }
YAML
"$BIN" srs --listen "127.0.0.1:$SRS" --rtp-port-base 12000 --rtp-port-count 2000 \
  --out "$OUT/srs" --duration "$RUN_S" 2> "$OUT/srs.err" &
SRS_PID=$!; PIDS+=("$SRS_PID")
"$BIN" platform --config "$OUT/policy.yaml" --listen "127.0.0.1:$PLATFORM" \
  --rtp-port-base 20000 --rtp-port-count 4000 --directory "2001=127.0.0.1:$UAS" \
  --duration "$RUN_S" --log "$OUT/platform.jsonl" 2> "$OUT/platform.err" &
PLATFORM_PID=$!; PIDS+=("$PLATFORM_PID")
UAS_MEDIA=$(free_port); UAC_MEDIA=$(free_port)
# exec: the PID recorded is SIPp's own, so the trap ends exactly it.
(cd "$OUT" && exec sipp -sn uas -i 127.0.0.1 -p "$UAS" -mp "$UAS_MEDIA" -nostdin -timeout "${RUN_S}s" \
  >/dev/null 2>&1) &
PIDS+=("$!")
sleep 1
stats() { # pid -> "cpu_s peak_mb"
  python3 - "$1" <<'PY'
import os, sys
pid = sys.argv[1]
f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
cpu = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
hwm = next(int(l.split()[1]) // 1024 for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM:"))
print(f"{cpu:.2f} {hwm}")
PY
}
start=$(date +%s.%N)
(cd "$OUT" && sipp -sn uac -t "$MODE" -max_socket 4096 -s 2001 -i 127.0.0.1 -p "$UAC" -mp "$UAC_MEDIA" \
  -r "$RATE" -m "$CALLS" -d "$HOLD_MS" -nostdin -timeout "${RUN_S}s" \
  -trace_stat -stf stat.csv -trace_err "127.0.0.1:$PLATFORM" >/dev/null 2>&1) || true
end=$(date +%s.%N)
read -r p_cpu p_rss <<< "$(stats "$PLATFORM_PID")"
read -r s_cpu s_rss <<< "$(stats "$SRS_PID")"
kill -INT "$PLATFORM_PID" "$SRS_PID" 2>/dev/null || true
sleep 2
ok=$(tail -1 "$OUT/stat.csv" | awk -F';' '{print $16}')
failed=$(tail -1 "$OUT/stat.csv" | awk -F';' '{print $18}')
rs_tcp=$(grep -c '"event":"sip_received".*"transport":"tcp".*"text":"INVITE ' "$OUT/srs/observations.jsonl" || true)
findings=$(cat "$OUT/srs/observations.jsonl" "$OUT/platform.jsonl" | grep '"event":"sip_malformed"' | grep -c '"transport":"tcp"' || true)
printf 'SIPp uac -t %s: %s calls at %s/s, hold %s ms, %.1f s\n' "$MODE" "$CALLS" "$RATE" "$HOLD_MS" "$(echo "$end - $start" | bc)"
printf '  successful calls %s, failed %s\n' "${ok:-?}" "${failed:-?}"
printf '  recproof platform: CPU %s s, peak RSS %s MB\n' "$p_cpu" "$p_rss"
printf '  recproof srs:      CPU %s s, peak RSS %s MB, RS INVITEs over TCP %s\n' "$s_cpu" "$s_rss" "$rs_tcp"
printf '  TCP findings (connections closed for a bound): %s\n' "$findings"
if [ -n "${KEEP:-}" ]; then echo "  run directory: $OUT (kept: KEEP is set)"; fi
