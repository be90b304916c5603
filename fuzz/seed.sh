#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the test vectors (the corpus is git-ignored).
# Usage: fuzz/seed.sh            (from anywhere)
set -euo pipefail
fuzz_dir="$(cd "$(dirname "$0")" && pwd)"
vectors="$fuzz_dir/../harness/siprec/tests/data/validate"
corpus="$fuzz_dir/corpus"

seed() { # seed TARGET FILE [NAME]
    mkdir -p "$corpus/$1"
    cp "$2" "$corpus/$1/${3:-$(basename "$2")}"
}

for f in "$vectors"/*.sip; do
    for t in sip_message sip_framing validate; do seed "$t" "$f"; done
    name="$(basename "$f" .sip)"
    # The body after the first empty line: SDP, metadata XML or a multipart body.
    body="$(mktemp)"
    awk 'found { print; next } /^\r?$/ { found = 1 }' "$f" >"$body"
    if grep -q '^m=' "$body"; then seed sdp "$body" "$name.sdp"; fi
    ctype="$(grep -i -m1 '^\(Content-Type\|c\):' "$f" | sed 's/^[^:]*:[[:space:]]*//; s/\r$//' || true)"
    case "$ctype" in
    multipart/*)
        boundary="$(printf '%s' "$ctype" | sed -n 's/.*boundary="\{0,1\}\([^";]*\)"\{0,1\}.*/\1/p')"
        # multipart target layout: selector 4 = unquoted boundary, length byte, boundary, body.
        { printf '\x04'; printf "\\x$(printf '%02x' "${#boundary}")"; printf '%s' "$boundary"; cat "$body"; } \
            >"$corpus/multipart.tmp"
        seed multipart "$corpus/multipart.tmp" "$name.mime"
        rm -f "$corpus/multipart.tmp"
        # Split the SDP and metadata parts out for those targets.
        awk '/^m=/ || /^v=0/ { p = 1 } /^--/ { p = 0 } p' "$body" >"$body.sdp"
        [ -s "$body.sdp" ] && seed sdp "$body.sdp" "$name.sdp"
        awk '/<\?xml/ { p = 1 } /^--/ { p = 0 } p' "$body" >"$body.xml"
        [ -s "$body.xml" ] && seed metadata "$body.xml" "$name.xml"
        rm -f "$body.sdp" "$body.xml"
        ;;
    application/sdp*) seed sdp "$body" "$name.sdp" ;;
    application/rs-metadata*) seed metadata "$body" "$name.xml" ;;
    esac
    rm -f "$body"
done
for f in "$vectors"/*.xml; do
    seed metadata "$f"
    seed validate "$f"
done

# RTP: one record per datagram, `[len][arrival step ms][bytes]`: a PCMU packet, a
# telephone-event packet with the end bit, and the same PCMU packet again (duplicate).
mkdir -p "$corpus/rtp"
pcmu='\x80\x00\x00\x01\x00\x00\x00\xa0\x12\x34\x56\x78\xff\xff\xff\xff'
event='\x80\xe5\x00\x02\x00\x00\x01\x40\x12\x34\x56\x78\x05\x8a\x03\x20'
printf "\\x10\\x00$pcmu\\x10\\x14$event\\x10\\x14$pcmu" >"$corpus/rtp/pcmu_event_dup"

# pcap: a little-endian microsecond capture, Ethernet, with two IPv4/UDP records from
# 127.0.0.1 to 127.0.0.2: an RTP packet (PCMU, 8 bytes of payload) and a SIP OPTIONS.
mkdir -p "$corpus/pcap"
pcap_bytes=(
    '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00'
    '\xff\xff\x00\x00\x01\x00\x00\x00\x00\xf1\x53\x65\x00\x00\x00\x00'
    '\x3e\x00\x00\x00\x3e\x00\x00\x00\x02\x00\x7f\x00\x00\x02\x02\x00'
    '\x7f\x00\x00\x01\x08\x00\x45\x00\x00\x30\x00\x01\x00\x00\x40\x11'
    '\x7c\xb9\x7f\x00\x00\x01\x7f\x00\x00\x02\x0f\xa0\x13\x88\x00\x1c'
    '\x00\x00\x80\x00\x00\x01\x00\x00\x00\xa0\x12\x34\x56\x78\xff\xff'
    '\xff\xff\xff\xff\xff\xff\x00\xf1\x53\x65\x20\x4e\x00\x00\x6c\x00'
    '\x00\x00\x6c\x00\x00\x00\x02\x00\x7f\x00\x00\x02\x02\x00\x7f\x00'
    '\x00\x01\x08\x00\x45\x00\x00\x5e\x00\x01\x00\x00\x40\x11\x7c\x8b'
    '\x7f\x00\x00\x01\x7f\x00\x00\x02\x13\xc4\x13\xc4\x00\x4a\x00\x00'
    '\x4f\x50\x54\x49\x4f\x4e\x53\x20\x73\x69\x70\x3a\x61\x40\x31\x32'
    '\x37\x2e\x30\x2e\x30\x2e\x31\x20\x53\x49\x50\x2f\x32\x2e\x30\x0d'
    '\x0a\x43\x61\x6c\x6c\x2d\x49\x44\x3a\x20\x78\x0d\x0a\x43\x6f\x6e'
    '\x74\x65\x6e\x74\x2d\x4c\x65\x6e\x67\x74\x68\x3a\x20\x30\x0d\x0a'
    '\x0d\x0a'
)
printf '%b' "${pcap_bytes[@]}" >"$corpus/pcap/rtp_and_sip.pcap"
# import: the same capture (the importer reads it into a log).
seed import "$corpus/pcap/rtp_and_sip.pcap"

echo "seeded: $(find "$corpus" -type f | wc -l) files in $corpus"
