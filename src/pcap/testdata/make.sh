#!/usr/bin/env bash
# Regenerates the capture fixtures with Wireshark's own tools (text2pcap, editcap, mergecap).
set -euo pipefail
cd "$(dirname "$0")"
cat > frames.txt <<'TXT'
000000 02 00 00 00 00 02 02 00 00 00 00 01 08 00 45 00
000010 00 24 12 34 40 00 40 11 00 00 c6 12 00 01 c6 12
000020 00 02 9c 40 23 28 00 10 ab cd de ad be ef 01 02
000030 03 04
000000 02 00 00 00 00 02 02 00 00 00 00 01 86 dd 60 00
000010 00 00 00 08 3a ff fe 80 00 00 00 00 00 00 00 00
000020 00 00 00 00 00 01 ff 02 00 00 00 00 00 00 00 00
000030 00 00 00 00 00 01 87 00 12 34 00 00 00 00
TXT
text2pcap -q -F pcap frames.txt udp-us.pcap
editcap -F nsecpcap udp-us.pcap udp-ns.pcap
text2pcap -q -F pcapng frames.txt udp.pcapng
editcap -F pcapng -s 40 udp-us.pcap udp-snap40.pcapng
cat udp.pcapng udp-snap40.pcapng > two-sections.pcapng
rm frames.txt
