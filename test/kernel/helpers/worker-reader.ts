/**
 * Worker of loop-poller.test.ts: a reader in a worker thread (woken by poller.ts's waker thread, the
 * loop poller being the main thread's). Posts { n, ms } or { error }.
 */
import { parentPort } from 'node:worker_threads';
import { loadObjectSync, openEvents } from '../../../src/index.js';
import { runOn, udpPacket } from '../../support/produce.js';

try {
  const obj = loadObjectSync('bpf/tc_events.bpf.o');
  const reader = await openEvents(obj.map('events'), { struct: 'event', flushMs: 10_000, wakeupEvents: 1 });
  // produce once the iterator waits: only a wake-up can deliver (the flush timer is 10 s away)
  setTimeout(() => runOn(0, obj.program('tc_events'), 3, udpPacket(80)), 200);
  let n = 0;
  const t0 = Date.now();
  for await (const b of reader.batches()) {
    n += b.length;
    if (n >= 3) break;
  }
  const ms = Date.now() - t0;
  await reader.close();
  obj.close();
  parentPort!.postMessage({ n, ms });
} catch (e) {
  parentPort!.postMessage({ error: String((e as Error).stack ?? e) });
}
