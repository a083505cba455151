import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { readCapture, readCaptureStream, PcapngWriter, LINKTYPE_ETHERNET } from './index.js';
import { BpfpipeError } from '../errors.js';
import { FRAMES, text2pcap, tshark, tsharkFrames, tmpdir, hasTool } from './test-support/fixtures.js';

const tools = hasTool('text2pcap') && hasTool('tshark');
const skip = tools ? false : 'text2pcap/tshark missing (apt-get install -y tshark)';

function isTyped(e: unknown): boolean {
  return e instanceof BpfpipeError && e.code === 'EBPF_BAD_INPUT';
}

test('pcap and pcapng written by text2pcap read back as tshark reads them', { skip }, () => {
  for (const pcapng of [false, true]) {
    const dir = tmpdir();
    try {
      const file = path.join(dir, pcapng ? 'c.pcapng' : 'c.pcap');
      fs.writeFileSync(file, text2pcap(FRAMES.map((f) => f.bytes), pcapng));
      const recs = [...readCapture(fs.readFileSync(file))];
      const theirs = tsharkFrames(file);
      assert.equal(recs.length, FRAMES.length);
      recs.forEach((r, i) => {
        assert.deepEqual([...r.data], FRAMES[i]!.bytes, `${pcapng ? 'pcapng' : 'pcap'} frame ${i}`);
        assert.equal(r.linkType, LINKTYPE_ETHERNET);
        assert.equal(r.origLen, theirs[i]!.len);
        assert.equal(r.timestampNs, theirs[i]!.ns);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('the committed fixtures (pcap µs and ns, pcapng, snap length, two sections) read as tshark reads them', { skip }, () => {
  const dir = path.join(import.meta.dirname, 'testdata');
  const files = fs.readdirSync(dir).filter((n) => /\.(pcap|pcapng)$/.test(n));
  assert.ok(files.length >= 5, `fixtures: ${files.join(', ')}`);
  for (const name of files) {
    const file = path.join(dir, name);
    const ours = [...readCapture(fs.readFileSync(file))];
    const theirs = tsharkFrames(file);
    assert.equal(ours.length, theirs.length, name);
    ours.forEach((r, i) => {
      assert.equal(r.origLen, theirs[i]!.len, `${name} #${i} len`);
      assert.equal(r.data.byteLength, theirs[i]!.cap, `${name} #${i} cap`);
      assert.equal(r.timestampNs, theirs[i]!.ns, `${name} #${i} time`);
    });
  }
});

test('a big-endian pcap built byte by byte', () => {
  const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  const u16 = (n: number) => [(n >>> 8) & 255, n & 255];
  const pkt = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const bytes = new Uint8Array([
    ...u32(0xa1b2c3d4), ...u16(2), ...u16(4), ...u32(0), ...u32(0), ...u32(65535), ...u32(1),
    ...u32(1600000000), ...u32(250000), ...u32(pkt.length), ...u32(60), ...pkt,
  ]);
  const [r, ...rest] = [...readCapture(bytes)];
  assert.equal(rest.length, 0);
  assert.deepEqual([...r!.data], pkt);
  assert.equal(r!.origLen, 60);
  assert.equal(r!.timestampNs, 1600000000_250000000n);
});

test('our pcapng opens in tshark with the same packets, times, lengths and comments', { skip }, async () => {
  const dir = tmpdir();
  try {
    const chunks: Uint8Array[] = [];
    const w = new PcapngWriter((c) => void chunks.push(c));
    const id = w.addInterface({ name: 'veth0', linkType: LINKTYPE_ETHERNET });
    FRAMES.forEach((f, i) =>
      w.writePacket({
        interfaceId: id,
        timestampNs: 1700000000_123456789n + BigInt(i),
        data: new Uint8Array(f.bytes.slice(0, 40)),
        originalLength: f.bytes.length,
        comment: JSON.stringify({ cpu: i % 2, event: { seq: i, name: 'é' } }),
        direction: i % 2 ? 'outbound' : 'inbound',
      }),
    );
    await w.flush();
    const file = path.join(dir, 'out.pcapng');
    fs.writeFileSync(file, Buffer.concat(chunks));
    const pkts = tshark(file);
    assert.equal(pkts.length, FRAMES.length);
    pkts.forEach((p, i) => {
      const frame = p._source.layers.frame as Record<string, unknown>;
      assert.equal(frame['frame.time_epoch'], `1700000000.${String(123456789 + i).padStart(9, '0')}`);
      assert.equal(frame['frame.len'], String(FRAMES[i]!.bytes.length));
      assert.equal(frame['frame.cap_len'], String(Math.min(40, FRAMES[i]!.bytes.length)));
      const comment = JSON.stringify(p._source.layers.frame_comment ?? p._source.layers.pkt_comment ?? frame);
      assert.ok(comment.includes(`\\"seq\\":${i}`), `comment of frame ${i}: ${comment.slice(0, 200)}`);
    });
    // And our reader agrees.
    const back = [...readCapture(fs.readFileSync(file))];
    assert.deepEqual(back.map((r) => r.timestampNs), FRAMES.map((_, i) => 1700000000_123456789n + BigInt(i)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('streaming reads give the same records for any chunking', { skip }, async () => {
  const bytes = text2pcap(FRAMES.map((f) => f.bytes), true);
  const whole = [...readCapture(bytes)].map((r) => [...r.data]);
  for (const size of [1, 3, 7, 64, 1000]) {
    async function* chunks() {
      for (let o = 0; o < bytes.byteLength; o += size) yield bytes.subarray(o, o + size);
    }
    const got: number[][] = [];
    for await (const r of readCaptureStream(chunks())) got.push([...r.data]);
    assert.deepEqual(got, whole, `chunks of ${size}`);
  }
});

test('truncation at every offset: a typed error or the records before the cut', { skip }, () => {
  for (const pcapng of [false, true]) {
    const bytes = text2pcap(FRAMES.map((f) => f.bytes), pcapng);
    const whole = [...readCapture(bytes)].map((r) => [...r.data]);
    for (let cut = 0; cut < bytes.byteLength; cut++) {
      let got: number[][];
      try {
        got = [...readCapture(bytes.subarray(0, cut))].map((r) => [...r.data]);
      } catch (e) {
        assert.ok(isTyped(e), `cut at ${cut}: ${String(e)}`);
        assert.match((e as Error).message, /at byte \d+/);
        continue;
      }
      // A cut on a record boundary is a shorter, valid capture.
      assert.ok(got.length < whole.length, `cut at ${cut} lost nothing`);
      assert.deepEqual(got, whole.slice(0, got.length));
    }
  }
});

test('mutated captures: typed errors or records, nothing else, no huge allocations', { skip }, () => {
  const seeds = [text2pcap(FRAMES.map((f) => f.bytes), false), text2pcap(FRAMES.map((f) => f.bytes), true)];
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (which, edits) => {
      const b = new Uint8Array(seeds[which]!);
      for (const [at, val] of edits) b[at % b.byteLength] = val;
      try {
        for (const r of readCapture(b)) assert.ok(r.data.byteLength <= b.byteLength);
      } catch (e) {
        if (!isTyped(e)) throw e;
      }
    }),
    { numRuns: Number(process.env.BPFPIPE_FUZZ_RUNS ?? 3000), seed: 1 },
  );
});
