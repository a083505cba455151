/**
 * The library without root: run the bundled object in the userspace runtime over a capture and count
 * events per destination port.
 *   node --import tsx examples/replay-count.ts capture.pcapng
 */
import * as fs from 'node:fs';
import { Runtime, readCapture } from 'bpfpipe';

const rt = Runtime.load(fs.readFileSync(new URL('../bpf/tc_events.bpf.o', import.meta.url)));
await using events = rt.openEvents('events', { struct: true, slots: [0, 1, 2, 3] });
const prog = rt.program('tc_events');
for (const p of readCapture(fs.readFileSync(process.argv[2]!))) prog.run(p.data, { tsNs: p.timestampNs });
await events.close(); // no more packets: what is queued is still read below
const ports = new Map<number, number>();
for await (const b of events.batches()) for (let i = 0; i < b.length; i++) {
  const dport = (b.event(i) as { dport: number }).dport;
  ports.set(dport, (ports.get(dport) ?? 0) + 1);
}
console.log(Object.fromEntries(ports), events.stats);
