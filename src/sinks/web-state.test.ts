import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebState } from './web-state.js';
import { batchOf } from '../ring/batch-builder.js';
import type { StructDecoder } from '../ring/struct-decoder.js';

const decoder: StructDecoder = { size: 4, decode: (v, o) => ({ port: v.getUint16(o, true) }) };
const ev = (cpu: number, slot: number, port: number) => {
  const data = new Uint8Array(4); // exactly the struct: no packet bytes
  new DataView(data.buffer).setUint16(0, port, true);
  return { cpu, slot, data };
};

test('web state: totals, rates per tick, rings by channel, the latest events as records, top values', () => {
  const s = new WebState({ ncpu: 2, field: 'port', latest: 3 });
  s.tick(1000);
  s.write(batchOf([ev(0, 0, 80), ev(1, 3, 443), ev(0, 0, 80), ev(1, 3, 80), { cpu: 1, slot: 3, lost: 4 }], decoder, false));
  const t = s.tick(1500);
  assert.equal(t.received, 4);
  assert.equal(t.lost, 4);
  assert.equal(t.rate, 8);
  assert.equal(t.lostRate, 8);
  assert.deepEqual(t.rings, [
    { cpu: 0, channel: 0, slot: 0, received: 2, lost: 0 },
    { cpu: 1, channel: 1, slot: 3, received: 2, lost: 4 },
  ]);
  // The last `latest` samples, then the loss notice (records as in --format json, with the slot).
  assert.deepEqual(t.events, [
    { cpu: 1, slot: 3, event: { port: 443 } },
    { cpu: 0, slot: 0, event: { port: 80 } },
    { cpu: 1, slot: 3, event: { port: 80 } },
    { cpu: 1, slot: 3, lost: 4 },
  ].slice(-3));
  assert.deepEqual(t.top, { field: 'port', total: 4, values: [{ value: '80', count: 3, error: 0 }, { value: '443', count: 1, error: 0 }] });
  // Nothing new: no events, rate 0; a browser that connects now gets the history and the latest events.
  const t2 = s.tick(2000);
  assert.deepEqual(t2.events, []);
  assert.equal(t2.rate, 0);
  const h = s.hello('x');
  assert.equal(h.history.length, 3);
  assert.equal(h.events.length, 3);
  assert.equal(h.ncpu, 2);
});
