/** WakeupMode: per-sample wake-ups below 1 sample/ms, watermark wake-ups above 2/ms, at once for a burst. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WakeupMode, BURST } from './wakeup-mode.js';

function mode(): { m: WakeupMode; applied: boolean[] } {
  const applied: boolean[] = [];
  return { m: new WakeupMode(10, (e) => applied.push(e), 0, true), applied };
}

test('eager while slow; a window above 2 samples/ms ends it, one at or below keeps it', () => {
  const { m, applied } = mode();
  for (let t = 1; t <= 10; t++) m.drained(2, t); // 20 samples in 10 ms: 2/ms, not above
  assert.equal(m.eager, true);
  for (let t = 11; t <= 20; t++) m.drained(3, t); // 3/ms
  assert.equal(m.eager, false);
  assert.deepEqual(applied, [false]);
});

test('watermark mode until a window is below 1 sample/ms (hysteresis between 1 and 2)', () => {
  const { m, applied } = mode();
  m.drained(BURST, 1);
  assert.equal(m.eager, false, 'a burst ends per-sample wake-ups at once');
  m.drained(15, 11); // 15 samples in 10 ms: 1.5/ms, between the thresholds
  assert.equal(m.eager, false);
  m.drained(9, 21); // 0.9/ms
  assert.equal(m.eager, true);
  m.drained(BURST - 1, 22);
  assert.equal(m.eager, true, 'below a burst, within the window: no change yet');
  assert.deepEqual(applied, [false, true]);
});

test('nothing is decided before a window has passed; empty drains count as time without samples', () => {
  const { m, applied } = mode();
  m.drained(BURST, 1);
  m.drained(0, 5);
  assert.equal(m.eager, false);
  m.drained(0, 12);
  assert.equal(m.eager, true);
  assert.deepEqual(applied, [false, true]);
});

test('stop(): back to watermark wake-ups when no loop waits', () => {
  const { m, applied } = mode();
  m.stop(3);
  assert.equal(m.eager, false);
  m.stop(4);
  assert.deepEqual(applied, [false], 'applied once');
});
