/**
 * The codec's pieces against hand-written bytes: attributes and nesting, acks with extended ack
 * TLVs (capped and not), NLMSG_DONE with an error, interrupted dumps, overruns, the streaming decoder
 * with unaligned lengths, and malformed input (only NetlinkError, never a RangeError).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NetlinkError } from '../errors.js';
import {
  NlWriter, Attrs, parseAttrs, beginMessage, finishMessage, parseMessages, decodeAck, decodeDone, NetlinkStreamDecoder,
  ReplyCollector, decodeFilter, decodeQdisc, decodeLink, tcHandle, formatTcHandle, clsactParent, clsactDirection, filterInfo,
  decodeFilterInfo, encodeBpfFilterAdd, NLA_F_NESTED,
} from './index.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g) ?? [], (x) => parseInt(x, 16));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('attributes: integers, strings, nesting with and without NLA_F_NESTED, padding', () => {
  const w = new NlWriter(4); // grows
  w.u8(1, 0xab).u16(2, 0x1234).u32(3, 0xdeadbeef).string(4, 'bpf').nested(5, (n) => n.u32(1, 7).string(2, 'x'));
  w.nested(6, (n) => n.u64(1, 0x0102030405060708n), false);
  assert.equal(toHex(w.finish()), toHex(hex(`
    0500 0100 ab000000
    0600 0200 3412 0000
    0800 0300 efbeadde
    0800 0400 62706600
    1400 0580 0800 0100 07000000 0600 0200 7800 0000
    1000 0600 0c00 0100 0807060504030201`)));
  const a = new Attrs(w.finish());
  assert.deepEqual([a.u8(1), a.u16(2), a.u32(3), a.str(4)], [0xab, 0x1234, 0xdeadbeef, 'bpf']);
  assert.deepEqual([a.nested(5)!.u32(1), a.nested(5)!.str(2)], [7, 'x']);
  assert.equal(a.nested(6)!.u64(1), 0x0102030405060708n);
  assert.deepEqual(a.list.map((x) => [x.type, x.nested]), [[1, false], [2, false], [3, false], [4, false], [5, true], [6, false]]);
  assert.equal(a.get(99), undefined);
  assert.equal(a.u32(99), undefined);
  // A too-short integer attribute is malformed.
  assert.throws(() => new Attrs(hex('0500 0300 01000000')).u32(3), NetlinkError);
  // The last of a repeated attribute wins (as in the kernel's nla_parse).
  assert.equal(new Attrs(hex('0800 0100 01000000 0800 0100 02000000')).u32(1), 2);
  assert.throws(() => new NlWriter().attr(NLA_F_NESTED, new Uint8Array(0)), NetlinkError);
});

test('attributes: bad lengths are NetlinkError', () => {
  assert.throws(() => parseAttrs(hex('0300 0100')), /length 3/);
  assert.throws(() => parseAttrs(hex('0c00 0100 00000000')), /length 12/);
  assert.throws(() => parseAttrs(hex('0800 0100 00000000 0400')), /stray bytes/);
  assert.deepEqual(parseAttrs(hex('')), []);
});

test('message header and length; parseMessages refuses truncated datagrams', () => {
  const w = beginMessage({ type: 0x2c, flags: 0x0605, seq: 0x01020304 });
  w.raw(hex('01')).u32(1, 5);
  const m = finishMessage(w);
  assert.equal(toHex(m), toHex(hex('1c000000 2c00 0506 04030201 00000000 01000000 0800 0100 05000000')));
  const [p] = parseMessages(m);
  assert.deepEqual({ length: p!.length, type: p!.type, flags: p!.flags, seq: p!.seq, pid: p!.pid }, { length: 28, type: 0x2c, flags: 0x605, seq: 0x01020304, pid: 0 });
  assert.throws(() => parseMessages(m.subarray(0, 27)), NetlinkError);
  assert.throws(() => parseMessages(hex('08000000 0200 0000 00000000 00000000')), /nlmsg_len 8/);
  assert.throws(() => parseMessages(hex('1000 0000')), NetlinkError);
});

// An error ack as our socket gets it (NETLINK_CAP_ACK + NETLINK_EXT_ACK): error -22, the request's
// header only, flags CAPPED|ACK_TLVS, then MSG "Invalid handle", OFFS 36 and MISS_TYPE 1.
const cappedError = hex(`
  48000000 0200 0003 07000000 d2040000
  eaffffff
  2c000000 2d00 0500 07000000 00000000
  1300 0100 496e76616c69642068616e646c6500 00
  0800 0200 24000000
  0800 0500 01000000`);

test('ack: capped error with extended ack TLVs (message, offset, missing attribute)', () => {
  const [m] = parseMessages(cappedError);
  const a = decodeAck(m!);
  assert.equal(a.errno, 22);
  assert.equal(a.capped, true);
  assert.deepEqual({ type: a.request.type, seq: a.request.seq, length: a.request.length }, { type: 0x2d, seq: 7, length: 0x2c });
  assert.deepEqual(a.extack, { message: 'Invalid handle', offset: 36, missingType: 1 });
  const c = new ReplyCollector(7, false, 'deleting the filter');
  assert.throws(() => c.feed(m!), (e: unknown) =>
    e instanceof NetlinkError && e.errno === 22 && e.extack === 'Invalid handle' &&
    e.message === 'deleting the filter failed: EINVAL (Invalid argument): Invalid handle (at byte 36 of the request)');
});

test('ack: success ack, with a warning TLV; an ack for another sequence number is ignored', () => {
  const ok = hex('24000000 0200 0001 05000000 d2040000 00000000 1c000000 2400 0506 05000000 00000000');
  const a = decodeAck(parseMessages(ok)[0]!);
  assert.deepEqual([a.errno, a.capped, a.extack], [0, true, undefined]);
  const c = new ReplyCollector(6, false, 'x');
  assert.equal(c.feed(parseMessages(ok)[0]!), false);
  assert.equal(c.done, false);
  const c5 = new ReplyCollector(5, false, 'x');
  assert.equal(c5.feed(parseMessages(ok)[0]!), true);
  const warn = hex('30000000 0200 0003 05000000 d2040000 00000000 1c000000 2400 0506 05000000 00000000 0a00 0100 7761726e00 00 0000');
  const cw = new ReplyCollector(5, false, 'x');
  assert.equal(cw.feed(parseMessages(warn)[0]!), true);
  assert.equal(cw.warning?.message, 'warn');
  assert.throws(() => decodeAck(parseMessages(hex('14000000 0200 0000 05000000 00000000 00000000'))[0]!), NetlinkError);
});

test('dump: parts, NLMSG_DONE with an error and its text, interrupted dumps, overruns', () => {
  const part = hex('24000000 2400 0200 09000000 d2040000 00000000 03000000 0000ffff f1ffffff 00000000');
  const doneOk = hex('14000000 0300 0200 09000000 d2040000 00000000');
  const doneErr = hex('24000000 0300 0202 09000000 d2040000 fcffffff 0f00 0100 7374616c6520696e666f00 00');
  const c = new ReplyCollector(9, true, 'dumping qdiscs');
  assert.equal(c.feed(parseMessages(part)[0]!), false);
  assert.equal(c.feed(parseMessages(doneOk)[0]!), true);
  assert.equal(c.messages.length, 1);
  assert.deepEqual(decodeDone(parseMessages(doneErr)[0]!), { errno: 4, extack: { message: 'stale info' } });
  const c2 = new ReplyCollector(9, true, 'dumping qdiscs');
  c2.feed(parseMessages(part)[0]!);
  assert.throws(() => c2.feed(parseMessages(doneErr)[0]!), (e: unknown) => e instanceof NetlinkError && e.errno === 4 && /EINTR.*stale info/.test(e.message));
  // NLM_F_DUMP_INTR (0x10) on a part: the caller must dump again.
  const intr = part.slice();
  intr[6] = 0x12;
  const c3 = new ReplyCollector(9, true, 'd');
  c3.feed(parseMessages(intr)[0]!);
  assert.equal(c3.interrupted, true);
  // A plain request ignores NLMSG_DONE; NLMSG_OVERRUN fails.
  assert.equal(new ReplyCollector(9, false, 'd').feed(parseMessages(doneOk)[0]!), false);
  assert.throws(() => new ReplyCollector(9, true, 'd').feed(parseMessages(hex('10000000 0400 0000 09000000 00000000'))[0]!), /overrun/);
});

test('stream decoder: unaligned message lengths, padding that arrives later, truncated ends', () => {
  // Two messages of length 17 (padded to 20) and 16.
  const a = hex('11000000 1000 0000 01000000 00000000 aa 000000');
  const b = hex('10000000 1000 0000 02000000 00000000');
  const all = new Uint8Array([...a, ...b]);
  for (let k = 0; k <= all.byteLength; k++) {
    for (let j = k; j <= all.byteLength; j++) {
      const s = new NetlinkStreamDecoder();
      const got = [...s.push(all.subarray(0, k)), ...s.push(all.subarray(k, j)), ...s.push(all.subarray(j))];
      s.end();
      assert.deepEqual(got.map((m) => [m.seq, m.length, toHex(m.payload)]), [[1, 17, 'aa'], [2, 16, '']], `${k},${j}`);
    }
  }
  const s = new NetlinkStreamDecoder();
  s.push(all.subarray(0, 10));
  assert.equal(s.buffered, 10);
  assert.throws(() => s.end(), /truncated/);
  assert.throws(() => new NetlinkStreamDecoder().push(hex('04000000 0000 0000 00000000 00000000')), /nlmsg_len 4/);
});

test('tc handles, clsact parents, priority and protocol in tcm_info', () => {
  assert.equal(clsactParent('ingress'), 0xfffffff2);
  assert.equal(clsactParent('egress'), 0xfffffff3);
  assert.equal(formatTcHandle(clsactParent('egress')), 'ffff:fff3');
  assert.equal(tcHandle(0xffff0000, 0), 0xffff0000);
  assert.equal(clsactDirection(0xfffffff2), 'ingress');
  assert.equal(clsactDirection(0xfffffff1), undefined);
  // prio 7, ETH_P_ALL (0x0003) in network order: bytes 00 03 07 00 on the wire.
  assert.equal(filterInfo(7, 3), 0x00070300);
  assert.deepEqual(decodeFilterInfo(0xc0000300), { priority: 49152, protocol: 3 });
  assert.deepEqual(decodeFilterInfo(filterInfo(65535, 0x86dd)), { priority: 65535, protocol: 0x86dd });
  assert.throws(() => filterInfo(65536, 3), NetlinkError);
  assert.throws(() => filterInfo(1, -1), NetlinkError);
});

test('filter add: name limits', () => {
  const base = { ifindex: 1, parent: clsactParent('ingress'), priority: 1, handle: 1, fd: 3 };
  assert.throws(() => encodeBpfFilterAdd({ ...base, name: 'x'.repeat(256) }, { seq: 1 }), NetlinkError);
  assert.throws(() => encodeBpfFilterAdd({ ...base, name: 'a\0b' }, { seq: 1 }), NetlinkError);
  const m = encodeBpfFilterAdd({ ...base, name: 'bpfpipe:x', directAction: false, chain: 2, classid: 0x10001 }, { seq: 1 });
  const f = decodeFilter(parseMessages(m)[0]!);
  assert.deepEqual(f.bpf, { name: 'bpfpipe:x', id: undefined, tag: undefined, directAction: false, flagsGen: undefined, classid: 0x10001 });
  assert.equal(f.chain, 2);
});

test('decoders on random bytes throw only NetlinkError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 96 }), fc.integer({ min: 0, max: 0xffff }), (body, flags) => {
      const msg = { length: 16 + body.byteLength, type: 0x2c, flags, seq: 1, pid: 0, payload: body };
      const attempts: (() => unknown)[] = [
        () => decodeFilter(msg), () => decodeQdisc(msg), () => decodeLink(msg), () => decodeAck(msg), () => decodeDone(msg),
        () => parseMessages(body), () => new Attrs(body).nested(1)?.str(2),
      ];
      for (const attempt of attempts) {
        try {
          attempt();
        } catch (e) {
          if (!(e instanceof NetlinkError)) throw e;
        }
      }
      const s = new NetlinkStreamDecoder();
      try {
        s.push(body);
        s.end();
      } catch (e) {
        if (!(e instanceof NetlinkError)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
});
