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

test('the low half carries into the high half, and the base second moves on after a few seconds', () => {
  const c = new RunClock();
  const priv = c as unknown as { s0: number; bl: number; bh: number };
  // a base whose low half is just below 2^32: the offset from it carries
  const base = BigInt(priv.s0) * 1_000_000_000n;
  const shift = (TWO32 - 1n) - (base & (TWO32 - 1n));
  priv.bl = Number((base + shift) & (TWO32 - 1n));
  priv.bh = Number((base + shift) >> 32n);
  c.begin(undefined);
  c.read();
  const now = process.hrtime.bigint();
  const v = value(c) - shift;
  assert.ok(v <= now && now - v < 1_000_000_000n, 'carried into the high half');
  // a base second far in the past (as after a long idle): rebased, still exact
  const fresh = new RunClock();
  (fresh as unknown as { s0: number }).s0 -= 10;
  bracketed(fresh);
  assert.ok((fresh as unknown as { s0: number }).s0 >= Number(process.hrtime()[0]) - 1, 'rebased');
});
