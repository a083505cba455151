import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LossReport } from './loss-report.js';
import type { Lost } from './types.js';

/** A drops source whose counters the test sets. */
function counters(initial: [number, bigint][]) {
  const m = new Map(initial);
  return { values: m, source: { read: () => new Map(m), close: () => {} } };
}

test('perf: drops before the reader attached are nobody\'s; records and counters report each lost sample once, on its CPU', () => {
  const c = counters([[4, 10n], [5, 0n]]);
  const r = new LossReport(c.source, (slot) => slot - 4);
  r.baseline();
  assert.equal(r.poll([]), 0, 'the baseline');
  c.values.set(4, 13n);
  const out: Lost[] = [];
  assert.equal(r.poll(out), 3);
  assert.deepEqual(out, [{ cpu: 0, slot: 4, lost: 3 }]);
  assert.equal(r.fromRecord(4, 0, 2), undefined, 'the lost record tells what the counter told already');
  assert.deepEqual(r.fromRecord(4, 0, 2), { cpu: 0, slot: 4, lost: 1 }, 'records now say more (4 > 3)');
  assert.deepEqual(r.fromRecord(5, 1, 7), { cpu: 1, slot: 5, lost: 7 });
  c.values.set(5, 7n);
  assert.equal(r.poll([]), 0, 'the counter catching up adds nothing');
});

test('ring buffer: notices carry CPU 0 and no slot; no counters, nothing to poll', () => {
  const c = counters([[0, 5n]]);
  const r = new LossReport(c.source, undefined);
  r.baseline();
  c.values.set(0, 9n);
  const out: Lost[] = [];
  assert.equal(r.poll(out), 4);
  assert.deepEqual(out, [{ cpu: 0, lost: 4 }]);
  assert.equal(new LossReport(undefined, undefined).poll([]), 0);
});
