#!/usr/bin/env bash
# Captures what iproute2's `tc` and `ip` send to and receive from the kernel over rtnetlink, as
# byte-exact fixtures for the codec tests (independent of bpfpipe's encoder). Run as root from the
# repository root:  bash src/netlink/testdata/capture.sh
# It works in a throwaway network namespace with its own veth pair, under `ip netns exec` (a private
# mount namespace, so the maps tc pins for tc_events.o vanish with it), and removes the namespace.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=src/netlink/testdata
ns=bpt-capture-$$
tmp=$(mktemp -d)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
# The recorded filters are named after the object file as tc saw it: tc_events.o (the committed
# bpf/tc_events.bpf.o, under the name the fixtures were captured with).
mkdir -p "$tmp/bpf" && cp bpf/tc_events.bpf.o "$tmp/bpf/tc_events.o"
ip netns add "$ns"
ip -n "$ns" link add bpcap0 type veth peer name bpcap1
ip -n "$ns" link set bpcap0 up
ip -n "$ns" link set bpcap1 up

cap() { # cap NAME CMD... : trace one command; keep its transcript (a failing command is fine)
  local name=$1; shift
  ip netns exec "$ns" strace -o "$tmp/$name.txt" -e trace=sendmsg,recvmsg,sendto,recvfrom -e write=3 -e read=3 -xx -s 65535 "$@" \
    >"$tmp/$name.stdout" 2>"$tmp/$name.stderr" || true
  node "$out/strace-to-json.mjs" "$tmp/$name.txt" "$tmp/$name.stdout" "$tmp/$name.stderr" "$@" >"$out/$name.json"
  echo "$name: $(cat "$tmp/$name.stderr" | head -c 200)"
}

cap qdisc-add-clsact       tc qdisc add dev bpcap0 clsact
cap qdisc-add-clsact-again tc qdisc add dev bpcap0 clsact
cap filter-add-ingress     tc filter add dev bpcap0 ingress bpf da obj "$tmp/bpf/tc_events.o" sec tc
cap filter-add-egress      tc filter add dev bpcap0 egress prio 7 handle 3 bpf da obj "$tmp/bpf/tc_events.o" sec tc
ip netns exec "$ns" tc filter add dev bpcap0 ingress prio 9 handle 5 bpf da obj "$tmp/bpf/tc_events.o" sec tc
cap filter-show-ingress    tc filter show dev bpcap0 ingress
cap filter-get             tc filter get dev bpcap0 egress prio 7 handle 3 protocol all bpf
cap qdisc-show             tc qdisc show dev bpcap0
cap filter-del             tc filter del dev bpcap0 egress prio 7 handle 3 protocol all bpf
cap filter-del-no-chain   tc filter del dev bpcap0 egress prio 7 handle 3 protocol all bpf
cap filter-del-missing     tc filter del dev bpcap0 ingress prio 9 handle 77 protocol all bpf
ip netns exec "$ns" tc filter del dev bpcap0 ingress
cap qdisc-del-clsact       tc qdisc del dev bpcap0 clsact
cap qdisc-del-missing      tc qdisc del dev bpcap0 clsact
cap link-show              ip link show
