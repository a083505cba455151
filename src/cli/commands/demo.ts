/**
 * bpfpipe demo: its own two network namespaces and veth pair, the bundled tc program on the receiver's
 * ingress, UDP traffic to four ports (four channels of the perf event array), one reader per channel,
 * live events and a status line; everything is removed at the end (also on Ctrl-C).
 */
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { loadObject, attachTc, openEvents, enterNetns, type EventReader, type EventBatch } from '../../index.js';
import { seconds } from '../options.js';
import { Session } from '../session.js';
import { createDemoNet } from '../demo/netns.js';
import { startTraffic } from '../demo/traffic.js';
import { formatRate } from '../status.js';

const OBJECT = fileURLToPath(new URL('../../../bpf/tc_events.o', import.meta.url));
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

export function demoCommand(): Command {
  return new Command('demo')
    .description('see the event pipe work: own netns + veth pair, the bundled tc program, generated traffic, live events')
    .option('--duration <s>', 'how long to run', seconds, 10)
    .option('--rate <n>', 'packets per second', (v) => Math.max(1, Math.min(100000, Number(v) || 200)), 200)
    .action(async (flags: { duration: number; rate: number }) => {
      const session = new Session();
      const tty = process.stdout.isTTY === true;
      const counts = new Array<number>(CHANNELS).fill(0);
      let lost = 0;
      try {
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
          readers.push(session.own(`reader ${k}`, await openEvents(obj.map('events'), { channel: k, struct: 'event', pagesPerCpu: 64 }), (r) => r.close()));
        }
        const traffic = session.own('traffic', await startTraffic(net.a, net.addrA, net.addrB, flags.rate), (t) => t.stop());
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
          `bpfpipe demo: ${((Date.now() - started) / 1000).toFixed(1)} s, sent ${traffic.sent} packets, received ${total} events (${counts.map((c, k) => `channel ${k}: ${c}`).join(', ')}), lost ${lost}; removing the namespaces\n`,
        );
        process.stderr.write(`received ${total}, lost ${lost}\n`);
      } finally {
        await session.close();
      }
    });
}
