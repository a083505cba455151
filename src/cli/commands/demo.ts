/**
 * bpfpipe demo: its own two network namespaces and veth pair, the bundled tc program on the receiver's
 * ingress, UDP traffic to four ports (four channels of the perf event array), one reader per channel,
 * live events and a status line; everything is removed at the end (also on Ctrl-C). Without root (or
 * with --userspace) the same object runs in the userspace runtime over the frames that traffic would be.
 */
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import * as fs from 'node:fs';
import { loadObject, attachTc, openEvents, enterNetns, missingCapabilities, onlineCpus, ObjectSpec, Runtime, type EventReader, type EventBatch } from '../../index.js';
import { seconds } from '../options.js';
import { Session } from '../session.js';
import { createDemoNet } from '../demo/netns.js';
import { startTraffic, type Traffic } from '../demo/traffic.js';
import { udpFrame } from '../demo/frames.js';
import { formatRate } from '../status.js';
import { CLI_READER } from './common.js';

const OBJECT = fileURLToPath(new URL('../../../bpf/tc_events.bpf.o', import.meta.url));
const CHANNELS = 4;

function ip(bytes: unknown): string {
  return Array.isArray(bytes) ? bytes.slice(0, 4).join('.') : '?';
}

const ETHERTYPES: Record<number, string> = { 0x0806: 'arp', 0x86dd: 'ipv6', 0x88cc: 'lldp' };

function line(b: EventBatch, i: number, channel: number): string {
  const e = b.event(i) as Record<string, unknown>;
  const t = new Date().toISOString().slice(11, 23);
  const head = `${t} cpu${b.cpu(i)} ch${channel}`;
  if (e.ip_version !== 4) {
    const p = e.protocol as number;
    return `${head} ${ETHERTYPES[p] ?? `ethertype 0x${p.toString(16).padStart(4, '0')}`} len ${e.len} seq ${e.seq}`;
  }
  const proto = e.ip_proto === 17 ? 'udp' : e.ip_proto === 6 ? 'tcp' : e.ip_proto === 1 ? 'icmp' : `proto ${e.ip_proto}`;
  return `${head} ${proto} ${ip(e.saddr)}:${e.sport} -> ${ip(e.daddr)}:${e.dport} len ${e.len} seq ${e.seq}`;
}

interface DemoRun {
  readers: Pick<EventReader, 'batches' | 'close'>[];
  traffic: Traffic;
  /** What the end of the demo does ("removing the namespaces"). */
  ending: string;
}

/** The real kernel path: two namespaces, a veth pair, tc_events on the receiver's ingress, UDP traffic. */
async function kernelDemo(session: Session, rate: number): Promise<DemoRun> {
  const net = session.own('network namespaces', createDemoNet(), (n) => n.close());
  process.stderr.write(`bpfpipe demo: namespaces ${net.a} and ${net.b}, veth ${net.ifaceA} (${net.addrA}) <-> ${net.ifaceB} (${net.addrB})\n`);
  // Attach in the receiver's namespace; the pins go to a private bpffs directory.
  const back = enterNetns(net.b);
  const obj = session.own('object', await loadObject(OBJECT, { pinDir: `/sys/fs/bpf/bpfpipe-demo-${process.pid}` }), (o) => o.close());
  try {
    const att = session.own('attachment', await attachTc(obj.program('tc_events'), { iface: net.ifaceB, direction: 'ingress' }), (a) => a.close());
    process.stderr.write(`bpfpipe demo: tc_events attached to ${net.ifaceB} ingress (${att.mode}); channel k = UDP port 9000+k\n`);
  } finally {
    back();
  }
  const readers: EventReader[] = [];
  for (let k = 0; k < CHANNELS; k++) {
    readers.push(session.own(`reader ${k}`, await openEvents(obj.map('events'), { channel: k, struct: 'event', pagesPerCpu: 64, ...CLI_READER }), (r) => r.close()));
  }
  const traffic = session.own('traffic', await startTraffic(net.a, net.addrA, net.addrB, rate), (t) => t.stop());
  return { readers, traffic, ending: 'removing the namespaces' };
}

