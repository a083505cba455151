import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerfRing } from './perf-ring.js';
import { RingbufRing } from './ringbuf-ring.js';
import { MAX_RING_BYTES } from './ring-position.js';
import { pageSize } from '../sys/index.js';
import { BpfpipeError } from '../errors.js';

// Rings past MAX_RING_BYTES are refused before anything is opened (the in-place parsers count in
// int32 offsets): no kernel needed for these.
test('a perf ring larger than the limit is a usage error naming pagesPerCpu', () => {
  const pages = (MAX_RING_BYTES / pageSize()) * 2;
  assert.throws(
    () => new PerfRing({ cpu: 0, slot: 0, pages, timestamps: false }),
    (e) => e instanceof BpfpipeError && e.code === 'EBPF_USAGE' && /pagesPerCpu/.test(e.message),
  );
});

test('a ring buffer larger than the limit is refused as not supported, naming max_entries', () => {
  assert.throws(
    () => new RingbufRing(-1, MAX_RING_BYTES * 2),
    (e) => e instanceof BpfpipeError && e.code === 'EBPF_NOTSUP' && /max_entries/.test(e.message),
  );
});
