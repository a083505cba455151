/**
 * idleOtherThreads(): every thread of the process but the calling one and bpfpipe's poller goes under
 * SCHED_IDLE, and restore() gives them their policy back where the kernel allows it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { uniquePinDir, removeTree } from '../support/leaks.js';

const SCHED_OTHER = 0;
const SCHED_IDLE = 5;
const pinDir = uniquePinDir('threads');
after(() => removeTree(pinDir));

interface Report {
  main: number;
  pollers: number[];
  idled: { tid: number; policy: number }[];
  during: Record<string, number>;
  after: Record<string, number>;
  restoreError?: { code: string; message: string };
}

function child(prefix: string[], args: string[], env: Record<string, string> = {}): Report {
  const r = spawnSync(prefix[0] ?? process.execPath, [...prefix.slice(1), ...(prefix.length ? [process.execPath] : []), '--import', 'tsx', 'test/kernel/helpers/threads-child.ts', ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, HOME: '/tmp', ...env },
  });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Report;
}

for (const poller of ['loop', 'thread'] as const) {
  test(`with a reader open (${poller} poller): the other threads go idle, not the JS thread${poller === 'thread' ? ' nor the poller thread' : ''}; restore() gives their policy back`, () => {
    const r = child([], ['reader', pinDir], poller === 'thread' ? { BPFPIPE_POLLER: 'thread' } : {});
    // the main thread's readers are woken by Node's own event loop; the waker thread is the fallback
    assert.equal(r.pollers.length, poller === 'thread' ? 1 : 0);
    const keep = new Set([r.main, ...r.pollers]);
    const others = Object.keys(r.during).map(Number).filter((t) => !keep.has(t));
    assert.ok(others.length >= 1, 'a Node process has helper threads');
    for (const t of keep) assert.equal(r.during[t], SCHED_OTHER, `thread ${t} keeps SCHED_OTHER`);
    const idled = new Set(r.idled.map((t) => t.tid));
    for (const t of others) assert.ok(idled.has(t) && r.during[t] === SCHED_IDLE, `thread ${t} is SCHED_IDLE`);
    assert.equal(r.restoreError, undefined);
    for (const t of r.idled) if (r.after[t.tid] !== undefined) assert.equal(r.after[t.tid], t.policy, `thread ${t.tid} has its policy back`);
  });
}

test('without CAP_SYS_NICE restore() says which rule keeps the threads idle (EBPF_PERM)', () => {
  const r = child(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'], ['plain']);
  assert.deepEqual(r.pollers, []);
  assert.ok(r.idled.length >= 1);
  for (const t of r.idled) assert.equal(r.during[t.tid], SCHED_IDLE);
  assert.equal(r.during[r.main], SCHED_OTHER);
  assert.equal(r.restoreError?.code, 'EBPF_PERM');
  assert.match(r.restoreError!.message, /CAP_SYS_NICE/);
  for (const t of r.idled) if (r.after[t.tid] !== undefined) assert.equal(r.after[t.tid], SCHED_IDLE);
});

test('a reader that cannot keep up gives the event loop turns and the idled threads their policy back, until it waits again', () => {
  const r = child([], ['saturated', pinDir]) as unknown as {
    idled: { tid: number; policy: number }[];
    during: Record<string, number>[];
    after: Record<string, number>;
    timerMsAtDuring: number | null;
    duringMs: number;
    producer: { runs?: number; error?: string };
    batches: number;
  };
  assert.equal(r.producer.error, undefined);
  assert.ok(r.idled.length >= 1, 'a Node process has helper threads');
  assert.ok(r.during !== undefined && r.during.length >= 10, 'the burst lasted 100 ms past the first batch');
  // V8's helpers (its optimizing compiler among them) run while the JS thread is busy all the time
  // (the reader may catch up for a moment, and its helpers idle again: not at every batch)
  const lent = r.during.filter((p) => r.idled.every((t) => p[t.tid] === undefined || p[t.tid] === t.policy));
  assert.ok(lent.length >= r.during.length / 4, `the idled threads had their policy back at ${lent.length} of ${r.during.length} batches of the burst`);
  // and so do timers: the 20 ms one fired while the reader drained without waiting
  assert.ok(r.timerMsAtDuring !== null && r.timerMsAtDuring < r.duringMs, `the 20 ms timer fired during the burst (at ${r.timerMsAtDuring} ms)`);
  for (const t of r.idled) if (r.after[t.tid] !== undefined) assert.equal(r.after[t.tid], SCHED_IDLE, `thread ${t.tid} is idle again once the reader waits`);
});
