/** RunClock: the run's time as int32 halves equals CLOCK_MONOTONIC (process.hrtime.bigint) at the read. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunClock } from './clock.js';

const TWO32 = 1n << 32n;
const value = (c: RunClock) => BigInt(c.hi >>> 0) * TWO32 + BigInt(c.lo >>> 0);

/** Read `c` for a new run, bracketed by the monotonic clock. */
function bracketed(c: RunClock): void {
  const before = process.hrtime.bigint();
  c.begin(undefined);
  c.read();
  const after = process.hrtime.bigint();
  const v = value(c);
  assert.ok(v >= before && v <= after, `${v} within [${before}, ${after}]`);
}

test('the clock read is the monotonic time, once per run; a capture time given is the run time', () => {
  const c = new RunClock();
  for (let i = 0; i < 1000; i++) bracketed(c);
  // read twice in a run: the same time
  c.begin(undefined);
  c.read();
  const first = value(c);
  const spin = process.hrtime.bigint() + 100_000n;
  while (process.hrtime.bigint() < spin);
  c.read();
  assert.equal(value(c), first);
  c.begin(0x1_2345_6789_abcdn);
  c.read();
  assert.equal(value(c), 0x1_2345_6789_abcdn);
});

test('the high half is the clock\'s: a time above 2^32 ns reads back whole', () => {
  // CLOCK_MONOTONIC is above 2^32 ns (4.3 s) on any machine that has run the tests this far
  const c = new RunClock();
  c.begin(undefined);
  c.read();
  assert.ok(c.hi !== 0, 'the high half is set');
  bracketed(c);
});
