/**
 * A reader's counters. V8 stores an object's numbers as small integers while they are, and code that
 * adds to them is compiled for that: once a counter passes 2^31 (2 GiB of bytes received, or 2^31
 * events: minutes at full rate) the compiled code is thrown away, and the reader runs in V8's
 * interpreter while the ring fills. These counters are stored as floating point from the start.
 */
import type { ReaderStats } from './types.js';

export function newReaderStats(): ReaderStats {
  // (a fraction first: V8 then gives each field a floating-point representation, which it keeps)
  const s: ReaderStats = { received: 0.5, lost: 0.5, bytes: 0.5, batches: 0.5, wakeups: 0.5 };
  s.received = s.lost = s.bytes = s.batches = s.wakeups = 0;
  return s;
}
