#!/usr/bin/env bash
# Runs INSIDE the old-kernel guest (see run.sh), chrooted onto the host's root filesystem, which is
# mounted read-only over virtio-9p; /proc, /sys, /sys/fs/bpf, /dev, /tmp and /run are the guest's own.
# Reads the test files to run from $RES/files and settings from $RES/config, and writes, per test
# file, NAME.out (spec reporter), NAME.tap, NAME.rc and NAME.secs to $RES, plus kernel facts, the
# probe of each bundled object (probe.txt; also any objects run.sh put in $RES/extra) and the CLI
# check (cli.txt). Never run this on the host: it expects to be alone on a throwaway kernel.
set -u
REPO=${1:?usage: guest.sh REPO}
RES=/run/bpfpipe-results
[ -d "$RES" ] && [ -f "$RES/files" ] || { echo "guest.sh: no $RES/files: not in the old-kernel guest?" >&2; exit 2; }
# shellcheck disable=SC1091
[ -f "$RES/config" ] && . "$RES/config"
PER_FILE_TIMEOUT=${PER_FILE_TIMEOUT:-1800}

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp/home TMPDIR=/tmp BPFPIPE_TEST=1 LANG=C.UTF-8 NO_COLOR=1 FORCE_COLOR=0
mkdir -p "$HOME"
cd "$REPO" || exit 2
say() { echo "[guest $(date +%H:%M:%S)] $*"; }

ip link set lo up
uname -r >"$RES/kernel-release"
cat /proc/version >"$RES/kernel-version"
nproc >"$RES/nproc"
node --version >"$RES/node-version" 2>&1
say "$(cat /proc/version)"
say "node $(cat "$RES/node-version"), $(nproc) CPUs"

# What the kernel has, as bpftool sees it (the tcx attach types are not in 6.1's uapi).
bpftool feature probe kernel 2>/dev/null | grep -E 'sched_cls|helper bpf_ringbuf_output|perf_event_array|ringbuf' \
  | grep -iv 'helper bpf_.* is NOT' | head -20 >"$RES/bpftool-features.txt" || true

# --- the test files, one at a time (they share bpffs and tc) ------------------------------------
status=0
while read -r f; do
  [ -n "$f" ] || continue
  name=$(basename "$f" .test.ts)
  say "test $f (timeout ${PER_FILE_TIMEOUT}s)"
  start=$(date +%s.%N)
  timeout --kill-after=30 "$PER_FILE_TIMEOUT" node --import tsx --test \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$RES/$name.tap" \
    "$f" >"$RES/$name.out" 2>&1 </dev/null
  rc=$?
  end=$(date +%s.%N)
  echo "$rc" >"$RES/$name.rc"
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f\n", e - s }' >"$RES/$name.secs"
  say "  -> exit $rc in $(cat "$RES/$name.secs") s: $(grep -E '^ℹ (pass|fail|skipped) ' "$RES/$name.out" | tr '\n' ' ')"
  [ "$rc" = 0 ] || status=1
done <"$RES/files"

# --- each bundled object on its own, and reader close() timing (probe.ts) -------------------------
if [ "${PROBE:-1}" = 1 ]; then
  say "probe: bundled objects one at a time, reader close() timing"
  objs=()
  for o in bpf/*.o "$RES"/extra/*.o; do
    [ -f "$o" ] && [ "$(basename "$o")" != rejected.bpf.o ] && objs+=("$o")
  done
  timeout --kill-after=30 600 node --import tsx scripts/old-kernel/probe.ts "${objs[@]}" >"$RES/probe.txt" 2>&1 </dev/null
  echo "[exit $?]" >>"$RES/probe.txt"
  sed 's/^/[guest probe] /' "$RES/probe.txt"
fi

# --- the CLI on this kernel: --attach tcx, auto, list, detach, in a throwaway namespace -----------
if [ "${CLI_CHECK:-1}" = 1 ]; then
  say "CLI check"
  {
    ns=okcli
    ip netns add $ns
    ip link add okc0 netns $ns type veth peer name okc1 netns $ns
    ip -n $ns link set okc0 up
    ip -n $ns link set okc1 up
    cli() {
      echo "\$ bpfpipe $*"
      nsenter --net=/run/netns/$ns node --import tsx src/cli/main.ts "$@" 2>&1
      echo "[exit $?]"
    }
    cli attach --iface okc0 --pin /sys/fs/bpf/okcli --attach tcx bpf/tc_events.bpf.o
    cli attach --iface okc0 --pin /sys/fs/bpf/okcli bpf/tc_events.bpf.o
    cli list --iface okc0
    echo "\$ tc filter show dev okc0 ingress"
    ip netns exec $ns tc filter show dev okc0 ingress 2>&1
    cli detach --iface okc0 --pin /sys/fs/bpf/okcli
    echo "\$ tc qdisc show dev okc0"
    ip netns exec $ns tc qdisc show dev okc0 2>&1
    ip netns del $ns
  } >"$RES/cli.txt" 2>&1
  sed 's/^/[guest cli] /' "$RES/cli.txt"
fi

echo "$status" >"$RES/status"
say "done (status $status)"
exit "$status"
