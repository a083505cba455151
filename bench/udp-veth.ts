/**
 * Real traffic: UDP from one network namespace to another over a veth pair, the bundled tc program on
 * the receiver's ingress emitting an event (struct + 128 packet bytes) per packet. The sender is pinned
 * to CPU 1 (so is the receive path), the reader to CPU 0. Same traffic, same program: libbpf's watermark
 * reader (256 pages per CPU), then bpfpipe with its defaults (its default ring: 1024 pages, for the
 * reader's stalls while V8 marks its old generation; UDP_BPFPIPE_PAGES=256 gives it libbpf's size).
 * Packet rate = packets the program saw per second; lost = outputs the full ring refused. The summary's
 * ratio is of the two medians, and `paired` the median of the rounds' own ratios.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { loadObjectSync, attachTc, enterNetns } from '../src/index.js';
import { createDemoNet } from '../src/cli/demo/netns.js';
import { ROOT, BIN, BPFPIPE_READER_CMD, buildBaselines, startReader, sleep, median, onInterrupt, type ReaderProc } from './harness.js';

const SECONDS = Number(process.env.UDP_SECONDS ?? 3);
const REPEAT = Number(process.env.UDP_REPEAT ?? 3);
const PAGES = '256';
// UDP_BPFPIPE_PAGES: a ring size for the bpfpipe reader (default: the library's default)
const BPFPIPE_PAGES = process.env.UDP_BPFPIPE_PAGES ?? 'default';
const pinDir = `/sys/fs/bpf/bpfpipe-bench-udp-${process.pid}`;

buildBaselines(); // the C reader and flood, and dist/ for the bpfpipe reader
const net = createDemoNet();
const obj = loadObjectSync(path.join(ROOT, 'bpf/tc_events.bpf.o'), { pinDir });
const back = enterNetns(net.b);
const att = await attachTc(obj.program('tc_events'), { iface: net.ifaceB, direction: 'ingress' });
back();
// an interrupted run leaves nothing behind either
onInterrupt(() => {
  att.close();
  obj.close();
  net.close();
});

function counters(): { seen: number; ok: number; failed: number } {
  const m = obj.map('counters');
  const get = (k: number) => (m.lookupPerCpu(new Uint8Array(new Uint32Array([k]).buffer)) ?? [])
    .reduce((a, v) => a + Number(new DataView(v.buffer, v.byteOffset).getBigUint64(0, true)), 0);
  return { seen: get(0), ok: get(1), failed: get(2) };
}

async function measure(name: string, reader: ReaderProc) {
  // Warm up with a short burst, then measure.
  execFileSync('nsenter', [`--net=${net.a}`, 'taskset', '-c', '1', path.join(BIN, 'udpflood'), net.addrB, '9000', '0.5']);
  await sleep(300);
  const c0 = counters();
  const out = JSON.parse(execFileSync('nsenter', [`--net=${net.a}`, 'taskset', '-c', '1', path.join(BIN, 'udpflood'), net.addrB, '9000', String(SECONDS)]).toString());
  await sleep(300);
  const c1 = counters();
  reader.child.kill('SIGUSR1');
  const r = await reader.result();
  const row = {
    name: 'real UDP over veth, tc ingress, 80 B event + 128 packet bytes',
    reader: name,
    sent: out.sent,
    packets: c1.seen - c0.seen,
    packetsPerSec: Math.round((c1.seen - c0.seen) / out.seconds),
    events: c1.ok - c0.ok + (c1.failed - c0.failed),
    lost: c1.failed - c0.failed,
    readerCpuSeconds: r.cpuSeconds,
    // BENCH_GAPS=1: the reader's batch gaps and loss notices (bench/readers/bpfpipe-reader.ts)
    ...(r.gaps ? { gaps: r.gaps } : {}),
  };
  console.log(JSON.stringify(row));
  return row;
}

try {
  const pin = `${pinDir}/events`;
  const cs: Awaited<ReturnType<typeof measure>>[] = [];
  const bs: Awaited<ReturnType<typeof measure>>[] = [];
  for (let i = 0; i < REPEAT; i++) {
    cs.push(await measure('libbpf watermark', await startReader([path.join(BIN, 'libbpf_reader'), 'perf-watermark', pin, PAGES])));
    bs.push(await measure('bpfpipe defaults', await startReader([...BPFPIPE_READER_CMD, 'batches', pin, BPFPIPE_PAGES])));
  }
  const c = median(cs, (r) => r.packetsPerSec);
  const b = median(bs, (r) => r.packetsPerSec);
  console.log(JSON.stringify({
    summary: 'real UDP over veth',
    libbpf: { packetsPerSec: c.packetsPerSec, lost: c.lost },
    bpfpipe: { packetsPerSec: b.packetsPerSec, lost: b.lost },
    ratio: {
      packetsPerSec: Math.round((b.packetsPerSec / c.packetsPerSec) * 1000) / 1000,
      // the median of each round's ratio (its two runs are a few seconds apart): the VM's slow phases,
      // which can begin between the rounds, then move both sides of a ratio alike
      paired: Math.round(median(bs.map((r, i) => r.packetsPerSec / cs[i]!.packetsPerSec), (x) => x) * 1000) / 1000,
    },
    lostRuns: { libbpf: cs.filter((r) => r.lost > 0).length, bpfpipe: bs.filter((r) => r.lost > 0).length, of: REPEAT },
  }));
} finally {
  att.close();
  obj.close();
  net.close();
}
