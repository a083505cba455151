#!/usr/bin/env bash
# Regenerates the README's tour: every subcommand against the real kernel, in two network namespaces
# and a veth pair of its own (198.18.60.0/30), removed at the end. Run as root after `npm run build`:
#   bash docs/tour.sh
set -euo pipefail
cd "$(dirname "$0")/.."
A=bpfdoc-a B=bpfdoc-b
PIN=/sys/fs/bpf/bpfpipe-tour
TMP=$(mktemp -d)
cleanup() {
  ip netns del $A 2>/dev/null || true
  ip netns del $B 2>/dev/null || true
  rm -rf "$PIN" "$TMP"
}
trap cleanup EXIT
ip netns add $A
ip netns add $B
ip link add veth0 netns $A type veth peer name eth0 netns $B
ip -n $A addr add 198.18.60.1/30 dev veth0
ip -n $B addr add 198.18.60.2/30 dev eth0
for ns in $A $B; do
  ip -n $ns link set lo up
  # IPv4 only, so that the tour's events are its own UDP datagrams (no IPv6 neighbour discovery).
  nsenter --net=/run/netns/$ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n $A link set veth0 up
ip -n $B link set eth0 up
inB() { nsenter --net=/run/netns/$B "$@"; }
send() { # send PORT COUNT: UDP datagrams from A to B
  for ((i = 0; i < $2; i++)); do nsenter --net=/run/netns/$A bash -c "echo hello$i > /dev/udp/198.18.60.2/$1"; done
}
bpfpipe() { inB node dist/cli/main.js "$@"; }
show() { echo; echo "\$ bpfpipe $*"; }
# show_bg CMD...: run in the background, send traffic, wait for it to end
run_with_traffic() {
  local port=$1 count=$2; shift 2
  show "$@"
  bpfpipe "$@" 2>&1 &
  local p=$!
  sleep 1.5
  send "$port" "$count"
  wait $p
}
send 9000 1 # resolve ARP first, so the tour's events are UDP
run_with_traffic 9000 1 run bpf/tc_events.bpf.o --iface eth0 --count 1
run_with_traffic 9001 1 run bpf/tc_events.bpf.o --iface eth0 --channel 1 --count 1 --format hex
run_with_traffic 9000 3 run bpf/tc_events.bpf.o --iface eth0 --count 3 --format pcapng --output "$TMP/events.pcapng"
echo "\$ tshark -r events.pcapng -T fields -e frame.number -e ip.dst -e udp.dstport -e frame.comment"
tshark -r "$TMP/events.pcapng" -T fields -e frame.number -e ip.dst -e udp.dstport -e frame.comment 2>/dev/null | cut -c1-160
show replay bpf/tc_events.bpf.o --pcap events.pcapng --format none
node dist/cli/main.js replay bpf/tc_events.bpf.o --pcap "$TMP/events.pcapng" --format none 2>&1
run_with_traffic 9000 2 run bpf/tc_events.bpf.o --iface eth0 --userspace --count 2 --format none
show attach bpf/tc_events.bpf.o --iface eth0 --pin $PIN
bpfpipe attach bpf/tc_events.bpf.o --iface eth0 --pin $PIN 2>&1
show list
bpfpipe list 2>&1
show listen $PIN/events --channel 2 --btf bpf/tc_events.bpf.o --struct event --count 1
bpfpipe listen $PIN/events --channel 2 --btf bpf/tc_events.bpf.o --struct event --count 1 2>&1 | cut -c1-200 &
p=$!
sleep 1.5
send 9002 1
wait $p
show detach --iface eth0 --pin $PIN
bpfpipe detach --iface eth0 --pin $PIN 2>&1
show gen bpf/tc_events.bpf.o
node dist/cli/main.js gen bpf/tc_events.bpf.o 2>&1 | head -30