/** Without privileges: the same object in the userspace runtime, over the frames the demo's traffic would put on the wire. */
function userspaceDemo(session: Session, rate: number, why: string): DemoRun {
  process.stderr.write(
    `bpfpipe demo: ${why}: running tc_events in bpfpipe's userspace eBPF runtime over synthetic UDP frames; nothing is loaded into the kernel (as root, the demo uses the real kernel path)\n`,
  );
  const ncpus = Math.max(1, Math.min(onlineCpus().length, 64));
  const rt = Runtime.load(ObjectSpec.parse(new Uint8Array(fs.readFileSync(OBJECT))), { programs: ['tc_events'], ncpus });
  const prog = rt.program('tc_events');
  const readers = Array.from({ length: CHANNELS }, (_, k) => session.own(`reader ${k}`, rt.openEvents('events', { channel: k, struct: 'event' }), (r) => r.close()));
  const [from, to] = ['198.18.0.1', '198.18.0.2'];
  const traffic: Traffic = { sent: 0, stop: () => clearInterval(timer) };
  const tickMs = Math.max(20, Math.round(1000 / rate));
  const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
  const timer = setInterval(() => {
    for (let i = 0; i < perTick; i++) {
      const n = traffic.sent++;
      prog.run(udpFrame(from, to, 40000, 9000 + (n % CHANNELS), 32 + ((n * 37) % 480)), { cpu: n % ncpus, ifindex: 2 });
    }
  }, tickMs);
  session.own('traffic', traffic, (t) => t.stop());
  process.stderr.write(`bpfpipe demo: ${from}:40000 -> ${to}:9000..9003 at ${rate} packets/s on ${ncpus} simulated CPUs; channel k = UDP port 9000+k\n`);
  return { readers, traffic, ending: 'closing the runtime' };
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('see the event pipe work: own netns + veth pair, the bundled tc program, generated traffic, live events')
    .option('--duration <s>', 'how long to run', seconds, 10)
    .option('--rate <n>', 'packets per second', (v) => Math.max(1, Math.min(100000, Number(v) || 200)), 200)
    .option('--userspace', 'run the program in bpfpipe\'s userspace eBPF runtime over synthetic frames (the default without root)')
    .action(async (flags: { duration: number; rate: number; userspace?: boolean }) => {
      const session = new Session();
      const tty = process.stdout.isTTY === true;
      const counts = new Array<number>(CHANNELS).fill(0);
      let lost = 0;
      try {
        const missing = missingCapabilities(['SYS_ADMIN', 'BPF', 'NET_ADMIN', 'PERFMON']);
        const demo = flags.userspace || missing.length > 0
          ? userspaceDemo(session, flags.rate, flags.userspace ? 'as asked (--userspace)' : `without ${missing.map((c) => `CAP_${c}`).join(', ')} (not root)`)
          : await kernelDemo(session, flags.rate);
        const { readers, traffic } = demo;
        const stop = () => {
          for (const r of readers) void r.close();
        };
        session.onStop(stop);
        const timer = setTimeout(stop, flags.duration * 1000);
        const started = Date.now();
        let last = 0;
        const status = setInterval(() => {
          const total = counts.reduce((a, b) => a + b, 0);
          const s = `${formatRate((total - last) * 2)} events/s  received ${total}  ${counts.map((c, k) => `ch${k} ${c}`).join('  ')}  lost ${lost}  sent ${traffic.sent}`;
          last = total;
          if (tty) process.stderr.write(`\r\x1b[2K${s}`);
        }, 500);
        await Promise.all(
          readers.map(async (r, k) => {
            for await (const b of r.batches()) {
              counts[k]! += b.length;
              lost += b.lostCount;
              let out = '';
              for (let i = 0; i < b.length; i++) out += line(b, i, k) + '\n';
              if (out) {
                if (tty) process.stderr.write('\r\x1b[2K');
                process.stdout.write(out);
              }
            }
          }),
        );
        clearTimeout(timer);
        clearInterval(status);
        if (tty) process.stderr.write('\r\x1b[2K');
        const total = counts.reduce((a, b) => a + b, 0);
        process.stderr.write(
          `bpfpipe demo: ${((Date.now() - started) / 1000).toFixed(1)} s, sent ${traffic.sent} packets, received ${total} events (${counts.map((c, k) => `channel ${k}: ${c}`).join(', ')}), lost ${lost}; ${demo.ending}\n`,
        );
        process.stderr.write(`received ${total}, lost ${lost}\n`);
      } finally {
        await session.close();
      }
    });
}
