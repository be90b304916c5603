#!/usr/bin/env bash
# The long flood of the hostile-SUT corpus: garbage datagrams at `recproof srs` at a fixed
# rate (default 100,000 a second for 5 s) on loopback, then a valid recording session.
# Prints: datagrams sent, what the SRS read and dropped (its own receive-buffer drops,
# harness-side loss), its peak RSS and CPU time, how many lines its log grew by, and the
# answer to the valid session after the flood.
#
# Usage: scripts/bench-flood.sh [RECPROOF_BINARY]   (default: the release build)
# Environment: RATE (datagrams/s, default 100000), SECONDS_ (default 5).
# Bounded: RATE x SECONDS_ datagrams at most, the SRS runs at most 60 s; only the process
# this script started is ended, by its PID; everything is on loopback.
set -euo pipefail
BIN=${1:-${CARGO_TARGET_DIR:-target}/release/recproof}
[ -x "$BIN" ] || { echo "no recproof binary at $BIN (cargo build --release -p recproof)" >&2; exit 2; }
RATE=${RATE:-100000}
SECS=${SECONDS_:-5}
OUT=$(mktemp -d)
trap 'kill "$SRS" 2>/dev/null || true; rm -rf "$OUT"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" srs --listen "127.0.0.1:$PORT" --rtp-port-base 47000 --rtp-port-count 16 \
  --out "$OUT" --duration 60 2> "$OUT/srs.err" &
SRS=$!
sleep 1
python3 - "$PORT" "$RATE" "$SECS" "$SRS" "$OUT" <<'EOF'
import os, socket, sys, time
port, rate, secs, pid, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
def hwm():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmHWM:"):
            return int(l.split()[1]) // 1024
def lines():
    try:
        return sum(1 for _ in open(f"{out}/observations.jsonl"))
    except OSError:
        return 0
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
to = ("127.0.0.1", port)
junk = [bytes((i * 7 + k * 13) % 256 for k in range(200)) for i in range(64)]
cpu0, lines0 = cpu(), lines()
sent, t0 = 0, time.monotonic()
total = int(rate * secs)
while sent < total:
    due = int((time.monotonic() - t0) * rate)
    while sent < min(due, total):
        try:
            s.sendto(junk[sent % 64], to)
        except BlockingIOError:
            pass
        sent += 1
    if time.monotonic() - t0 > secs * 3:
        break
elapsed = time.monotonic() - t0
time.sleep(1)
sdp = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n"
inv = (b"INVITE sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-after\r\n"
       b"Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=a\r\nTo: <sip:srs@127.0.0.1>\r\n"
       b"Call-ID: after-flood@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1:9>\r\n"
       b"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n" % len(sdp)) + sdp
s.setblocking(True); s.settimeout(3)
s.sendto(inv, to)
answer = "none"
try:
    while True:
        d, _ = s.recvfrom(65535)
        if b"after-flood" in d and d.startswith(b"SIP/2.0 2"):
            answer = d.split(b"\r\n", 1)[0].decode(); break
except socket.timeout:
    pass
print(f"flood: {sent} datagrams in {elapsed:.2f} s ({sent/elapsed:,.0f}/s) at 127.0.0.1:{port}")
print(f"recproof srs: cpu {cpu()-cpu0:.2f} s during the flood, peak RSS {hwm()} MB, log +{lines()-lines0} lines")
print(f"valid session after the flood: {answer}")
EOF
kill -INT "$SRS" 2>/dev/null || true
wait "$SRS" 2>/dev/null || true
tail -1 "$OUT/srs.err"
