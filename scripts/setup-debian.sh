#!/usr/bin/env bash
# Installs the Debian packages recproof's tests and evidence checks use.
# The Rust build itself needs none of them: without these packages the interop and
# oracle tests report themselves as skipped (with the reason) instead of failing.
#
#   sip-tester     SIPp, the independent SIP peer for interop tests
#   tshark         decodes recproof's pcap evidence (SIP and RTP) as an oracle
#   libxml2-utils  xmllint, the independent XML well-formedness/namespace oracle
#   sox            reads the WAV evidence; espeak-ng makes speech-like test audio
#   chromium       renders the HTML report headless in the report tests
#
# Idempotent; run as root (or with sudo). Safe to run on every CI start.
set -euo pipefail

packages=(sip-tester tshark libxml2-utils sox espeak-ng chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-debian: all packages present (${packages[*]})"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup-debian: installed ${missing[*]}"
