/**
 * The userspace runtime's readers publish the same diagnostics_channel messages as the kernel's
 * (open, every drain, every loss, close with the final counts), and the channel names are the
 * documented ones. No kernel needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import diagnostics_channel from 'node:diagnostics_channel';
import { channels, type ReaderOpenMessage, type ReaderDrainMessage, type ReaderLostMessage, type ReaderCloseMessage } from '../index.js';
import { Runtime } from './runtime.js';
import { packetCorpus } from '../../test/support/packets.js';

const corpus = packetCorpus();

test('the channel names are stable', () => {
  assert.deepEqual(Object.values(channels).sort(), [
    'bpfpipe:program:load',
    'bpfpipe:reader:close',
    'bpfpipe:reader:drain',
    'bpfpipe:reader:lost',
    'bpfpipe:reader:open',
    'bpfpipe:tc:attach',
    'bpfpipe:tc:detach',
  ]);
});

test('runtime readers: open, drains, losses and close add up to the reader counts', async () => {
  const got = { open: [] as ReaderOpenMessage[], drain: [] as ReaderDrainMessage[], lost: [] as ReaderLostMessage[], close: [] as ReaderCloseMessage[] };
  const subs: [string, (m: unknown) => void][] = [
    [channels.readerOpen, (m) => got.open.push(m as ReaderOpenMessage)],
    [channels.readerDrain, (m) => got.drain.push(m as ReaderDrainMessage)],
    [channels.readerLost, (m) => got.lost.push(m as ReaderLostMessage)],
    [channels.readerClose, (m) => got.close.push(m as ReaderCloseMessage)],
  ];
  for (const [name, f] of subs) diagnostics_channel.subscribe(name, f);
  try {
    const rt = Runtime.load(fs.readFileSync('bpf/ringbuf_events.bpf.o'), { programs: ['rb_reserve'] });
    // a ring of 1 KiB: most of the outputs do not fit and are reported lost
    const r = rt.openEvents('rb', { ringBytes: 1024 });
    const it = r.batches()[Symbol.asyncIterator]();
    for (const p of corpus) rt.program('rb_reserve').run(p.data);
    await it.next(); // one drain while open
    for (const p of corpus) rt.program('rb_reserve').run(p.data);
    await r.close();
    assert.equal(got.close.length, 0, 'not yet: records are still to be delivered');
    while (!(await it.next()).done);
    assert.equal(got.open.length, 1);
    assert.deepEqual([got.open[0]!.reader, got.open[0]!.where, got.open[0]!.kind, got.open[0]!.slots], [r, 'runtime', 'ringbuf', []]);
    assert.ok(got.drain.length >= 2);
    assert.ok(got.drain.every((d) => d.reader === r && d.cause === 'data'));
    const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0);
    assert.ok(r.stats.received > 0 && r.stats.lost > 0, `some delivered and some lost: ${JSON.stringify(r.stats)}`);
    assert.equal(r.stats.received + r.stats.lost, 2 * corpus.length);
    assert.equal(sum(got.drain, (d) => d.events), r.stats.received);
    assert.equal(sum(got.drain, (d) => d.lost), r.stats.lost);
    assert.equal(sum(got.drain, (d) => d.bytes), r.stats.bytes);
    assert.equal(sum(got.lost, (l) => l.lost), r.stats.lost);
    assert.ok(got.lost.every((l) => l.source === 'ring' && l.where === 'runtime'));
    assert.equal(got.close.length, 1);
    assert.deepEqual(got.close[0]!.stats, { ...r.stats });
  } finally {
    for (const [name, f] of subs) diagnostics_channel.unsubscribe(name, f);
  }
});
