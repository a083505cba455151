/**
 * CPU hotplug: a reader opened while a CPU is offline reads the online ones, and gets the ring of the
 * CPU as soon as it comes back (within its CPU check period).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { loadObjectSync, openEvents, onlineCpus, possibleCpus } from '../../src/index.js';
import { fdSnapshot, assertNoFdLeak, uniquePinDir, removeTree } from '../support/leaks.js';
import { runOn, udpPacket } from '../support/produce.js';

const fds = fdSnapshot();
const pinDir = uniquePinDir('hotplug');
after(async () => {
  removeTree(pinDir);
  await assertNoFdLeak(fds, 'hotplug tests');
});

const last = possibleCpus().at(-1)!;
const control = `/sys/devices/system/cpu/cpu${last}/online`;
const canHotplug = possibleCpus().length > 1 && fs.existsSync(control) && onlineCpus().includes(last);

function setOnline(on: boolean): void {
  fs.writeFileSync(control, on ? '1' : '0');
}

test('a CPU that comes online gets its ring', { skip: canHotplug ? false : `cannot take CPU ${last} offline on this machine` }, async () => {
  const obj = loadObjectSync('bpf/tc_events.bpf.o', { pinDir });
  try {
    setOnline(false);
    try {
      await using reader = await openEvents(obj.map('events'), { flushMs: 20 });
      assert.ok(!reader.cpus.includes(last), 'no ring on the offline CPU');
      setOnline(true);
      runOn(onlineCpus()[0]!, obj.program('tc_events'), 1, udpPacket(80)); // something to iterate on
      let seen = false;
      const deadline = Date.now() + 5000;
      // Iterate (the reader checks for new CPUs while it waits) until the CPU's events show up.
      const stop = setTimeout(() => void reader.close(), 5000);
      const produce = setInterval(() => {
        if (reader.cpus.includes(last)) runOn(last, obj.program('tc_events'), 3, udpPacket(80));
      }, 100);
      try {
        for await (const batch of reader.batches()) {
          for (let i = 0; i < batch.length; i++) if (batch.cpu(i) === last) seen = true;
          if (seen || Date.now() > deadline) break;
        }
      } finally {
        clearTimeout(stop);
        clearInterval(produce);
      }
      assert.ok(reader.cpus.includes(last), 'the reader opened the ring of the CPU that came back');
      assert.ok(seen, 'events from that CPU arrive');
    } finally {
      setOnline(true);
    }
  } finally {
    obj.close();
  }
});
