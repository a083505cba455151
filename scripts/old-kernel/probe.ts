/**
 * Old-kernel probe, run INSIDE the guest by guest.sh (never on the host: it loads objects and pins
 * under /sys/fs/bpf). Reports, one object at a time, whether each bundled BPF object loads on this
 * kernel (the load test stops at the first object that fails, hiding the rest), and how long
 * EventReader.close() takes with a loop waiting on it (the reader-behaviour test allows 1 s; under
 * software emulation that budget is tight, so the timing tells slowness from a hang).
 *
 *   node --import tsx scripts/old-kernel/probe.ts OBJ.o...
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadObjectSync, openEvents } from '../../src/index.js';
import { udpPacket } from '../../test/support/produce.js';

const objects = process.argv.slice(2);
let n = 0;
const pinDirFor = () => `/sys/fs/bpf/bpfpipe-oldkernel-probe-${process.pid}-${++n}`;
const firstLine = (e: unknown) => (e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)).split('\n')[0]!;

console.log('== bundled objects, one at a time');
for (const file of objects) {
  const pinDir = pinDirFor();
  try {
    const obj = loadObjectSync(file, { pinDir });
    try {
      const progs = [...obj.programs.values()];
      const ran = progs.filter((p) => p.type === 3).map((p) => `${p.name}=${p.testRun({ data: udpPacket(80) }).retval}`);
      console.log(`ok      ${path.basename(file)}: ${progs.length} programs, ${obj.maps.size} maps; test-run ${ran.join(' ') || '-'}`);
    } finally {
      obj.close();
    }
  } catch (e) {
    console.log(`REFUSED ${path.basename(file)}: ${firstLine(e)}`);
    // The verifier's last words: the instructions that led to the refusal.
    const log = (e as { log?: unknown }).log;
    if (Array.isArray(log)) for (const l of log.slice(-12)) console.log(`          | ${String(l).slice(0, 240)}`);
  } finally {
    fs.rmSync(pinDir, { recursive: true, force: true });
  }
}

console.log('== EventReader.close() with a waiting loop (bpf/tc_events.bpf.o, flushMs 60000)');
{
  const pinDir = pinDirFor();
  const obj = loadObjectSync('bpf/tc_events.bpf.o', { pinDir });
  try {
    const times: string[] = [];
    for (let i = 0; i < 3; i++) {
      const reader = await openEvents(obj.map('events'), { flushMs: 60_000 });
      obj.program('tc_events').testRun({ data: udpPacket(80), repeat: 5 });
      let got = 0;
      const loop = (async () => {
        for await (const e of reader) if (e.lost === undefined) got++;
      })();
      await new Promise((r) => setTimeout(r, 100));
      const t0 = performance.now();
      await reader.close();
      const closed = performance.now() - t0;
      await loop;
      times.push(`close ${closed.toFixed(0)} ms, loop ended ${(performance.now() - t0).toFixed(0)} ms, ${got} events`);
    }
    for (const t of times) console.log(`  ${t}`);
  } finally {
    obj.close();
    fs.rmSync(pinDir, { recursive: true, force: true });
  }
}
