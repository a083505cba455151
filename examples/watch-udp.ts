/**
 * The library on the kernel path: load the bundled object, attach it to an interface's ingress, and
 * print the UDP destination port of each event until Ctrl-C. Everything is released on the way out.
 *   sudo node --import tsx examples/watch-udp.ts eth0 [count]
 */
import { loadObject, attachTc, openEvents } from 'bpfpipe';

const [iface = 'eth0', count = '10'] = process.argv.slice(2);
await using obj = await loadObject(new URL('../bpf/tc_events.bpf.o', import.meta.url).pathname);
await using link = await attachTc(obj.program('tc_events'), { iface, direction: 'ingress' });
await using events = await openEvents(obj.map('events'), { struct: 'event', signal: AbortSignal.timeout(60_000) });
console.error(`attached (${link.mode}); reading`);
let n = 0;
for await (const ev of events) {
  if (ev.lost !== undefined) console.log(`cpu ${ev.cpu}: ${ev.lost} lost`);
  else console.log(`cpu ${ev.cpu} ${ev.event!.ip_version === 4 ? `udp/tcp port ${ev.event!.dport}` : `ethertype 0x${(ev.event!.protocol as number).toString(16)}`} len ${ev.event!.len}`);
  if (++n === Number(count)) break;
}
console.error(events.stats);
