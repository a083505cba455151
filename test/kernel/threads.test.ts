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
