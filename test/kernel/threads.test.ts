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
/** SCHED_FIFO | SCHED_RESET_ON_FORK, as sched_getscheduler reports it */
const SCHED_FIFO_RESET = 0x40000001;
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

test('realtime: the calling thread goes under SCHED_FIFO, threads it starts afterwards do not, the others idle; restore() gives every one its policy back', () => {
  const r = child([], ['realtime']) as unknown as Report & { realtime: { tid: number; policy: number }; error?: unknown };
  assert.equal(r.error, undefined);
  assert.deepEqual(r.realtime, { tid: r.main, policy: SCHED_OTHER });
  assert.equal(r.during[r.main], SCHED_FIFO_RESET);
  const idled = new Set(r.idled.map((t) => t.tid));
  assert.ok(!idled.has(r.main));
  for (const t of r.idled) if (r.during[t.tid] !== undefined) assert.equal(r.during[t.tid], SCHED_IDLE);
  // the worker's thread started after the call: SCHED_OTHER, not the JS thread's SCHED_FIFO
  const started = Object.keys(r.during).map(Number).filter((t) => t !== r.main && !idled.has(t));
  assert.ok(started.length >= 1, 'the worker started a thread');
  for (const t of started) assert.equal(r.during[t], SCHED_OTHER, `thread ${t} started under SCHED_OTHER`);
  assert.equal(r.after[r.main], SCHED_OTHER);
  for (const t of r.idled) if (r.after[t.tid] !== undefined) assert.equal(r.after[t.tid], t.policy);
});

test('realtime without CAP_SYS_NICE or RLIMIT_RTPRIO: EBPF_PERM naming both, and no thread changed', () => {
  const r = child(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'], ['realtime']) as unknown as Report & { error?: { code: string; message: string } };
  assert.equal(r.error?.code, 'EBPF_PERM');
  assert.match(r.error!.message, /CAP_SYS_NICE or RLIMIT_RTPRIO/);
  for (const [t, p] of Object.entries(r.after)) assert.equal(p, SCHED_OTHER, `thread ${t} unchanged`);
});

for (const realtime of [false, true]) {
test(`a reader that cannot keep up gives the event loop turns and the idled threads their policy back, until it waits again${realtime ? ' (realtime: the JS thread too)' : ''}`, () => {
  const r = child([], ['saturated', pinDir, ...(realtime ? ['realtime'] : [])]) as unknown as {
    realtime?: { tid: number; policy: number };
    initially: Record<string, number>;
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
  if (realtime) {
    // the JS thread leaves SCHED_FIFO with them (else they would not run while it is busy), and is back under it after
    const main = r.realtime!.tid;
    assert.equal(r.initially[main], SCHED_FIFO_RESET);
    for (const p of lent) assert.equal(p[main], SCHED_OTHER, 'the JS thread is under its own policy while the others are lent theirs');
    assert.equal(r.after[main], SCHED_FIFO_RESET, 'and under SCHED_FIFO again once the reader waits');
  }
});
}

for (const realtime of [false, true]) {
  test(`while the JS thread is busy all the time and its reader waits, the idled threads${realtime ? ' and the real-time JS thread' : ''} are back under their own policy; idle again once the loop is not busy`, () => {
    // (V8's sweeper can spin the JS thread so, waiting for a concurrent sweep on an idled helper)
    const r = child([], ['busy', pinDir, ...(realtime ? ['realtime'] : [])]) as unknown as {
      idled: { tid: number; policy: number }[];
      realtime?: { tid: number; policy: number };
      before: Record<string, number>;
      during: Record<string, number>[];
      after: Record<string, number>;
      closed: Record<string, number>;
    };
    const idledAs = (p: Record<string, number>, tid: number) => (r.realtime?.tid === tid ? SCHED_FIFO_RESET : SCHED_IDLE) === p[tid];
    const own = (p: Record<string, number>) => [...r.idled, ...(r.realtime ? [r.realtime] : [])].every((t) => p[t.tid] === undefined || p[t.tid] === t.policy);
    for (const t of Object.keys(r.before).map(Number)) assert.ok(idledAs(r.before, t), `thread ${t} idled before the loop is busy`);
    assert.ok(r.during.length >= 50, `the busy loop was sampled (${r.during.length} times)`);
    // from the watchdog's second window on (10 ms each), at the latest
    const late = r.during.slice(Math.floor(r.during.length / 3));
    assert.ok(late.every(own), `own policies in ${late.filter(own).length} of ${late.length} samples of the busy loop's last two thirds`);
    for (const t of Object.keys(r.after).map(Number)) assert.ok(idledAs(r.after, t), `thread ${t} idled again after the busy loop`);
    for (const t of Object.keys(r.closed).map(Number)) assert.ok(idledAs(r.closed, t), `thread ${t} idled after the reader closed`);
  });
}
