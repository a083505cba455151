#!/usr/bin/env bash
# Runs bpfpipe's kernel tests (attach, readers, load) on Debian's Linux 6.1 — a kernel without tcx —
# booted under qemu (software emulation when there is no KVM) with a small initramfs of our own.
# The guest mounts the host's root read-only over virtio-9p and runs the tests from this checkout;
# it has no network device and its own bpffs, tc and namespaces, so nothing on the host (interfaces,
# qdiscs, pins) is touched. See docs/old-kernel.md.
#
#   sudo scripts/old-kernel/run.sh                 the default test files (below)
#   sudo scripts/old-kernel/run.sh test/kernel/attach-clsact.test.ts ...
#   sudo scripts/old-kernel/run.sh --all          every test/kernel/*.test.ts
#
# Environment:
#   OLD_KERNEL_PKG      kernel package (default: the newest linux-image-6.1.0-N-amd64-unsigned)
#   OLD_KERNEL_TIMEOUT  seconds for the whole guest run (default 5400)
#   PER_FILE_TIMEOUT    seconds per test file in the guest (default 1800)
#   OLD_KERNEL_MEM      guest memory in MiB (default 2048); OLD_KERNEL_CPUS guest CPUs (default 2)
#   OLD_KERNEL_WAIT_BENCH=0  do not wait for running benchmarks (bench/) before booting
#   CLI_CHECK=0         skip the CLI check (bpfpipe attach --attach tcx / auto, list, detach)
#   PROBE=0             skip probe.ts (each bpf/*.o loaded on its own; reader close() timing)
#   OLD_KERNEL_EXTRA_OBJECTS="a.o b.o"  more objects for the probe to load (e.g. a candidate fix)
#
# Caches the kernel under build/old-kernel/<release>/; the last run's logs and summary are left in
# build/old-kernel/last-run/. Exit status: 0 when every test file passed, 1 otherwise, 2 on setup errors.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$REPO/scripts/old-kernel
BUILD=$REPO/build/old-kernel
DEFAULT_FILES=(
  test/kernel/attach-tcx.test.ts
  test/kernel/attach-clsact.test.ts
  test/kernel/attach-cleanup.test.ts
  test/kernel/load.test.ts
  test/kernel/reader-behaviour.test.ts
  test/kernel/reader-accounting.test.ts
  test/kernel/reader-hotplug.test.ts
)
FILES=("$@")
((${#FILES[@]})) || FILES=("${DEFAULT_FILES[@]}")
[ "${FILES[*]}" = --all ] && mapfile -t FILES < <(cd "$REPO" && ls test/kernel/*.test.ts)
TOTAL_TIMEOUT=${OLD_KERNEL_TIMEOUT:-5400}
MEM=${OLD_KERNEL_MEM:-2048}
CPUS=${OLD_KERNEL_CPUS:-2}
# Guest modules: virtio + 9p to reach the host's root, and what the tests use (dependencies added).
MODULES=(virtio_pci 9pnet_virtio 9p veth sch_ingress cls_bpf act_bpf)

log() { echo "[old-kernel] $*" >&2; }
fail() { log "error: $*"; exit 2; }

[ "$(id -u)" = 0 ] || fail "run as root (apt-get, and qemu's 9p passthrough of /)"
cd "$REPO"
for f in "${FILES[@]}"; do [ -f "$f" ] || fail "no such test file: $f"; done

# --- 1. tools and the kernel ------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
updated=0
apt_update() { ((updated)) || { apt-get update -qq >/dev/null; updated=1; }; }
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
# The initramfs needs a statically linked busybox (the busybox package's is dynamic).
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v depmod >/dev/null || need+=(kmod)
command -v xz >/dev/null || need+=(xz-utils)
command -v bpftool >/dev/null || need+=(bpftool)
command -v tc >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  apt_update
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

PKG=${OLD_KERNEL_PKG:-}
newest_61() { apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' | awk '{print $1}' | sort -V | tail -1; }
if [ -z "$PKG" ]; then
  PKG=$(newest_61)
  [ -n "$PKG" ] || { apt_update; PKG=$(newest_61); }
  [ -n "$PKG" ] || fail "no linux-image-6.1.0-*-amd64-unsigned package in apt's lists"
fi
REL=$(sed -E 's/^linux-image-//; s/-unsigned$//' <<<"$PKG")
KDIR=$BUILD/$REL
KROOT=$KDIR/root
if [ ! -f "$KDIR/.extracted" ]; then
  log "fetching $PKG (extracted under build/old-kernel, not installed)"
  rm -rf "$KDIR"
  mkdir -p "$KDIR/deb"
  (cd "$KDIR/deb" && { apt-get download "$PKG" >/dev/null 2>&1 || { apt_update; apt-get download "$PKG" >/dev/null 2>&1; }; }) \
    || fail "apt-get download $PKG failed"
  chmod 755 "$KDIR/deb"
  dpkg-deb -x "$KDIR"/deb/*.deb "$KROOT"
  depmod -b "$KROOT" "$REL"
  rm -rf "$KDIR/deb"
  touch "$KDIR/.extracted"
fi
VMLINUZ=$KROOT/boot/vmlinuz-$REL
[ -f "$VMLINUZ" ] || fail "no $VMLINUZ"

# --- 2. the initramfs ---------------------------------------------------------------------------------
TMP=$(mktemp -d "$BUILD/run.XXXXXX")
QPID=
TPID=
cleanup() {
  [ -n "$TPID" ] && kill "$TPID" 2>/dev/null
  [ -n "$QPID" ] && kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

IR=$TMP/initramfs
mkdir -p "$IR"/{bin,dev,proc,sys,newroot,lib/modules}
cp /bin/busybox "$IR/bin/busybox"
ln -s busybox "$IR/bin/sh"
install -m 755 "$HERE/init.sh" "$IR/init"
: >"$IR/modules.list"
declare -A seen=()
for m in "${MODULES[@]}"; do
  if grep -qE "/${m//_/[_-]}\.ko" "$KROOT/lib/modules/$REL/modules.builtin"; then continue; fi
  deps=$(modprobe -d "$KROOT" -S "$REL" --show-depends "$m" 2>&1) || fail "module $m: $deps"
  while read -r kind path _; do
    [ "$kind" = insmod ] || continue
    base=$(basename "$path")
    [ -n "${seen[$base]:-}" ] && continue
    seen[$base]=1
    out=${base%.xz}; out=${out%.zst}; out=${out%.gz}
    case "$base" in
      *.ko.xz) xz -dc "$path" >"$IR/lib/modules/$out" ;;
      *.ko.zst) zstd -qdc "$path" >"$IR/lib/modules/$out" ;;
      *.ko.gz) gzip -dc "$path" >"$IR/lib/modules/$out" ;;
      *) cp "$path" "$IR/lib/modules/$out" ;;
    esac
    echo "$out" >>"$IR/modules.list"
  done <<<"$deps"
done
(cd "$IR" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$TMP/initrd.gz"
log "kernel $REL; initramfs $(du -k "$TMP/initrd.gz" | cut -f1) KiB with $(wc -l <"$IR/modules.list") modules"

# --- 3. boot ------------------------------------------------------------------------------------------
RES=$TMP/results
mkdir -p "$RES"
printf '%s\n' "${FILES[@]}" >"$RES/files"
{
  echo "PER_FILE_TIMEOUT=${PER_FILE_TIMEOUT:-1800}"
  echo "CLI_CHECK=${CLI_CHECK:-1}"
  echo "PROBE=${PROBE:-1}"
} >"$RES/config"
if [ -n "${OLD_KERNEL_EXTRA_OBJECTS:-}" ]; then
  mkdir -p "$RES/extra"
  for o in $OLD_KERNEL_EXTRA_OBJECTS; do cp "$o" "$RES/extra/" || fail "cannot copy $o"; done
fi

if [ "${OLD_KERNEL_WAIT_BENCH:-1}" = 1 ]; then
  waited=0
  while pgrep -f 'bench/' >/dev/null && ((waited < 1500)); do
    ((waited == 0)) && log "a benchmark is running (bench/): waiting for it (up to 25 min)"
    sleep 20
    waited=$((waited + 20))
  done
  ((waited)) && log "waited ${waited} s for benchmarks"
fi

ACCEL=tcg
[ -w /dev/kvm ] && ACCEL=kvm
log "booting $REL under qemu ($ACCEL, $CPUS CPUs, $MEM MiB); files: ${FILES[*]}"
started=$(date +%s)
timeout --kill-after=20 "$TOTAL_TIMEOUT" qemu-system-x86_64 \
  -accel "$ACCEL" -cpu max -smp "$CPUS" -m "$MEM" \
  -nographic -monitor none -serial "file:$TMP/console.log" -no-reboot -nic none \
  -kernel "$VMLINUZ" -initrd "$TMP/initrd.gz" \
  -append "console=ttyS0 quiet loglevel=4 panic=-1 mitigations=off bpfpipe.repo=$REPO" \
  -virtfs "local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap" \
  -virtfs "local,path=$RES,mount_tag=results,security_model=passthrough" \
  </dev/null >"$TMP/qemu.log" 2>&1 &
QPID=$!
touch "$TMP/console.log"
tail -n +1 -f --pid="$QPID" "$TMP/console.log" 2>/dev/null | grep --line-buffered -E '^\[(init|guest)' >&2 &
TPID=$!
set +e
wait "$QPID"
qrc=$?
set -e
QPID=
sleep 1
kill "$TPID" 2>/dev/null || true
TPID=
elapsed=$(($(date +%s) - started))

# --- 4. summary ---------------------------------------------------------------------------------------
set +e +o pipefail
LAST=$BUILD/last-run
rm -rf "$LAST"
mkdir -p "$LAST"
cp -r "$RES"/. "$LAST"/
cp "$TMP/console.log" "$TMP/qemu.log" "$LAST"/
count() { grep -E "^ℹ $1 [0-9]+" "$2" 2>/dev/null | awk '{print $3}' | tail -1; }
{
  echo "== bpfpipe on an old kernel: $PKG"
  echo "guest kernel: $(cat "$RES/kernel-version" 2>/dev/null || echo '(no answer from the guest)')"
  echo "qemu: $ACCEL, $CPUS CPUs, $MEM MiB; exit $qrc; wall time ${elapsed} s (boot + tests)"
  [ -f "$RES/init-error" ] && echo "guest init error: $(cat "$RES/init-error")"
  ((qrc == 124 || qrc == 137)) && echo "the guest run hit OLD_KERNEL_TIMEOUT=${TOTAL_TIMEOUT}s"
  printf '%-40s %6s %5s %5s %8s %6s %8s\n' file tests pass fail skipped exit seconds
  for f in "${FILES[@]}"; do
    n=$(basename "$f" .test.ts)
    if [ -f "$RES/$n.rc" ]; then
      printf '%-40s %6s %5s %5s %8s %6s %8s\n' "$f" "$(count tests "$RES/$n.out")" "$(count pass "$RES/$n.out")" \
        "$(count fail "$RES/$n.out")" "$(count skipped "$RES/$n.out")" "$(cat "$RES/$n.rc")" "$(cat "$RES/$n.secs")"
    else
      printf '%-40s %s\n' "$f" "not run"
    fi
  done
  for f in "${FILES[@]}"; do
    n=$(basename "$f" .test.ts)
    [ -f "$RES/$n.tap" ] || continue
    # Each failure with the first line of its error, from the spec output (before its recap).
    # (An error the same as the previous failure's is not repeated.)
    bad=$(awk '/^✖ failing tests:/ { exit }
      want == 2 && /\.test\.ts:[0-9]+/ { sub(/^ +/, ""); if (!same) print "          " $0; want = 0 }
      want == 1 { sub(/^ +/, ""); err = substr($0, 1, 200); same = err == prev; print "        " (same ? "(the same error)" : err); prev = err; want = 2 }
      /^ *✖ / { line = $0; sub(/^ *✖ /, "", line); print "  FAIL: " line; want = 1 }' "$RES/$n.out")
    skipped=$(grep -E '^ *ok .*# SKIP' "$RES/$n.tap" | sed -E 's/^ *ok [0-9]+ - /  skip: /')
    if [ -n "$bad$skipped" ]; then
      echo "-- $f"
      [ -n "$bad" ] && echo "$bad"
      [ -n "$skipped" ] && echo "$skipped"
    fi
  done
  if [ -s "$RES/probe.txt" ]; then
    echo "-- probe (each bundled object on its own; reader close() timing)"
    sed 's/^/  /' "$RES/probe.txt"
  fi
  if [ -s "$RES/cli.txt" ]; then
    echo "-- CLI on this kernel"
    sed 's/^/  /' "$RES/cli.txt"
  fi
} | tee "$LAST/summary.txt"
log "logs: build/old-kernel/last-run/ (summary.txt, console.log, NAME.out/.tap per test file)"

[ -f "$RES/status" ] || exit 1
exit "$(cat "$RES/status")"
